package rtp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// While the host plays nothing, a session sends a keep-alive every
// IdleKeepAlive (at once first): a frame of silence, or an RFC 3389
// comfort-noise packet when the peer negotiated CN; none when disabled;
// and none while the host plays audio.
func TestIdleKeepAlive(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	cn := audio.Codec{Name: "CN", PayloadType: 13, ClockRate: 8000, Channels: 1}
	tests := []struct {
		name      string
		keepAlive time.Duration
		cn        bool
		play      bool
		want      int // packets in 5.5 s
		wantPT    uint8
		wantLen   int
	}{
		{name: "silence every second", want: 6, wantPT: audio.PayloadTypePCMU, wantLen: audio.FrameSamples},
		{name: "comfort noise every second", cn: true, want: 6, wantPT: 13, wantLen: 1},
		{name: "every 2 s", keepAlive: 2 * time.Second, want: 3, wantPT: audio.PayloadTypePCMU, wantLen: audio.FrameSamples},
		{name: "disabled", keepAlive: -1, want: 0},
		{name: "host plays audio", play: true, want: 275, wantPT: audio.PayloadTypePCMU, wantLen: audio.FrameSamples},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newSession(SessionConfig{IdleKeepAlive: tt.keepAlive})
			require.NoError(t, err)
			mp := sdp.MediaParams{RemoteRTP: peer, RemoteRTCP: peer, Codec: audio.PCMU(), Direction: sdp.SendRecv,
				Codecs: []audio.Codec{audio.PCMU()}}
			if tt.cn {
				mp.Codecs = append(mp.Codecs, cn)
			}
			require.NoError(t, s.SetRemote(mp))
			var got []pionrtp.Packet
			s.tx.sink = func(b []byte) {
				if isRTCP(b) {
					return
				}
				var p pionrtp.Packet
				require.NoError(t, p.Unmarshal(b))
				p.Payload = append([]byte(nil), p.Payload...)
				got = append(got, p)
			}
			frame := make([]int16, audio.FrameSamples)
			frame[0] = 1000
			t0 := time.Unix(4000, 0)
			for i := range 275 { // 5.5 s
				if tt.play {
					require.NoError(t, s.WriteFrame(context.Background(), frame))
				}
				now := t0.Add(time.Duration(i) * audio.FrameDuration)
				s.mu.Lock()
				s.tickLocked(now, now, true)
				s.mu.Unlock()
				s.flush()
			}
			require.Len(t, got, tt.want)
			for i, p := range got {
				require.Equal(t, tt.wantPT, p.PayloadType, "packet %d", i)
				require.Len(t, p.Payload, tt.wantLen, "packet %d", i)
				if i > 0 {
					require.Equal(t, got[i-1].SequenceNumber+1, p.SequenceNumber, "packet %d", i)
				}
			}
			if tt.cn {
				require.Equal(t, byte(cnSilenceLevel), got[0].Payload[0])
			}
		})
	}
}
