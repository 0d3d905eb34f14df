package jitter

import (
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
