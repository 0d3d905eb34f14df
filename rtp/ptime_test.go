package rtp

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The packetization time we send with: the peer's a=ptime, bounded by its
// a=maxptime and by ours.
func TestSendPtime(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		ptime, maxPtime int
		want            time.Duration
	}{
		{0, 0, 20 * ms},
		{30, 0, 30 * ms},
		{10, 0, 10 * ms},
		{0, 10, 10 * ms},
		{40, 30, 30 * ms},
		{120, 0, SessionMaxPtime},
		{0, 120, 20 * ms},
		{5, 0, SessionMinPtime},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("ptime %d maxptime %d", tt.ptime, tt.maxPtime), func(t *testing.T) {
			require.Equal(t, tt.want, sendPtime(tt.ptime, tt.maxPtime))
		})
	}
}
