package sdp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

func sdpAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestSDPParsePhones(t *testing.T) {
	tel := func(pt uint8, rate uint32, fmtp string) audio.Codec {
		return audio.Codec{Name: "telephone-event", PayloadType: pt, ClockRate: rate, Channels: 1, Fmtp: fmtp}
	}
	tests := []struct {
		name string
		in   string
		want *sdp.SessionDescription
	}{
		{
			name: "linphone LF only, session attribute dropped, rtcp-fb kept",
			in:   sdpSeedLinphone,
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "alice", SessionID: 1234, SessionVersion: 5678, AddressType: "IP4", Address: "192.168.1.10"},
				SessionName: "Talk",
				Connection:  sdpAddr("192.168.1.10"),
				Media: []sdp.MediaDescription{{
					Type: "audio", Port: 7078, Proto: "RTP/AVP",
					Formats: []audio.Codec{
						{Name: "opus", PayloadType: 96, ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"},
						{Name: "speex", PayloadType: 97, ClockRate: 16000, Channels: 1, Fmtp: "vbr=on"},
						{Name: "speex", PayloadType: 98, ClockRate: 8000, Channels: 1, Fmtp: "vbr=on"},
						audio.PCMU(),
						audio.PCMA(),
						{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1, Fmtp: "annexb=yes"},
						tel(101, 48000, ""),
						tel(99, 16000, ""),
						tel(100, 8000, ""),
					},
					Connection: sdpAddr("192.168.1.10"),
					Attributes: []sdp.Attribute{{Key: "rtcp-fb", Value: "* trr-int 1000"}, {Key: "rtcp-fb", Value: "* ccm tmmbr"}},
				}},
			},
		},
		{
			name: "baresip rtcp-mux ptime, b= dropped",
			in:   sdpSeedBaresip,
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "-", SessionID: 2890844526, SessionVersion: 2890844526, AddressType: "IP4", Address: "10.0.0.5"},
				SessionName: "-",
				Connection:  sdpAddr("10.0.0.5"),
				Media: []sdp.MediaDescription{{
					Type: "audio", Port: 10000, Proto: "RTP/AVP",
					Formats:    []audio.Codec{audio.PCMU(), audio.PCMA(), tel(101, 8000, "0-15")},
					Connection: sdpAddr("10.0.0.5"),
					RTCPMux:    true,
					Ptime:      20,
					Attributes: []sdp.Attribute{{Key: "label", Value: "1"}},
				}},
			},
		},
		{
			name: "asterisk with disabled video",
			in:   sdpSeedAsterisk,
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "-", SessionID: 1673423, SessionVersion: 1673425, AddressType: "IP4", Address: "203.0.113.1"},
				SessionName: "Asterisk",
				Connection:  sdpAddr("203.0.113.1"),
				Media: []sdp.MediaDescription{
					{
						Type: "audio", Port: 14582, Proto: "RTP/AVP",
						Formats: []audio.Codec{
							audio.PCMU(), audio.PCMA(),
							{Name: "GSM", PayloadType: 3, ClockRate: 8000, Channels: 1},
							{Name: "G722", PayloadType: 9, ClockRate: 8000, Channels: 1},
							tel(101, 8000, "0-16"),
						},
						Connection: sdpAddr("203.0.113.1"),
						Ptime:      20,
						MaxPtime:   150,
					},
					{
						Type: "video", Port: 0, Proto: "RTP/AVP",
						Formats:    []audio.Codec{{Name: "H263", PayloadType: 34, ClockRate: 90000, Channels: 1}},
						Connection: sdpAddr("203.0.113.1"),
					},
				},
			},
		},
		{
			name: "desk phone: lines out of order, media c= after a=, session sendonly, static types without rtpmap",
			in:   sdpSeedOutOfOrder,
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "user", SessionID: 1, SessionVersion: 1, AddressType: "IP4", Address: "10.1.1.1"},
				SessionName: "SIP Call",
				Connection:  sdpAddr("10.1.1.1"),
				Media: []sdp.MediaDescription{{
					Type: "audio", Port: 5004, Proto: "RTP/AVP",
					Formats: []audio.Codec{
						{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1, Fmtp: "annexb=no"},
						audio.PCMU(),
						tel(101, 8000, ""),
					},
					Connection: sdpAddr("10.1.1.2"),
					Direction:  sdp.SendOnly,
				}},
			},
		},
		{
			name: "IPv6 with a=rtcp address and a T.38 image line",
			in:   sdpSeedIPv6T38,
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "-", SessionID: 7, SessionVersion: 9, AddressType: "IP6", Address: "2001:db8::1"},
				SessionName: "-",
				Connection:  sdpAddr("2001:db8::1"),
				Media: []sdp.MediaDescription{
					{
						Type: "audio", Port: 4000, Proto: "RTP/AVP",
						Formats:    []audio.Codec{audio.PCMA(), tel(96, 8000, "")},
						Connection: sdpAddr("2001:db8::1"),
						RTCPPort:   4005,
						RTCPAddr:   sdpAddr("2001:db8::2"),
						Direction:  sdp.RecvOnly,
					},
					{
						Type: "image", Port: 0, Proto: "udptl",
						RawFormats: []string{"t38"},
						Connection: sdpAddr("2001:db8::1"),
						Attributes: []sdp.Attribute{{Key: "T38FaxVersion", Value: "0"}},
					},
				},
			},
		},
		{
			name: "no session c=, per-media c=, missing s= and t=, CR line ends, media direction overrides session",
			in: "v=0\ro=- 1 2 IN IP4 192.0.2.1\ra=inactive\r" +
				"m=audio 3000 RTP/AVP 8 97\rc=IN IP4 192.0.2.10\ra=sendrecv\r" +
				"m=audio 3002 RTP/AVP 0\rc=IN IP4 192.0.2.11/127\r",
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "-", SessionID: 1, SessionVersion: 2, AddressType: "IP4", Address: "192.0.2.1"},
				SessionName: "-",
				Media: []sdp.MediaDescription{
					{
						Type: "audio", Port: 3000, Proto: "RTP/AVP",
						Formats:    []audio.Codec{audio.PCMA(), {PayloadType: 97}},
						Connection: sdpAddr("192.0.2.10"),
					},
					{
						Type: "audio", Port: 3002, Proto: "RTP/AVP",
						Formats:    []audio.Codec{audio.PCMU()},
						Connection: sdpAddr("192.0.2.11"),
						Direction:  sdp.Inactive,
					},
				},
			},
		},
		{
			name: "old-style hold, trailing blanks, malformed rtpmap and ptime ignored",
			in: "v=0 \no=- 5 6 IN IP4 198.51.100.7\ns=call\nc=IN IP4 0.0.0.0\nt=0 0\n" +
				"m=audio 49170 RTP/AVP 0 9\na=rtpmap:9 G722\na=ptime:x\na=rtcp:0\na=rtcp:49171\n\n",
			want: &sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "-", SessionID: 5, SessionVersion: 6, AddressType: "IP4", Address: "198.51.100.7"},
				SessionName: "call",
				Connection:  sdpAddr("0.0.0.0"),
				Media: []sdp.MediaDescription{{
					Type: "audio", Port: 49170, Proto: "RTP/AVP",
					Formats:    []audio.Codec{audio.PCMU(), {Name: "G722", PayloadType: 9, ClockRate: 8000, Channels: 1}},
					Connection: sdpAddr("0.0.0.0"),
					RTCPPort:   49171,
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdp.Parse([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			// What we parse, we write back with CRLF and read the same.
			out, err := got.Marshal()
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(string(out), "\r\n"))
			require.NotContains(t, strings.ReplaceAll(string(out), "\r\n", ""), "\n")
			again, err := sdp.Parse(out)
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func TestSDPParseErrors(t *testing.T) {
	valid := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	tests := []struct {
		name     string
		in       string
		limits   sdp.Limits
		tooLarge bool
	}{
		{name: "empty", in: ""},
		{name: "not SDP", in: "hello world\r\n"},
		{name: "version 1", in: strings.Replace(valid, "v=0", "v=1", 1)},
		{name: "unknown type letter", in: valid + "x=1\r\n"},
		{name: "no o= line", in: "v=0\r\ns=-\r\nt=0 0\r\n"},
		{name: "o= with bad session id", in: strings.Replace(valid, "o=- 1 1", "o=- x 1", 1)},
		{name: "c= host name", in: strings.Replace(valid, "c=IN IP4 192.0.2.1", "c=IN IP4 pbx.example.com", 1)},
		{name: "c= unknown network type", in: strings.Replace(valid, "c=IN", "c=XX", 1)},
		{name: "short m= line", in: valid + "m=audio 4000\r\n"},
		{name: "bad port", in: valid + "m=audio 70000 RTP/AVP 0\r\n"},
		{name: "payload type above 127", in: valid + "m=audio 4000 RTP/AVP 0 200\r\n"},
		{name: "non-numeric RTP format", in: valid + "m=audio 4000 RTP/AVP PCMU\r\n"},
		{name: "t= inside a media section", in: valid + "m=audio 4000 RTP/AVP 0\r\nt=0 0\r\n"},
		{name: "body too large", in: valid + strings.Repeat("a=x-pad\r\n", 10), limits: sdp.Limits{MaxBytes: 100}, tooLarge: true},
		{name: "too many media", in: valid + strings.Repeat("m=audio 0 RTP/AVP 0\r\n", 3), limits: sdp.Limits{MaxMedia: 2}, tooLarge: true},
		{name: "too many formats", in: valid + "m=audio 4000 RTP/AVP 0 8 9\r\n", limits: sdp.Limits{MaxFormats: 2}, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := tt.limits.Parse([]byte(tt.in))
			require.Nil(t, sd)
			require.ErrorIs(t, err, sdp.ErrMalformed)
			var se *sdp.Error
			require.ErrorAs(t, err, &se)
			require.NotEmpty(t, se.Reason)
			require.True(t, strings.HasPrefix(err.Error(), "sdp: malformed SDP: "+se.Reason), err.Error())
			require.Equal(t, tt.tooLarge, errors.Is(err, sdp.ErrTooLarge))
		})
	}
}

func TestSDPMarshal(t *testing.T) {
	tests := []struct {
		name string
		sd   sdp.SessionDescription
		want string
	}{
		{
			name: "IPv4 offer with every attribute",
			sd: sdp.SessionDescription{
				Origin:     sdp.Origin{SessionID: 42, SessionVersion: 3},
				Connection: sdpAddr("192.0.2.5"),
				Media: []sdp.MediaDescription{{
					Type: "audio", Port: 4000, Proto: "RTP/AVP",
					Formats:    []audio.Codec{audio.PCMU(), audio.TelephoneEvent()},
					Connection: sdpAddr("192.0.2.5"),
					RTCPPort:   4001, RTCPAddr: sdpAddr("192.0.2.6"),
					RTCPMux: true, Ptime: 20, MaxPtime: 40,
					Attributes: []sdp.Attribute{{Key: "label", Value: "1"}},
					Direction:  sdp.SendOnly,
				}},
			},
			want: "v=0\r\no=- 42 3 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 4000 RTP/AVP 0 101\r\n" +
				"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
				"a=ptime:20\r\na=maxptime:40\r\na=rtcp:4001 IN IP4 192.0.2.6\r\na=rtcp-mux\r\na=label:1\r\na=sendonly\r\n",
		},
		{
			name: "IPv6, media-level c= only where it differs, stereo, raw formats",
			sd: sdp.SessionDescription{
				Origin:      sdp.Origin{Username: "bob", SessionID: 1, SessionVersion: 1, Address: "2001:db8::5"},
				SessionName: "call",
				Connection:  sdpAddr("2001:db8::5"),
				Media: []sdp.MediaDescription{
					{
						Type: "audio", Port: 5000, Proto: "RTP/AVP",
						Formats:    []audio.Codec{{Name: "opus", PayloadType: 111, ClockRate: 48000, Channels: 2}},
						Connection: sdpAddr("2001:db8::6"),
						Direction:  sdp.Inactive,
					},
					{Type: "image", Port: 0, Proto: "udptl", RawFormats: []string{"t38"}, Direction: sdp.Inactive},
				},
			},
			want: "v=0\r\no=bob 1 1 IN IP6 2001:db8::5\r\ns=call\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n" +
				"m=audio 5000 RTP/AVP 111\r\nc=IN IP6 2001:db8::6\r\na=rtpmap:111 opus/48000/2\r\na=inactive\r\n" +
				"m=image 0 udptl t38\r\na=inactive\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sd.Marshal()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestSDPMarshalRejectsBadFields(t *testing.T) {
	base := func() sdp.SessionDescription {
		return sdp.SessionDescription{
			Connection: sdpAddr("192.0.2.5"),
			Media:      []sdp.MediaDescription{{Type: "audio", Port: 4000, Proto: "RTP/AVP", Formats: []audio.Codec{audio.PCMU()}}},
		}
	}
	tests := []struct {
		name   string
		mutate func(*sdp.SessionDescription)
	}{
		{"line break in codec name", func(sd *sdp.SessionDescription) { sd.Media[0].Formats[0].Name = "PCMU\r\na=evil" }},
		{"slash in codec name", func(sd *sdp.SessionDescription) { sd.Media[0].Formats[0].Name = "PCMU/8000" }},
		{"line break in fmtp", func(sd *sdp.SessionDescription) { sd.Media[0].Formats[0].Fmtp = "x\ny" }},
		{"payload type 128", func(sd *sdp.SessionDescription) { sd.Media[0].Formats[0].PayloadType = 128 }},
		{"space in media type", func(sd *sdp.SessionDescription) { sd.Media[0].Type = "au dio" }},
		{"empty proto", func(sd *sdp.SessionDescription) { sd.Media[0].Proto = "" }},
		{"line break in session name", func(sd *sdp.SessionDescription) { sd.SessionName = "a\r\nb" }},
		{"space in username", func(sd *sdp.SessionDescription) { sd.Origin.Username = "a b" }},
		{"colon in attribute name", func(sd *sdp.SessionDescription) {
			sd.Media[0].Attributes = []sdp.Attribute{{Key: "a:b"}}
		}},
		{"bad direction", func(sd *sdp.SessionDescription) { sd.Media[0].Direction = 9 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := base()
			_, err := sd.Marshal()
			require.NoError(t, err)
			tt.mutate(&sd)
			_, err = sd.Marshal()
			require.ErrorIs(t, err, sdp.ErrMalformed)
		})
	}
}

func TestMediaDirection(t *testing.T) {
	tests := []struct {
		d            sdp.Direction
		str          string
		sends, recvs bool
		reverse      sdp.Direction
		withSendOnly sdp.Direction
		withRecvOnly sdp.Direction
		withSendRecv sdp.Direction
		withInactive sdp.Direction
	}{
		{sdp.SendRecv, "sendrecv", true, true, sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.SendRecv, sdp.Inactive},
		{sdp.SendOnly, "sendonly", true, false, sdp.RecvOnly, sdp.SendOnly, sdp.Inactive, sdp.SendOnly, sdp.Inactive},
		{sdp.RecvOnly, "recvonly", false, true, sdp.SendOnly, sdp.Inactive, sdp.RecvOnly, sdp.RecvOnly, sdp.Inactive},
		{sdp.Inactive, "inactive", false, false, sdp.Inactive, sdp.Inactive, sdp.Inactive, sdp.Inactive, sdp.Inactive},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			require.Equal(t, tt.str, tt.d.String())
			require.Equal(t, tt.sends, tt.d.Sends())
			require.Equal(t, tt.recvs, tt.d.Receives())
			require.Equal(t, tt.reverse, tt.d.Reverse())
			require.Equal(t, tt.withSendOnly, tt.d.Intersect(sdp.SendOnly))
			require.Equal(t, tt.withRecvOnly, tt.d.Intersect(sdp.RecvOnly))
			require.Equal(t, tt.withSendRecv, tt.d.Intersect(sdp.SendRecv))
			require.Equal(t, tt.withInactive, tt.d.Intersect(sdp.Inactive))
		})
	}
	require.Equal(t, "Direction(7)", sdp.Direction(7).String())
}

func TestSDPStaticPayloadTypes(t *testing.T) {
	// RFC 3551 §6, Table 4: audio types named without a=rtpmap.
	tests := []struct {
		pt   uint8
		want audio.Codec
	}{
		{0, audio.PCMU()},
		{3, audio.Codec{Name: "GSM", PayloadType: 3, ClockRate: 8000, Channels: 1}},
		{6, audio.Codec{Name: "DVI4", PayloadType: 6, ClockRate: 16000, Channels: 1}},
		{8, audio.PCMA()},
		{9, audio.Codec{Name: "G722", PayloadType: 9, ClockRate: 8000, Channels: 1}},
		{10, audio.Codec{Name: "L16", PayloadType: 10, ClockRate: 44100, Channels: 2}},
		{13, audio.Codec{Name: "CN", PayloadType: 13, ClockRate: 8000, Channels: 1}},
		{18, audio.Codec{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1}},
		{2, audio.Codec{PayloadType: 2}},   // unassigned
		{31, audio.Codec{PayloadType: 31}}, // video (H261)
		{96, audio.Codec{PayloadType: 96}}, // dynamic
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pt), func(t *testing.T) {
			in := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP %d\r\n", tt.pt)
			sd, err := sdp.Parse([]byte(in))
			require.NoError(t, err)
			require.Equal(t, []audio.Codec{tt.want}, sd.Media[0].Formats)
		})
	}
}
