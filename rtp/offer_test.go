package rtp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// offerTestConfig is a media config with a fixed session id.
func offerTestConfig(addr string, port uint16) rtp.OfferConfig {
	return rtp.OfferConfig{Addr: netip.MustParseAddr(addr), Port: port, SessionID: 77}
}

// offerSDP builds a remote SDP body from its session-level c= address and
// media sections (LF line ends, as some phones send).
func offerSDP(conn string, media ...string) []byte {
	s := "v=0\no=peer 9 9 IN IP4 192.0.2.99\ns=-\n"
	if conn != "" {
		s += "c=" + conn + "\n"
	}
	s += "t=0 0\n" + strings.Join(media, "")
	return []byte(s)
}

func offerParse(t *testing.T, b []byte) *rtp.SessionDescription {
	t.Helper()
	sd, err := rtp.ParseSDP(b)
	require.NoError(t, err)
	return sd
}

func offerTel(pt uint8, fmtp string) audio.Codec {
	return audio.Codec{Name: "telephone-event", PayloadType: pt, ClockRate: 8000, Channels: 1, Fmtp: fmtp}
}

func TestOfferAnswerDirections(t *testing.T) {
	S, SO, RO, I := rtp.MediaSendRecv, rtp.MediaSendOnly, rtp.MediaRecvOnly, rtp.MediaInactive
	tests := []struct {
		offer, pref rtp.MediaDirection // offerer's and answerer's configured direction
		answer      rtp.MediaDirection // a= line in the answer, and the answerer's effective direction
		offererGets rtp.MediaDirection // the offerer's effective direction
	}{
		{S, S, S, S}, {S, SO, SO, RO}, {S, RO, RO, SO}, {S, I, I, I},
		{SO, S, RO, SO}, {SO, SO, I, I}, {SO, RO, RO, SO}, {SO, I, I, I},
		{RO, S, SO, RO}, {RO, SO, SO, RO}, {RO, RO, I, I}, {RO, I, I, I},
		{I, S, I, I}, {I, SO, I, I}, {I, RO, I, I}, {I, I, I, I},
	}
	for _, tt := range tests {
		t.Run(tt.offer.String()+"/"+tt.pref.String(), func(t *testing.T) {
			ac := offerTestConfig("192.0.2.1", 4000)
			ac.Direction = tt.offer
			bc := offerTestConfig("192.0.2.2", 6000)
			bc.Direction = tt.pref
			a, err := rtp.NewNegotiator(ac)
			require.NoError(t, err)
			b, err := rtp.NewNegotiator(bc)
			require.NoError(t, err)

			offer, err := a.CreateOffer()
			require.NoError(t, err)
			require.Equal(t, tt.offer, offerParse(t, offer).Media[0].Direction)
			answer, pb, err := b.Answer(offer)
			require.NoError(t, err)
			require.Equal(t, tt.answer, offerParse(t, answer).Media[0].Direction)
			require.Equal(t, tt.answer, pb.Direction)
			pa, err := a.ApplyAnswer(answer)
			require.NoError(t, err)
			require.Equal(t, tt.offererGets, pa.Direction)
		})
	}
}

func TestOfferAnswerCodecs(t *testing.T) {
	type line struct {
		typ, proto string
		port       uint16
		formats    []audio.Codec
		raw        []string
	}
	g729 := audio.Codec{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1}
	tests := []struct {
		name   string
		offer  []byte
		prefs  []audio.Codec // nil: defaults
		want   []line        // the answer's m= lines
		index  int           // accepted m-line
		codec  audio.Codec   // MediaParams.Codec
		tel    audio.Codec   // MediaParams.TelephoneEvent
		hasTel bool
		err    error
	}{
		{
			name:  "dynamic telephone-event keeps the offerer's number and order, answerer's fmtp",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 8 0 96\na=rtpmap:96 telephone-event/8000\na=fmtp:96 0-11\n"),
			want: []line{{typ: "audio", proto: "RTP/AVP", port: 6000,
				formats: []audio.Codec{audio.PCMA(), audio.PCMU(), offerTel(96, "0-15")}}},
			codec: audio.PCMA(), tel: offerTel(96, "0-15"), hasTel: true,
		},
		{
			name:  "Linphone offer: telephone-event at 8000 Hz picked among three rates",
			offer: []byte(sdpSeedLinphone),
			want: []line{{typ: "audio", proto: "RTP/AVP", port: 6000,
				formats: []audio.Codec{audio.PCMU(), audio.PCMA(), offerTel(100, "0-15")}}},
			codec: audio.PCMU(), tel: offerTel(100, "0-15"), hasTel: true,
		},
		{
			name:  "Asterisk offer: disabled video stays disabled",
			offer: []byte(sdpSeedAsterisk),
			want: []line{
				{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU(), audio.PCMA(), offerTel(101, "0-15")}},
				{typ: "video", proto: "RTP/AVP", port: 0, formats: []audio.Codec{{Name: "H263", PayloadType: 34, ClockRate: 90000, Channels: 1}}},
			},
			codec: audio.PCMU(), tel: offerTel(101, "0-15"), hasTel: true,
		},
		{
			name:  "static payload type without rtpmap",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\n"),
			want:  []line{{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU()}}},
			codec: audio.PCMU(),
		},
		{
			// RFC 3264 §6.1: the answer keeps the offer's relative order;
			// the answerer's list only says what it accepts.
			name:  "offer order kept over the answerer's preference",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0 8\n"),
			prefs: []audio.Codec{audio.PCMA(), audio.PCMU()},
			want:  []line{{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU(), audio.PCMA()}}},
			codec: audio.PCMU(),
		},
		{
			name:  "offer order kept, formats the answerer lacks dropped",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 18 8 101 0\na=rtpmap:101 telephone-event/8000\n"),
			want: []line{{typ: "audio", proto: "RTP/AVP", port: 6000,
				formats: []audio.Codec{audio.PCMA(), offerTel(101, "0-15"), audio.PCMU()}}},
			codec: audio.PCMA(), tel: offerTel(101, "0-15"), hasTel: true,
		},
		{
			name:  "codec renumbered by the offerer, name case-insensitive",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 97\na=rtpmap:97 pcma/8000\n"),
			want: []line{{typ: "audio", proto: "RTP/AVP", port: 6000,
				formats: []audio.Codec{{Name: "pcma", PayloadType: 97, ClockRate: 8000, Channels: 1}}}},
			codec: audio.Codec{Name: "pcma", PayloadType: 97, ClockRate: 8000, Channels: 1},
		},
		{
			name:  "offer fmtp echoed when ours is empty",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 18 0\na=fmtp:18 annexb=no\n"),
			prefs: []audio.Codec{g729, audio.PCMU()},
			want: []line{{typ: "audio", proto: "RTP/AVP", port: 6000,
				formats: []audio.Codec{{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1, Fmtp: "annexb=no"}, audio.PCMU()}}},
			codec: audio.Codec{Name: "G729", PayloadType: 18, ClockRate: 8000, Channels: 1, Fmtp: "annexb=no"},
		},
		{
			name:  "telephone-event at another clock rate does not match",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/16000\n"),
			want:  []line{{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU()}}},
			codec: audio.PCMU(),
		},
		{
			name:  "no common codec on the only line",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 18 3\n"),
			err:   rtp.ErrNotAcceptable,
		},
		{
			name:  "only telephone-event in common",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 18 101\na=rtpmap:101 telephone-event/8000\n"),
			err:   rtp.ErrNotAcceptable,
		},
		{
			name:  "secure RTP not supported",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/SAVP 0\n"),
			err:   rtp.ErrNotAcceptable,
		},
		{
			name:  "no media at all",
			offer: offerSDP("IN IP4 192.0.2.9"),
			err:   rtp.ErrNotAcceptable,
		},
		{
			name: "audio and video: video rejected with its formats echoed",
			offer: offerSDP("IN IP4 192.0.2.9",
				"m=audio 4000 RTP/AVP 0\n",
				"m=video 4002 RTP/AVP 31 96\na=rtpmap:96 H264/90000\n"),
			want: []line{
				{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU()}},
				{typ: "video", proto: "RTP/AVP", port: 0, formats: []audio.Codec{{PayloadType: 31}, {Name: "H264", PayloadType: 96, ClockRate: 90000, Channels: 1}}},
			},
			codec: audio.PCMU(),
		},
		{
			name: "first audio line has no common codec, second is accepted",
			offer: offerSDP("IN IP4 192.0.2.9",
				"m=audio 4000 RTP/AVP 18\n",
				"m=audio 4002 RTP/AVP 8\n"),
			want: []line{
				{typ: "audio", proto: "RTP/AVP", port: 0, formats: []audio.Codec{g729}},
				{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMA()}},
			},
			index: 1, codec: audio.PCMA(),
		},
		{
			name: "stream disabled by the offerer, T.38 and a second audio stream rejected",
			offer: offerSDP("IN IP4 192.0.2.9",
				"m=audio 0 RTP/AVP 0\n",
				"m=audio 4002 RTP/AVP 0\n",
				"m=image 4004 udptl t38\n",
				"m=audio 4006 RTP/AVP 8\n"),
			want: []line{
				{typ: "audio", proto: "RTP/AVP", port: 0, formats: []audio.Codec{audio.PCMU()}},
				{typ: "audio", proto: "RTP/AVP", port: 6000, formats: []audio.Codec{audio.PCMU()}},
				{typ: "image", proto: "udptl", port: 0, raw: []string{"t38"}},
				{typ: "audio", proto: "RTP/AVP", port: 0, formats: []audio.Codec{audio.PCMA()}},
			},
			index: 1, codec: audio.PCMU(),
		},
		{
			name: "video only",
			offer: offerSDP("IN IP4 192.0.2.9",
				"m=video 4002 RTP/AVP 31\n"),
			err: rtp.ErrNotAcceptable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.2", 6000)
			cfg.Codecs = tt.prefs
			offer := offerParse(t, tt.offer)
			ans, p, err := rtp.Answer(offer, cfg)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, ans)
				return
			}
			require.NoError(t, err)
			wire, err := ans.Marshal()
			require.NoError(t, err)
			got := offerParse(t, wire)
			require.Len(t, got.Media, len(tt.want))
			for i, w := range tt.want {
				m := got.Media[i]
				require.Equal(t, w.typ, m.Type, "m-line %d", i)
				require.Equal(t, w.proto, m.Proto, "m-line %d", i)
				require.Equal(t, w.port, m.Port, "m-line %d", i)
				require.Equal(t, w.formats, m.Formats, "m-line %d", i)
				require.Equal(t, w.raw, m.RawFormats, "m-line %d", i)
			}
			require.Equal(t, tt.index, p.Index)
			require.Equal(t, tt.codec, p.Codec)
			require.Equal(t, tt.want[tt.index].formats, p.Codecs)
			require.Equal(t, tt.hasTel, p.HasTelephoneEvent)
			require.Equal(t, tt.tel, p.TelephoneEvent)
		})
	}
}

func TestOfferAnswerTransport(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name       string
		offer      []byte
		cfg        func(*rtp.OfferConfig)
		rtp, rtcp  netip.AddrPort
		mux        bool
		dir        rtp.MediaDirection
		ptime      int
		wantLines  []string // lines the answer must contain
		avoidLines []string // lines it must not contain
	}{
		{
			name:  "rtcp-mux on both sides",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\na=rtcp-mux\na=ptime:30\n"),
			cfg:   func(c *rtp.OfferConfig) { c.RTCPMux = true; c.RTCPPort = 6001 },
			rtp:   ap("192.0.2.9:4000"), rtcp: ap("192.0.2.9:4000"), mux: true, ptime: 30,
			wantLines:  []string{"a=rtcp-mux", "a=ptime:20"},
			avoidLines: []string{"a=rtcp:"},
		},
		{
			name:  "rtcp-mux offered but not configured",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\na=rtcp-mux\n"),
			rtp:   ap("192.0.2.9:4000"), rtcp: ap("192.0.2.9:4001"),
			avoidLines: []string{"a=rtcp-mux"},
		},
		{
			name:  "rtcp-mux configured but not offered; a=rtcp with our port",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\n"),
			cfg:   func(c *rtp.OfferConfig) { c.RTCPMux = true; c.RTCPPort = 6003 },
			rtp:   ap("192.0.2.9:4000"), rtcp: ap("192.0.2.9:4001"),
			wantLines:  []string{"a=rtcp:6003"},
			avoidLines: []string{"a=rtcp-mux"},
		},
		{
			name:  "a=rtcp port",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\na=rtcp:4100\n"),
			rtp:   ap("192.0.2.9:4000"), rtcp: ap("192.0.2.9:4100"),
		},
		{
			name:  "a=rtcp port and address",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\na=rtcp:4100 IN IP4 192.0.2.50\n"),
			rtp:   ap("192.0.2.9:4000"), rtcp: ap("192.0.2.50:4100"),
		},
		{
			name:  "IPv6 both sides",
			offer: []byte("v=0\r\no=- 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"),
			cfg:   func(c *rtp.OfferConfig) { c.Addr = netip.MustParseAddr("2001:db8::2") },
			rtp:   ap("[2001:db8::9]:4000"), rtcp: ap("[2001:db8::9]:4001"),
			wantLines: []string{"o=- 77 1 IN IP6 2001:db8::2", "c=IN IP6 2001:db8::2", "m=audio 6000 RTP/AVP 0"},
		},
		{
			name: "media-level c= overrides the session level",
			offer: offerSDP("IN IP4 192.0.2.9",
				"m=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.10\n"),
			rtp: ap("192.0.2.10:4000"), rtcp: ap("192.0.2.10:4001"),
		},
		{
			name:  "only media-level c=",
			offer: offerSDP("", "m=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.11\n"),
			rtp:   ap("192.0.2.11:4000"), rtcp: ap("192.0.2.11:4001"),
		},
		{
			name:  "old-style hold with c=0.0.0.0 is answered recvonly",
			offer: offerSDP("IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0\n"),
			rtp:   ap("0.0.0.0:4000"), rtcp: ap("0.0.0.0:4001"),
			dir:       rtp.MediaRecvOnly,
			wantLines: []string{"a=recvonly"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.2", 6000)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			n, err := rtp.NewNegotiator(cfg)
			require.NoError(t, err)
			answer, p, err := n.Answer(tt.offer)
			require.NoError(t, err)
			require.Equal(t, tt.rtp, p.RemoteRTP)
			require.Equal(t, tt.rtcp, p.RemoteRTCP)
			require.Equal(t, tt.mux, p.RTCPMux)
			require.Equal(t, tt.dir, p.Direction)
			require.Equal(t, tt.ptime, p.RemotePtime)
			lines := strings.Split(string(answer), "\r\n")
			for _, l := range tt.wantLines {
				require.Contains(t, lines, l)
			}
			for _, l := range tt.avoidLines {
				for _, got := range lines {
					require.False(t, strings.HasPrefix(got, l), "answer has %q", got)
				}
			}
		})
	}
}

func TestOfferApplyAnswer(t *testing.T) {
	cfg := offerTestConfig("192.0.2.1", 4000) // offers PCMU, PCMA, telephone-event/101, sendrecv
	tests := []struct {
		name   string
		answer []byte
		err    error
		codec  audio.Codec
		codecs []audio.Codec
		tel    audio.Codec
		dir    rtp.MediaDirection
		ptime  int
		remote netip.AddrPort
	}{
		{
			name:   "PCMA first, static types without rtpmap, telephone-event",
			answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 8 0 101\na=rtpmap:101 telephone-event/8000\na=ptime:30\n"),
			codec:  audio.PCMA(), codecs: []audio.Codec{audio.PCMA(), audio.PCMU(), offerTel(101, "")}, tel: offerTel(101, ""),
			ptime: 30, remote: netip.MustParseAddrPort("192.0.2.2:6000"),
		},
		{
			name:   "answerer renumbered telephone-event",
			answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 96\na=rtpmap:96 telephone-event/8000\na=fmtp:96 0-15\n"),
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU(), offerTel(96, "0-15")}, tel: offerTel(96, "0-15"),
			remote: netip.MustParseAddrPort("192.0.2.2:6000"),
		},
		{
			name:   "dynamic type without rtpmap takes the offered codec",
			answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 101\n"),
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU(), audio.TelephoneEvent()}, tel: audio.TelephoneEvent(),
			remote: netip.MustParseAddrPort("192.0.2.2:6000"),
		},
		{
			name:   "answer recvonly: we only send",
			answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0\na=recvonly\n"),
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU()}, dir: rtp.MediaSendOnly,
			remote: netip.MustParseAddrPort("192.0.2.2:6000"),
		},
		{
			name:   "answer from 0.0.0.0: send nothing",
			answer: offerSDP("IN IP4 0.0.0.0", "m=audio 6000 RTP/AVP 0\n"),
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU()}, dir: rtp.MediaRecvOnly,
			remote: netip.MustParseAddrPort("0.0.0.0:6000"),
		},
		{name: "codec not offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 18\n"), err: rtp.ErrAnswerMismatch},
		{name: "one of the codecs not offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 9\n"), err: rtp.ErrAnswerMismatch},
		{name: "unknown dynamic type", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 97\n"), err: rtp.ErrAnswerMismatch},
		{name: "only telephone-event", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 101\n"), err: rtp.ErrAnswerMismatch},
		{name: "more m-lines than offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0\n", "m=video 0 RTP/AVP 31\n"), err: rtp.ErrAnswerMismatch},
		{name: "no m-lines", answer: offerSDP("IN IP4 192.0.2.2"), err: rtp.ErrAnswerMismatch},
		{name: "answered as video", answer: offerSDP("IN IP4 192.0.2.2", "m=video 6000 RTP/AVP 0\n"), err: rtp.ErrAnswerMismatch},
		{name: "stream rejected", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 0 RTP/AVP 0\n"), err: rtp.ErrNotAcceptable},
		{name: "no connection address", answer: offerSDP("", "m=audio 6000 RTP/AVP 0\n"), err: rtp.ErrSDPMalformed},
		{name: "not SDP", answer: []byte("hello"), err: rtp.ErrSDPMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := rtp.NewNegotiator(cfg)
			require.NoError(t, err)
			_, err = n.CreateOffer()
			require.NoError(t, err)
			require.True(t, n.OfferPending())
			p, err := n.ApplyAnswer(tt.answer)
			require.False(t, n.OfferPending(), "the exchange is over either way")
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				_, ok := n.Params()
				require.False(t, ok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.codec, p.Codec)
			require.Equal(t, tt.codecs, p.Codecs)
			require.Equal(t, tt.tel, p.TelephoneEvent)
			require.Equal(t, tt.tel.Name != "", p.HasTelephoneEvent)
			require.Equal(t, tt.dir, p.Direction)
			require.Equal(t, tt.ptime, p.RemotePtime)
			require.Equal(t, tt.remote, p.RemoteRTP)
			stored, ok := n.Params()
			require.True(t, ok)
			require.Equal(t, p, stored)
		})
	}
}

func TestNegotiatorErrors(t *testing.T) {
	a, err := rtp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	b, err := rtp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)

	_, err = a.ApplyAnswer(offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0\n"))
	require.ErrorIs(t, err, rtp.ErrNoOfferPending)

	offerA, err := a.CreateOffer()
	require.NoError(t, err)
	_, err = a.CreateOffer()
	require.ErrorIs(t, err, rtp.ErrOfferPending)

	// Glare: both sides offered at once; A must refuse B's offer (491).
	offerB, err := b.CreateOffer()
	require.NoError(t, err)
	_, _, err = a.Answer(offerB)
	require.ErrorIs(t, err, rtp.ErrOfferPending)

	// A's re-INVITE failed: A withdraws its offer and answers B's.
	a.CancelOffer()
	answerA, _, err := a.Answer(offerB)
	require.NoError(t, err)
	_, err = b.ApplyAnswer(answerA)
	require.NoError(t, err)
	require.NotEmpty(t, offerA)

	// An answer that is not acceptable changes nothing.
	before := a.LocalDescription()
	_, _, err = a.Answer(offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 18\n"))
	require.ErrorIs(t, err, rtp.ErrNotAcceptable)
	require.Equal(t, before, a.LocalDescription())

	require.ErrorIs(t, a.SetDirection(9), rtp.ErrOfferConfig)

	_, _, err = rtp.Answer(nil, offerTestConfig("192.0.2.1", 4000))
	require.ErrorIs(t, err, rtp.ErrSDPMalformed)
	_, err = rtp.ApplyAnswer(nil, nil)
	require.ErrorIs(t, err, rtp.ErrSDPMalformed)
}

func TestOfferConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*rtp.OfferConfig)
	}{
		{"no address", func(c *rtp.OfferConfig) { c.Addr = netip.Addr{} }},
		{"no port", func(c *rtp.OfferConfig) { c.Port = 0 }},
		{"empty codec list", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{} }},
		{"only telephone-event", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{audio.TelephoneEvent()} }},
		{"duplicate payload type", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{audio.PCMU(), {Name: "X", ClockRate: 8000}} }},
		{"payload type 200", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{{Name: "X", PayloadType: 200, ClockRate: 8000}} }},
		{"no clock rate", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{{Name: "X", PayloadType: 96}} }},
		{"unnamed codec", func(c *rtp.OfferConfig) { c.Codecs = []audio.Codec{{PayloadType: 96, ClockRate: 8000}} }},
		{"line break in fmtp", func(c *rtp.OfferConfig) {
			c.Codecs = []audio.Codec{{Name: "X", PayloadType: 96, ClockRate: 8000, Fmtp: "a\r\nb"}}
		}},
		{"negative ptime", func(c *rtp.OfferConfig) { c.Ptime = -1 }},
		{"bad direction", func(c *rtp.OfferConfig) { c.Direction = 4 }},
		{"space in username", func(c *rtp.OfferConfig) { c.Username = "a b" }},
		{"line break in session name", func(c *rtp.OfferConfig) { c.SessionName = "a\nb" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.1", 4000)
			_, err := rtp.NewNegotiator(cfg)
			require.NoError(t, err)
			tt.mutate(&cfg)
			_, err = rtp.NewNegotiator(cfg)
			require.ErrorIs(t, err, rtp.ErrOfferConfig)
			_, err = rtp.NewOffer(cfg)
			require.ErrorIs(t, err, rtp.ErrOfferConfig)
			_, _, err = rtp.Answer(offerParse(t, offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\n")), cfg)
			require.ErrorIs(t, err, rtp.ErrOfferConfig)
		})
	}
}

func TestNewOfferDefaults(t *testing.T) {
	sd, err := rtp.NewOffer(rtp.OfferConfig{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	require.NotZero(t, sd.Origin.SessionID, "random session id")
	require.Less(t, sd.Origin.SessionID, uint64(1)<<62)
	require.Equal(t, uint64(1), sd.Origin.SessionVersion)
	require.Len(t, sd.Media, 1)
	m := sd.Media[0]
	require.Equal(t, rtp.DefaultMediaCodecs(), m.Formats)
	require.Equal(t, rtp.DefaultMediaPtime, m.Ptime)
	require.Equal(t, rtp.MediaSendRecv, m.Direction)
	wire, err := sd.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(wire), "\r\nm=audio 4000 RTP/AVP 0 8 101\r\n")

	other, err := rtp.NewOffer(rtp.OfferConfig{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	require.NotEqual(t, sd.Origin.SessionID, other.Origin.SessionID)
}

// offerVersion returns the o= session id and version of an SDP body.
func offerVersion(t *testing.T, b []byte) (uint64, uint64) {
	t.Helper()
	sd := offerParse(t, b)
	return sd.Origin.SessionID, sd.Origin.SessionVersion
}

func TestNegotiatorVersions(t *testing.T) {
	a, err := rtp.NewNegotiator(rtp.OfferConfig{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	b, err := rtp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)

	o1, err := a.CreateOffer()
	require.NoError(t, err)
	id, v1 := offerVersion(t, o1)
	require.Equal(t, a.Config().SessionID, id)

	// The same offer again (say, the INVITE was challenged and resent).
	a.CancelOffer()
	o2, err := a.CreateOffer()
	require.NoError(t, err)
	require.Equal(t, o1, o2, "unchanged SDP keeps its version")

	ans1, _, err := b.Answer(o2)
	require.NoError(t, err)
	_, bv1 := offerVersion(t, ans1)
	_, err = a.ApplyAnswer(ans1)
	require.NoError(t, err)

	// Session refresh: a re-offer with nothing changed keeps both versions.
	o3, err := a.CreateOffer()
	require.NoError(t, err)
	_, v3 := offerVersion(t, o3)
	require.Equal(t, v1, v3)
	ans3, _, err := b.Answer(o3)
	require.NoError(t, err)
	require.Equal(t, ans1, ans3)
	_, err = a.ApplyAnswer(ans3)
	require.NoError(t, err)

	// A new port is a change: version + 1, same session id.
	cfg := a.Config()
	cfg.Port = 4010
	require.NoError(t, a.SetConfig(cfg))
	o4, err := a.CreateOffer()
	require.NoError(t, err)
	id4, v4 := offerVersion(t, o4)
	require.Equal(t, id, id4)
	require.Equal(t, v1+1, v4)
	ans4, p, err := b.Answer(o4)
	require.NoError(t, err)
	require.Equal(t, uint16(4010), p.RemoteRTP.Port())
	_, bv4 := offerVersion(t, ans4)
	require.Equal(t, bv1, bv4, "B's answer did not change")
	_, err = a.ApplyAnswer(ans4)
	require.NoError(t, err)
}

func TestNegotiatorHoldResume(t *testing.T) {
	a, err := rtp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	b, err := rtp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)
	peers := map[string]*rtp.Negotiator{"A": a, "B": b}
	other := map[string]string{"A": "B", "B": "A"}

	S, SO, RO, I := rtp.MediaSendRecv, rtp.MediaSendOnly, rtp.MediaRecvOnly, rtp.MediaInactive
	steps := []struct {
		name         string
		offerer      string
		action       func(*rtp.Negotiator)
		offerDir     rtp.MediaDirection
		answerDir    rtp.MediaDirection
		aDir, bDir   rtp.MediaDirection
		offerBumped  bool // the offer's version is one above the offerer's previous SDP
		answerBumped bool
	}{
		{"A calls B", "A", func(*rtp.Negotiator) {}, S, S, S, S, false, false},
		{"A holds", "A", (*rtp.Negotiator).Hold, SO, RO, SO, RO, true, true},
		{"B holds too", "B", (*rtp.Negotiator).Hold, SO, I, I, I, true, true},
		// B's answer is its previous offer again: its version stays.
		{"A resumes", "A", (*rtp.Negotiator).Resume, S, SO, RO, SO, true, false},
		{"B resumes", "B", (*rtp.Negotiator).Resume, S, S, S, S, true, false},
		{"B holds with inactive", "B", func(n *rtp.Negotiator) { require.NoError(t, n.SetDirection(I)) }, I, I, I, I, true, true},
		{"B back to sendrecv", "B", func(n *rtp.Negotiator) { require.NoError(t, n.SetDirection(S)) }, S, S, S, S, true, true},
	}
	for i, st := range steps {
		offerer, answerer := peers[st.offerer], peers[other[st.offerer]]
		var prevOffer, prevAnswer uint64
		if i > 0 {
			prevOffer = offerer.LocalDescription().Origin.SessionVersion
			prevAnswer = answerer.LocalDescription().Origin.SessionVersion
		}
		st.action(offerer)
		offer, err := offerer.CreateOffer()
		require.NoError(t, err, st.name)
		require.Equal(t, st.offerDir, offerParse(t, offer).Media[0].Direction, st.name)
		answer, _, err := answerer.Answer(offer)
		require.NoError(t, err, st.name)
		require.Equal(t, st.answerDir, offerParse(t, answer).Media[0].Direction, st.name)
		_, err = offerer.ApplyAnswer(answer)
		require.NoError(t, err, st.name)

		pa, _ := a.Params()
		pb, _ := b.Params()
		require.Equal(t, st.aDir, pa.Direction, st.name)
		require.Equal(t, st.bDir, pb.Direction, st.name)
		if i > 0 {
			_, vo := offerVersion(t, offer)
			_, va := offerVersion(t, answer)
			require.Equal(t, st.offerBumped, vo == prevOffer+1, "%s: offer version %d after %d", st.name, vo, prevOffer)
			require.Equal(t, !st.offerBumped, vo == prevOffer, st.name)
			require.Equal(t, st.answerBumped, va == prevAnswer+1, "%s: answer version %d after %d", st.name, va, prevAnswer)
			require.Equal(t, !st.answerBumped, va == prevAnswer, st.name)
		}
	}
	require.False(t, a.Held())
	require.False(t, b.Held())
}

func TestNegotiatorLateOffer(t *testing.T) {
	// The INVITE had no SDP: the UAS (B) offers in its 200 and the UAC (A)
	// answers in the ACK.
	a, err := rtp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	bc := offerTestConfig("192.0.2.2", 6000)
	bc.Codecs = []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}
	bc.RTCPMux = true
	b, err := rtp.NewNegotiator(bc)
	require.NoError(t, err)

	offer, err := b.CreateOffer() // in the 200
	require.NoError(t, err)
	answer, pa, err := a.Answer(offer) // in the ACK
	require.NoError(t, err)
	pb, err := b.ApplyAnswer(answer)
	require.NoError(t, err)

	require.Equal(t, netip.MustParseAddrPort("192.0.2.2:6000"), pa.RemoteRTP)
	require.Equal(t, netip.MustParseAddrPort("192.0.2.1:4000"), pb.RemoteRTP)
	require.Equal(t, audio.PCMA(), pa.Codec)
	require.Equal(t, audio.PCMA(), pb.Codec)
	require.True(t, pa.HasTelephoneEvent)
	require.True(t, pb.HasTelephoneEvent)
	require.False(t, pb.RTCPMux, "A did not configure rtcp-mux")
	require.Equal(t, netip.MustParseAddrPort("192.0.2.1:4001"), pb.RemoteRTCP)
	require.Equal(t, rtp.MediaSendRecv, pa.Direction)
	require.Equal(t, rtp.MediaSendRecv, pb.Direction)
}

func TestNegotiatorReofferKeepsMLines(t *testing.T) {
	// B offered video and audio; A accepted audio only. A's re-offer for
	// hold must keep both m-lines in order, the video one at port 0
	// (RFC 3264 §8).
	a, err := rtp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	offer := offerSDP("IN IP4 192.0.2.2",
		"m=video 6002 RTP/AVP 31\n",
		"m=audio 6000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\n")
	_, p, err := a.Answer(offer)
	require.NoError(t, err)
	require.Equal(t, 1, p.Index)

	a.Hold()
	reoffer, err := a.CreateOffer()
	require.NoError(t, err)
	sd := offerParse(t, reoffer)
	require.Len(t, sd.Media, 2)
	require.Equal(t, "video", sd.Media[0].Type)
	require.Zero(t, sd.Media[0].Port)
	require.Equal(t, "audio", sd.Media[1].Type)
	require.Equal(t, uint16(4000), sd.Media[1].Port)
	require.Equal(t, rtp.MediaSendOnly, sd.Media[1].Direction)
	require.Equal(t, rtp.DefaultMediaCodecs(), sd.Media[1].Formats)

	// B answers keeping the video rejected.
	p, err = a.ApplyAnswer(offerSDP("IN IP4 192.0.2.2",
		"m=video 0 RTP/AVP 31\n",
		"m=audio 6000 RTP/AVP 8\na=recvonly\n"))
	require.NoError(t, err)
	require.Equal(t, 1, p.Index)
	require.Equal(t, rtp.MediaSendOnly, p.Direction)
}

// ExampleNegotiator shows an INVITE offer from Alice answered by Bob. Bob
// prefers PCMA and numbers telephone-event 96 himself, but answers in
// Alice's order (RFC 3264 §6.1), so PCMU is sent, and with Alice's number
// for telephone-event, 101.
func ExampleNegotiator() {
	alice, err := rtp.NewNegotiator(rtp.OfferConfig{
		Addr:      netip.MustParseAddr("192.0.2.10"),
		Port:      40000,
		SessionID: 1001,
	})
	if err != nil {
		panic(err)
	}
	offer, err := alice.CreateOffer()
	if err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(string(offer), "\r\n", "\n"))

	// Bob prefers PCMA (the order of his own offers) and numbers
	// telephone-event 96. In a real call the answer comes from the peer;
	// here Bob's side is a second Negotiator.
	te := audio.TelephoneEvent()
	te.PayloadType = 96
	bob, err := rtp.NewNegotiator(rtp.OfferConfig{
		Addr:   netip.MustParseAddr("198.51.100.20"),
		Port:   50000,
		Codecs: []audio.Codec{audio.PCMA(), audio.PCMU(), te},
	})
	if err != nil {
		panic(err)
	}
	answer, _, err := bob.Answer(offer)
	if err != nil {
		panic(err)
	}
	p, err := alice.ApplyAnswer(answer)
	if err != nil {
		panic(err)
	}
	fmt.Println("send to:", p.RemoteRTP, "rtcp:", p.RemoteRTCP)
	fmt.Println("codec:", p.Codec.Name, p.Codec.PayloadType)
	fmt.Println("telephone-event:", p.TelephoneEvent.PayloadType)
	fmt.Println("direction:", p.Direction)
	// Output:
	// v=0
	// o=- 1001 1 IN IP4 192.0.2.10
	// s=-
	// c=IN IP4 192.0.2.10
	// t=0 0
	// m=audio 40000 RTP/AVP 0 8 101
	// a=rtpmap:0 PCMU/8000
	// a=rtpmap:8 PCMA/8000
	// a=rtpmap:101 telephone-event/8000
	// a=fmtp:101 0-15
	// a=ptime:20
	// a=sendrecv
	// send to: 198.51.100.20:50000 rtcp: 198.51.100.20:50001
	// codec: PCMU 0
	// telephone-event: 101
	// direction: sendrecv
}
