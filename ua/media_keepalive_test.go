package ua_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/ua"
)

// rtpCounter is a PacketTracer that keeps what a UA's sessions received.
type rtpCounter struct {
	mu   sync.Mutex
	rtp  []rtpSeen
	rtcp []time.Time
}

type rtpSeen struct {
	at      time.Time
	pt      uint8
	payload int
}

func (c *rtpCounter) TracePacket(p rtp.PacketTrace) {
	if p.Sent {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.RTCP {
		c.rtcp = append(c.rtcp, p.Time)
		return
	}
	var h pionrtp.Header
	n, err := h.Unmarshal(p.Data)
	if err != nil {
		return
	}
	c.rtp = append(c.rtp, rtpSeen{at: p.Time, pt: h.PayloadType, payload: len(p.Data) - n})
}

// since returns the RTP packets and the count of RTCP packets received
// after t.
func (c *rtpCounter) since(t time.Time) ([]rtpSeen, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []rtpSeen
	for _, p := range c.rtp {
		if p.at.After(t) {
			out = append(out, p)
		}
	}
	n := 0
	for _, at := range c.rtcp {
		if at.After(t) {
			n++
		}
	}
	return out, n
}

// A call held for 3 s: the side whose direction keeps it from sending
// media sends an RTP keep-alive every second instead (RFC 6263; the
// default IdleKeepAlive), so that NAT bindings hold: a comfort-noise
// packet when CN was negotiated (§4.2), else a packet without payload of a
// dynamic payload type the answer did not map (§4.6). RTCP goes on. With a
// sendonly hold the held side (recvonly) sends them; with inactive both do.
func TestMediaHoldKeepAlive(t *testing.T) {
	cn := audio.Codec{Name: "CN", PayloadType: 13, ClockRate: 8000, Channels: 1}
	withCN := []audio.Codec{audio.PCMU(), audio.TelephoneEvent(), cn}
	tests := []struct {
		name     string
		codecs   []audio.Codec
		inactive bool
	}{
		{"sendonly hold, bare keep-alives", nil, false},
		{"sendonly hold, comfort noise", withCN, false},
		{"inactive, bare keep-alives", nil, true},
		{"inactive, comfort noise", withCN, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			ta, tb := &rtpCounter{}, &rtpCounter{}
			cfg := ua.MediaConfig{Codecs: tt.codecs, RTCPInterval: time.Second}
			cfg.Tracer = ta
			a := newMediaPeer(t, cfg)
			cfg.Tracer = tb
			b := newMediaPeer(t, cfg)
			out, in := connect(ctx, t, a, b, ua.DialOptions{})
			ma, mb := out.Media(), in.Media()
			record(ctx, t, ma, 5)

			if tt.inactive {
				require.NoError(t, out.Reinvite(ctx, sdp.SetDirection(out.LocalSDP(), sdp.Inactive)))
			} else {
				require.NoError(t, out.Hold(ctx))
			}
			pb, _ := in.MediaParams()
			require.False(t, pb.Direction.Sends(), "the held side may not send media")
			record(ctx, t, ma, 5) // media in flight lands
			start := time.Now()
			kaB, silB := mb.Stats().KeepAlivesSent, mb.Stats().SilenceFramesSent
			record(ctx, t, ma, 150) // 3 s
			end := time.Now()

			// What the holder received from the held side: keep-alives
			// only, about one a second.
			got, rtcp := ta.since(start)
			got = slices.DeleteFunc(got, func(p rtpSeen) bool { return p.at.After(end) })
			t.Logf("holder received %d RTP packets and %d RTCP in %v", len(got), rtcp, end.Sub(start))
			require.GreaterOrEqual(t, len(got), 2, "keep-alives in 3 s")
			require.LessOrEqual(t, len(got), 4, "keep-alives in 3 s, not media")
			for _, p := range got {
				if tt.codecs != nil {
					require.Equal(t, cn.PayloadType, p.pt, "comfort noise (RFC 6263 §4.2)")
					require.Equal(t, 1, p.payload, "the noise level only")
				} else {
					require.GreaterOrEqual(t, p.pt, uint8(96), "a dynamic payload type (RFC 6263 §4.6)")
					require.False(t, slices.ContainsFunc(pb.Codecs, func(c audio.Codec) bool { return c.PayloadType == p.pt }), "not one the answer mapped")
					require.Zero(t, p.payload, "no payload")
				}
			}
			require.Positive(t, rtcp, "RTCP goes on while held")
			require.Greater(t, mb.Stats().KeepAlivesSent, kaB)
			require.Equal(t, silB, mb.Stats().SilenceFramesSent, "no silence stream while held")

			// What the held side received: the holder's media stream when
			// it holds with sendonly (silence, as the host plays nothing);
			// keep-alives too when inactive.
			gotB, _ := tb.since(start)
			gotB = slices.DeleteFunc(gotB, func(p rtpSeen) bool { return p.at.After(end) })
			t.Logf("held side received %d RTP packets", len(gotB))
			if tt.inactive {
				require.GreaterOrEqual(t, len(gotB), 2)
				require.LessOrEqual(t, len(gotB), 4)
			} else if tt.codecs == nil {
				require.Greater(t, len(gotB), 100, "the holder's silence stream")
			}

			require.NoError(t, out.Resume(ctx))
			require.NoError(t, in.Hangup(ctx))
			<-out.Done()
		})
	}
}
