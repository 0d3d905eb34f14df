package rtp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Opus' 48 kHz timestamps map to the jitter buffer's sample clock at 16
// and 8 kHz with exact differences: across the 32-bit wrap, out of order,
// after a jump that moves the reference, and unchanged at 48 kHz.
func TestTSScale(t *testing.T) {
	tests := []struct {
		name  string
		ratio uint32
		start uint32
		steps []int64 // each timestamp's offset from start, in 48 kHz ticks
	}{
		{"16 kHz across the wrap", 3, 0xffffffff - 2*960 + 1, []int64{0, 960, 1920, 2880, 3840}},
		{"8 kHz across the wrap", 6, 0xfffffa00, []int64{0, 960, 1920, 2880}},
		{"16 kHz reordered", 3, 1 << 31, []int64{0, 1920, 960, 2880, -960}},
		{"16 kHz, a jump past the reference's reach", 3, 100, []int64{0, 960, 1<<30 + 960, 1<<30 + 1920, 1<<31 - 960, 1<<31 + 960*7}},
		{"16 kHz, timestamps not on whole samples", 3, 7, []int64{0, 1, 2, 3, 4, -1, -2, -3, -4}},
		{"48 kHz is the identity", 1, 0xfffffc40, []int64{0, 960, 1920}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tsScale{ratio: tt.ratio}
			first := m.toSamples(tt.start)
			if tt.ratio == 1 {
				require.Equal(t, tt.start, first)
			}
			for _, d := range tt.steps {
				got := m.toSamples(tt.start + uint32(d))
				floor := d / int64(tt.ratio)
				if d%int64(tt.ratio) < 0 {
					floor--
				}
				require.Equal(t, uint32(floor), got-first, "%d ticks after the first", d)
			}
		})
	}
}
