package jitter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The concealer's history is the last plcHistory samples played, whatever
// the sizes of the packets that brought them, through the moves of its
// sliding memory.
func TestConcealerHistory(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"20 ms", []int{160}},
		{"30 ms", []int{240}},
		{"10 ms", []int{80}},
		{"longer than the history", []int{480}},
		{"changing sizes", []int{80, 160, 240, 400, 1, 160, 389, 390, 391}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var c concealer
			var all []int16
			for i := range 100 {
				p := make([]int16, tt.sizes[i%len(tt.sizes)])
				for j := range p {
					p[j] = int16(r.IntN(65536) - 32768)
				}
				c.remember(p)
				all = append(all, p...)
				want := all[max(len(all)-plcHistory, 0):]
				require.Equal(t, want, c.hist, "after packet %d", i)
				require.LessOrEqual(t, cap(c.buf), plcHistoryBuf, "the memory stays bounded")
			}
			c.reset()
			require.Empty(t, c.hist)
			c.remember([]int16{1, 2})
			require.Equal(t, []int16{1, 2}, c.hist)
		})
	}
}

// periodic returns n samples repeating one period of p samples of a
// waveform rich in harmonics (a pulse train through a decay), exactly.
func periodic(p, n int) []int16 {
	period := make([]int16, p)
	for i := range period {
		v := 9000 * math.Exp(-float64(i)/(float64(p)/5)) * math.Cos(2*math.Pi*3*float64(i)/float64(p))
		period[i] = int16(v)
	}
	out := make([]int16, n)
	for i := range out {
		out[i] = period[i%p]
	}
	return out
}

// The two-step search finds the period of a periodic history, odd or even,
// anywhere in the range searched, and repeats its last period; silence
// gives no period.
func TestConcealerFindPitch(t *testing.T) {
	for _, p := range []int{plcPitchMin, 41, 57, 64, 80, 99, 119, plcPitchMax} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			var c concealer
			c.remember(periodic(p, plcHistory))
			c.findPitch()
			require.Len(t, c.pitch, p)
			require.Equal(t, c.hist[len(c.hist)-p:], c.pitch)
		})
	}
	var c concealer
	c.remember(make([]int16, plcHistory))
	c.findPitch()
	require.Empty(t, c.pitch, "silence")
	c.reset()
	c.remember(periodic(64, plcPitchMin+plcPitchMin-1))
	c.findPitch()
	require.Empty(t, c.pitch, "too little history")
}

// BenchmarkConcealerFindPitch is the search that starts each erasure.
func BenchmarkConcealerFindPitch(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h := periodic(77, plcHistory)
	for i := range h {
		h[i] += int16(r.IntN(200) - 100)
	}
	var c concealer
	c.remember(h)
	for b.Loop() {
		c.findPitch()
	}
}
