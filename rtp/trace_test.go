package rtp_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// packetLog is a PacketTracer that keeps copies of what it sees.
type packetLog struct {
	mu   sync.Mutex
	pkts []rtp.PacketTrace
}

func (l *packetLog) TracePacket(p rtp.PacketTrace) {
	p.Data = bytes.Clone(p.Data)
	l.mu.Lock()
	l.pkts = append(l.pkts, p)
	l.mu.Unlock()
}

func (l *packetLog) snapshot() []rtp.PacketTrace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rtp.PacketTrace(nil), l.pkts...)
}

// count returns how many packets match sent and rtcp.
func (l *packetLog) count(sent, rtcp bool) int {
	n := 0
	for _, p := range l.snapshot() {
		if p.Sent == sent && p.RTCP == rtcp {
			n++
		}
	}
	return n
}

// The tracer sees the RTP and RTCP each session sends and receives, with
// the sockets' addresses, and the final RTCP BYE of Close.
func TestSessionTracer(t *testing.T) {
	for _, mux := range []bool{false, true} {
		t.Run(map[bool]string{false: "pair", true: "rtcp-mux"}[mux], func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			var la, lb packetLog
			cfg := rtp.SessionConfig{Ports: ports, RTCPMux: mux,
				RTCPInterval: 50 * time.Millisecond, RTCPBandwidth: 64000}
			cfg.Tracer = &la
			a := newTestSession(t, cfg)
			cfg.Tracer = &lb
			b := newTestSession(t, cfg)
			connect(t, a, b, mux)
			waitFor(ctx, t, b, "RTCP both ways", func() bool {
				return la.count(false, true) > 0 && lb.count(false, true) > 0 && la.count(false, false) > 0
			})
			aRTP, aRTCP, bRTP, bRTCP := a.LocalAddr(), a.LocalRTCPAddr(), b.LocalAddr(), b.LocalRTCPAddr()
			require.NoError(t, a.Close())
			waitFor(ctx, t, b, "BYE", func() bool { return b.Stats().RTCP.RemoteBye })

			ast := a.Stats()
			pkts := la.snapshot()
			var sentRTP uint64
			for _, p := range pkts {
				require.False(t, p.Time.IsZero())
				if p.Sent {
					require.Equal(t, aRTP.Addr(), p.Local.Addr())
				}
				if p.RTCP {
					if !mux {
						require.Equal(t, aRTCP, p.Local)
						require.Equal(t, bRTCP, p.Remote)
					}
					continue
				}
				require.Equal(t, aRTP, p.Local)
				require.Equal(t, bRTP, p.Remote)
				var h pionrtp.Header
				_, err := h.Unmarshal(p.Data)
				require.NoError(t, err)
				if p.Sent {
					sentRTP++
					require.Equal(t, a.SSRC(), h.SSRC)
				} else {
					require.Equal(t, b.SSRC(), h.SSRC)
				}
			}
			require.Equal(t, ast.PacketsSent, sentRTP, "every RTP packet sent is traced once")
			last := pkts[len(pkts)-1]
			require.True(t, last.Sent && last.RTCP, "the last packet is Close's RTCP BYE")
			require.Positive(t, lb.count(true, false))
			require.Positive(t, lb.count(true, true))
		})
	}
}
