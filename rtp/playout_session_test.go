package rtp

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// A peer sending packets of any duration (10 to 120 ms, or changing
// mid-stream) to a session with 20 ms frames: every frame the session
// plays out, and ReadFrame hands out, is the session's frame size, so
// WriteFrame takes it back (an echo); the audio comes out at the pace it
// went in, sample for sample, without silence inserted (once the buffer
// has seen the longest packet, when sizes change).
func TestSessionPlaysAnyPacketSize(t *testing.T) {
	tests := [][]int{{10}, {20}, {30}, {40}, {60}, {120}, {30, 60, 20, 10, 120}}
	for _, sizes := range tests {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			peer := netip.MustParseAddrPort("192.0.2.9:4000")
			s := testSession(t, peer)
			fs := s.FrameSamples()
			require.Equal(t, audio.FrameSamples, fs)

			// 3 s of a ramp, so any lost, repeated or reordered sample shows.
			const total = 3 * audio.SampleRate
			sig := make([]int16, total)
			for i := range sig {
				sig[i] = int16((i%400)*80 - 16000)
			}
			sig = g711.ULaw.Decode(nil, g711.ULaw.Encode(nil, sig))
			type pkt struct {
				at time.Time
				b  []byte
			}
			t0 := time.Unix(2000, 0)
			var pkts []pkt
			for off, i := 0, 0; off < total; i++ {
				n := min(sizes[i%len(sizes)]*audio.SampleRate/1000, total-off)
				b, err := g711.AppendPacket(nil, &pionrtp.Header{
					Version: 2, PayloadType: audio.PayloadTypePCMU, SequenceNumber: uint16(7 + i),
					Timestamp: uint32(900 + off), SSRC: 77,
				}, g711.ULaw, sig[off:off+n])
				require.NoError(t, err)
				off += n
				// A packet leaves once its audio is complete.
				pkts = append(pkts, pkt{at: t0.Add(time.Duration(off) * time.Second / audio.SampleRate), b: b})
			}
			var got []int16
			played, silentInside := 0, 0
			var h pionrtp.Header
			frame := make([]int16, 0, fs)
			ctx := context.Background()
			// Changing sizes: the buffer learns the longest packet when it
			// first arrives, having run dry once before; fixed sizes: never.
			adapt := 0
			if len(sizes) > 1 {
				adapt = 50
			}
			k := 0
			for now := t0; now.Before(pkts[len(pkts)-1].at.Add(time.Second)); now = now.Add(audio.FrameDuration) {
				for ; k < len(pkts) && !pkts[k].at.After(now); k++ {
					s.handleRTP(&h, pkts[k].b, peer, pkts[k].at, nil)
				}
				s.mu.Lock()
				concealed := s.jb.Stats().Concealed
				s.tickLocked(now, now, true)
				fillIn := s.jb.Stats().Concealed > concealed
				s.mu.Unlock()
				var err error
				frame, err = s.ReadFrame(ctx, frame[:0])
				require.NoError(t, err)
				require.Len(t, frame, fs, "ReadFrame hands out the frame size")
				require.NoError(t, s.WriteFrame(ctx, frame), "WriteFrame takes what ReadFrame gave")
				if len(got) >= total {
					// The stream is over; what follows (the buffer's
					// fill-ins while it waits in case the next packet is
					// late, then silence) is not part of it.
					continue
				}
				silent := true
				for _, v := range frame {
					if v != frame[0] || v > 8 || v < -8 {
						silent = false
						break
					}
				}
				if fillIn {
					// The buffer ran dry and filled in while awaiting
					// the next packet: only while it learns.
					if played > adapt {
						silentInside++
					}
					continue
				}
				if !silent {
					played++
					got = append(got, frame...)
				} else if played > adapt {
					silentInside++
				}
			}
			require.Zero(t, silentInside, "silence or fill-in inserted")
			require.Equal(t, total/fs, played, "played frames = the sender's duration")
			if adapt > 0 {
				// Audio resuming after a fill-in starts cross-faded
				// from it (G.711 Appendix I): from the second second on,
				// after the buffer learnt, the sender's audio exactly.
				from := audio.SampleRate
				require.Len(t, got, len(sig))
				require.Equal(t, sig[from:], got[from:], "the sender's audio, sample for sample")
			} else {
				require.Equal(t, sig, got, "the sender's audio, sample for sample")
			}
			st := s.Stats()
			require.Zero(t, st.Playout.Lost)
			// Concealment inside the stream would have shown above; the
			// fill-ins after its end are at most the target delay's, in
			// packets of the last size.
			last := time.Duration(sizes[(len(pkts)-1)%len(sizes)]) * time.Millisecond
			require.LessOrEqual(t, st.Playout.Concealed, uint64(st.Playout.Target/last)+uint64(adapt))
		})
	}
}
