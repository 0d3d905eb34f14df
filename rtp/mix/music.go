package mix

import (
	"time"

	"github.com/dialtone/dialtone/rtp"
)

// musicState plays Config.AloneMusic to a member alone in the mix: it
// starts from the loop's beginning each time a member is left alone (the
// first to arrive, or the last after the others left) and stops as soon
// as a second one joins.
type musicState struct {
	loop *rtp.Loop
	pos  time.Duration // in the loop; 0 while the member is not alone
	buf  []int16       // scratch frame at the mix rate
}

// addTo adds the next period of music to sum, at rate, when alone; it
// reports whether it did.
func (ms *musicState) addTo(sum []int32, rate int, alone bool) bool {
	if ms.loop == nil {
		return false
	}
	if !alone {
		ms.pos = 0
		return false
	}
	ms.buf, ms.pos = ms.loop.AppendAt(ms.buf[:0], ms.pos, len(sum), rate)
	for i, v := range ms.buf {
		sum[i] += int32(v)
	}
	return true
}
