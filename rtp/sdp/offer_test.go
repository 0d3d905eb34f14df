package sdp_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

// offerTestConfig is a media config with a fixed session id.
func offerTestConfig(addr string, port uint16) sdp.Config {
	return sdp.Config{Addr: netip.MustParseAddr(addr), Port: port, SessionID: 77}
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

func offerParse(t *testing.T, b []byte) *sdp.SessionDescription {
	t.Helper()
	sd, err := sdp.Parse(b)
	require.NoError(t, err)
	return sd
}

func offerTel(pt uint8, fmtp string) audio.Codec {
	return audio.Codec{Name: "telephone-event", PayloadType: pt, ClockRate: 8000, Channels: 1, Fmtp: fmtp}
}

func TestOfferAnswerDirections(t *testing.T) {
	S, SO, RO, I := sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.Inactive
	tests := []struct {
		offer, pref sdp.Direction // offerer's and answerer's configured direction
		answer      sdp.Direction // a= line in the answer, and the answerer's effective direction
		offererGets sdp.Direction // the offerer's effective direction
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
			a, err := sdp.NewNegotiator(ac)
			require.NoError(t, err)
			b, err := sdp.NewNegotiator(bc)
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
			err:   sdp.ErrNotAcceptable,
		},
		{
			name:  "only telephone-event in common",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 18 101\na=rtpmap:101 telephone-event/8000\n"),
			err:   sdp.ErrNotAcceptable,
		},
		{
			name:  "secure RTP not supported",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/SAVP 0\n"),
			err:   sdp.ErrNotAcceptable,
		},
		{
			name:  "no media at all",
			offer: offerSDP("IN IP4 192.0.2.9"),
			err:   sdp.ErrNotAcceptable,
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
			err: sdp.ErrNotAcceptable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.2", 6000)
			cfg.Codecs = tt.prefs
			offer := offerParse(t, tt.offer)
			ans, p, err := sdp.Answer(offer, cfg)
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
		cfg        func(*sdp.Config)
		rtp, rtcp  netip.AddrPort
		mux        bool
		dir        sdp.Direction
		ptime      int
		wantLines  []string // lines the answer must contain
		avoidLines []string // lines it must not contain
	}{
		{
			name:  "rtcp-mux on both sides",
			offer: offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\na=rtcp-mux\na=ptime:30\n"),
			cfg:   func(c *sdp.Config) { c.RTCPMux = true; c.RTCPPort = 6001 },
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
			cfg:   func(c *sdp.Config) { c.RTCPMux = true; c.RTCPPort = 6003 },
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
			cfg:   func(c *sdp.Config) { c.Addr = netip.MustParseAddr("2001:db8::2") },
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
			dir:       sdp.RecvOnly,
			wantLines: []string{"a=recvonly"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.2", 6000)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			n, err := sdp.NewNegotiator(cfg)
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
		dir    sdp.Direction
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
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU()}, dir: sdp.SendOnly,
			remote: netip.MustParseAddrPort("192.0.2.2:6000"),
		},
		{
			name:   "answer from 0.0.0.0: send nothing",
			answer: offerSDP("IN IP4 0.0.0.0", "m=audio 6000 RTP/AVP 0\n"),
			codec:  audio.PCMU(), codecs: []audio.Codec{audio.PCMU()}, dir: sdp.RecvOnly,
			remote: netip.MustParseAddrPort("0.0.0.0:6000"),
		},
		{name: "codec not offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 18\n"), err: sdp.ErrAnswerMismatch},
		{name: "one of the codecs not offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 9\n"), err: sdp.ErrAnswerMismatch},
		{name: "unknown dynamic type", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0 97\n"), err: sdp.ErrAnswerMismatch},
		{name: "only telephone-event", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 101\n"), err: sdp.ErrAnswerMismatch},
		{name: "more m-lines than offered", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0\n", "m=video 0 RTP/AVP 31\n"), err: sdp.ErrAnswerMismatch},
		{name: "no m-lines", answer: offerSDP("IN IP4 192.0.2.2"), err: sdp.ErrAnswerMismatch},
		{name: "answered as video", answer: offerSDP("IN IP4 192.0.2.2", "m=video 6000 RTP/AVP 0\n"), err: sdp.ErrAnswerMismatch},
		{name: "stream rejected", answer: offerSDP("IN IP4 192.0.2.2", "m=audio 0 RTP/AVP 0\n"), err: sdp.ErrNotAcceptable},
		{name: "no connection address", answer: offerSDP("", "m=audio 6000 RTP/AVP 0\n"), err: sdp.ErrMalformed},
		{name: "not SDP", answer: []byte("hello"), err: sdp.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := sdp.NewNegotiator(cfg)
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
