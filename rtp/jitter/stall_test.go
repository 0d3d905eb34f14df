package jitter

import (
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/stretchr/testify/require"
)

// A stall inside a talkspurt: the network holds packets up for a while,
// then delivers them in a burst; none is lost. The buffer, run dry by the
// stall, conceals instead of playing silence, keeps waiting for the late
// packets and plays them when they come: its delay grows by the fill-ins,
// no frame of silence is emitted, nothing is lost or late, and the playout
// is the sender's audio, one frame longer at most.
func TestPlayoutStallInsideTalkspurt(t *testing.T) {
	sig := patternSignal(2 * audio.SampleRate)
	frame := audio.FrameSamples
	tests := []struct {
		name      string
		stall     time.Duration
		wantFills int // fill-ins: the stall beyond the buffer's 40 ms
	}{
		{"no stall", 0, 0},
		{"20 ms stall", 20 * time.Millisecond, 0},
		{"40 ms stall", 40 * time.Millisecond, 0},
		{"60 ms stall", 60 * time.Millisecond, 1},
	}
	base := -1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts := arrivalPattern{sizes: []int{20}}.build(sig, 1)
			// Packets 50.. are held up for the stall: each arrives no
			// earlier than the one due when the stall ends.
			const at = 50
			release := pkts[at].arrival.Add(tt.stall)
			for i := at; i < len(pkts) && pkts[i].arrival.Before(release); i++ {
				pkts[i].arrival = release
			}
			r := playPattern(t, Config{}, pkts)
			t.Logf("%d frames out for %d sent, fill-ins %d, stats %+v", len(r.out)/frame, len(sig)/frame, r.concealedPops, r.stats)

			require.Zero(t, r.emptyInside, "no silence inside the talkspurt")
			for k := 0; k+frame <= len(r.out); k += frame {
				require.False(t, allZero(r.out[k:k+frame]), "frame %d is silence", k/frame)
			}
			require.Zero(t, r.stats.Lost, "nothing lost")
			require.Zero(t, r.stats.Late, "nothing late")
			require.Zero(t, r.stats.Discarded, "nothing discarded")
			require.Equal(t, tt.wantFills, r.concealedPops, "fill-ins while the late packets were awaited")
			require.InDelta(t, len(sig), len(r.out), float64(frame), "playout length = sender's duration within one frame")
			// Every received sample plays, in order, the fill-ins aside;
			// the frame after a fill-in begins cross-faded from it
			// (G.711 Appendix I), the rest of it as received.
			kept := withoutFrames(r.out, r.concealedAt, frame)
			require.Len(t, kept, len(sig))
			for k := 0; k < len(sig); k += frame {
				from := k
				for i, d := range r.concealedAt {
					if d-i == k/frame {
						from = k + plcOLAMax
					}
				}
				require.Equal(t, sig[from:k+frame], kept[from:k+frame], "frame %d as sent", k/frame)
			}
			// The delay grew by the fill-ins: the stream ends that much
			// later than without the stall.
			end := r.firstPlayedPop + len(r.out)/frame
			if base < 0 {
				base = end
			}
			require.Equal(t, base+tt.wantFills, end, "playout delay grown by the fill-ins")
		})
	}
}

func allZero(s []int16) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// withoutFrames returns out without the frames at the given indexes.
func withoutFrames(out []int16, drop []int, frame int) []int16 {
	var kept []int16
	for k := 0; k*frame < len(out); k++ {
		skip := false
		for _, d := range drop {
			skip = skip || d == k
		}
		if !skip {
			kept = append(kept, out[k*frame:min((k+1)*frame, len(out))]...)
		}
	}
	return kept
}
