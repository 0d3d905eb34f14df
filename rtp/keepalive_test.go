package rtp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// What a session sends while the host plays nothing, over 5.5 s of
// ticks: by default a continuous stream of silence, or, with CN
// negotiated, a comfort-noise packet at the end of each talkspurt and a
// SID refresh every IdleKeepAlive (RFC 3389 §4); with silence suppressed,
// a keep-alive every IdleKeepAlive; on hold (recvonly, inactive) a
// keep-alive every IdleKeepAlive whatever the host does (RFC 6263: CN when
// negotiated, else an RTP packet without payload of an unmapped dynamic
// payload type), with RTCP going on; nothing to a 0.0.0.0 hold.
func TestIdleKeepAlive(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	cn := audio.Codec{Name: "CN", PayloadType: 13, ClockRate: 8000, Channels: 1}
	te := audio.Codec{Name: "telephone-event", PayloadType: 96, ClockRate: 8000, Channels: 1}
	type kinds map[string]int
	tests := []struct {
		name     string
		cfg      SessionConfig
		cn       bool
		dir      sdp.Direction
		remote   netip.AddrPort
		play     int   // ticks the host writes audio for, from the first
		want     kinds // packets by kind
		wantAt   []int // ticks of the packets that are not audio or silence
		wantRTCP bool
	}{
		{name: "silence stream", want: kinds{"silence": 275}},
		{name: "silence stream after a talkspurt", play: 10, want: kinds{"audio": 10, "silence": 265}},
		{name: "silence stream without keep-alives", cfg: SessionConfig{IdleKeepAlive: -1}, want: kinds{"silence": 275}},
		{name: "comfort noise every second", cn: true, want: kinds{"cn": 6}, wantAt: []int{0, 50, 100, 150, 200, 250}},
		{name: "comfort noise ends the talkspurt, then every second", cn: true, play: 10,
			want: kinds{"audio": 10, "cn": 6}, wantAt: []int{10, 60, 110, 160, 210, 260}},
		{name: "comfort noise ends the talkspurt, no refresh", cn: true, play: 10, cfg: SessionConfig{IdleKeepAlive: -1},
			want: kinds{"audio": 10, "cn": 1}, wantAt: []int{10}},
		{name: "suppressed: silence every second", cfg: SessionConfig{SuppressSilence: true},
			want: kinds{"silence": 6}, wantAt: []int{0, 50, 100, 150, 200, 250}},
		{name: "suppressed: every 2 s", cfg: SessionConfig{SuppressSilence: true, IdleKeepAlive: 2 * time.Second},
			want: kinds{"silence": 3}, wantAt: []int{0, 100, 200}},
		{name: "suppressed: comfort noise a second after the talkspurt", cn: true, play: 10, cfg: SessionConfig{SuppressSilence: true},
			want: kinds{"audio": 10, "cn": 5}, wantAt: []int{59, 109, 159, 209, 259}},
		{name: "suppressed, no keep-alive", cfg: SessionConfig{SuppressSilence: true, IdleKeepAlive: -1}, want: kinds{}},
		{name: "host plays audio", play: 275, want: kinds{"audio": 275}},
		{name: "held (recvonly): bare keep-alive every second", dir: sdp.RecvOnly, play: 275,
			want: kinds{"bare": 6}, wantAt: []int{0, 50, 100, 150, 200, 250}, wantRTCP: true},
		{name: "inactive: bare keep-alive every second", dir: sdp.Inactive,
			want: kinds{"bare": 6}, wantAt: []int{0, 50, 100, 150, 200, 250}, wantRTCP: true},
		{name: "held with CN: comfort noise every second", dir: sdp.RecvOnly, cn: true, play: 100,
			want: kinds{"cn": 6}, wantAt: []int{0, 50, 100, 150, 200, 250}, wantRTCP: true},
		{name: "held, no keep-alive", dir: sdp.RecvOnly, cfg: SessionConfig{IdleKeepAlive: -1}, want: kinds{}, wantRTCP: true},
		{name: "held to 0.0.0.0", dir: sdp.RecvOnly, remote: netip.MustParseAddrPort("0.0.0.0:4000"), want: kinds{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.RTCPInterval = time.Second
			s, err := newSession(cfg)
			require.NoError(t, err)
			remote := cmpOr(tt.remote, peer)
			mp := sdp.MediaParams{RemoteRTP: remote, RemoteRTCP: remote, Codec: audio.PCMU(), Direction: cmpOr(tt.dir, sdp.SendRecv),
				Codecs: []audio.Codec{audio.PCMU(), te}, HasTelephoneEvent: true, TelephoneEvent: te}
			if tt.cn {
				mp.Codecs = append(mp.Codecs, cn)
			}
			require.NoError(t, s.SetRemote(mp))
			got := kinds{}
			var at []int
			var last *pionrtp.Packet
			rtcp := 0
			tick := 0
			s.tx.sink = func(b []byte) {
				if isRTCP(b) {
					rtcp++
					return
				}
				var p pionrtp.Packet
				require.NoError(t, p.Unmarshal(b))
				kind := "?"
				switch {
				case p.PayloadType == audio.PayloadTypePCMU && len(p.Payload) == audio.FrameSamples && p.Payload[0] == 0xff:
					kind = "silence" // μ-law 0
				case p.PayloadType == audio.PayloadTypePCMU && len(p.Payload) == audio.FrameSamples:
					kind = "audio"
				case p.PayloadType == cn.PayloadType && len(p.Payload) == 1:
					kind = "cn"
					require.Equal(t, byte(cnSilenceLevel), p.Payload[0])
				case p.PayloadType == 97 && len(p.Payload) == 0:
					kind = "bare" // 96 is telephone-event's
				}
				got[kind]++
				if kind != "audio" && (kind != "silence" || tt.cfg.SuppressSilence) {
					at = append(at, tick)
					require.False(t, p.Marker && kind != "silence", "no marker on a keep-alive (RFC 6263 §4.6) or comfort noise")
				}
				if last != nil {
					require.Equal(t, last.SequenceNumber+1, p.SequenceNumber, "one sequence for media and keep-alives")
					require.Equal(t, uint32(audio.FrameSamples)*uint32(tick-int(last.CSRC[0])), p.Timestamp-last.Timestamp, "the media clock")
				}
				p.CSRC = []uint32{uint32(tick)}
				last = &p
			}
			frame := make([]int16, audio.FrameSamples)
			frame[0] = 1000
			t0 := s.epoch // the RTCP schedule's origin
			s.pace = pacer{start: t0, period: audio.FrameDuration}
			for tick = range 275 { // 5.5 s
				if tick < tt.play {
					require.NoError(t, s.WriteFrame(context.Background(), frame))
				}
				now := t0.Add(time.Duration(tick) * audio.FrameDuration)
				s.wake(now, &s.pace, nil)
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantAt, at, "ticks of the keep-alives and comfort noise")
			st := s.Stats()
			ka := len(at)
			if tt.cn && tt.play > 0 && tt.play < 275 && !tt.cfg.SuppressSilence && tt.dir == 0 {
				ka-- // the end of the talkspurt is no keep-alive
			}
			require.Equal(t, uint64(ka), st.KeepAlivesSent)
			require.Equal(t, uint64(got["cn"]), st.ComfortNoiseSent)
			if tt.wantRTCP {
				require.GreaterOrEqual(t, rtcp, 3, "RTCP goes on while held")
			}
		})
	}
}

// cmpOr returns v unless it is the zero value, else def.
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// The keep-alive's payload type of RFC 6263 §4.6 is a dynamic one the
// answer does not map.
func TestUnmappedPT(t *testing.T) {
	c := func(pts ...uint8) []audio.Codec {
		var cs []audio.Codec
		for _, pt := range pts {
			cs = append(cs, audio.Codec{PayloadType: pt})
		}
		return cs
	}
	all := make([]uint8, 0, 32)
	for pt := uint8(96); pt <= 127; pt++ {
		all = append(all, pt)
	}
	tests := []struct {
		name   string
		codecs []audio.Codec
		used   []uint8
		want   uint8
	}{
		{"none mapped", c(0, 8), nil, 96},
		{"telephone-event at 96", c(0, 96), nil, 97},
		{"in use besides the answer", c(0, 96, 97), []uint8{98}, 99},
		{"all taken", c(all...), nil, 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unmappedPT(tt.codecs, tt.used...)
			require.Equal(t, tt.want, got)
			if tt.name != "all taken" {
				require.False(t, slices.Contains(tt.used, got))
			}
		})
	}
}
