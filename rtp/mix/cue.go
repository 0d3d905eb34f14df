package mix

import (
	"fmt"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// Cue queues audio that every member hears once, on top of the room: a
// join or leave tone, an announcement. samples are at rate (8000 or
// 16000) and are copied; they are converted to the mix rate as they play.
// A cue that would queue more than Config.MaxCue gives ErrCueFull.
func (m *Mixer) Cue(samples []int16, rate int) error {
	if rate != NarrowbandRate && rate != WidebandRate {
		return fmt.Errorf("%w: cue at %d Hz", ErrRate, rate)
	}
	wide := samples
	if rate == NarrowbandRate {
		wide = audio.NewResampler(true, 2*len(samples)).Convert(make([]int16, 0, 2*len(samples)), samples)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if len(m.cue.buf)-m.cue.pos+len(wide) > m.cue.max {
		return fmt.Errorf("%w: %v queued at most", ErrCueFull, time.Duration(m.cue.max)*time.Second/WidebandRate)
	}
	m.cue.push(wide)
	return nil
}

// cueQueue holds the cues not yet played, at 16 kHz.
type cueQueue struct {
	max  int     // samples at 16 kHz
	buf  []int16 // buf[pos:] is still to play
	pos  int
	down *audio.Resampler // to 8 kHz for a narrowband mix
	tmp  []int16
}

func (q *cueQueue) push(wide []int16) {
	if q.pos == len(q.buf) {
		q.buf, q.pos = q.buf[:0], 0
	}
	q.buf = append(q.buf, wide...)
}

// addTo adds the next period of cue to sum, at rate.
func (q *cueQueue) addTo(sum []int32, rate int) {
	if q.pos == len(q.buf) {
		return
	}
	n := min(len(q.buf)-q.pos, 2*len(sum)/(rate/NarrowbandRate)) // a period at 16 kHz
	chunk := q.buf[q.pos : q.pos+n]
	q.pos += n
	if rate == NarrowbandRate {
		if q.down == nil {
			q.down = audio.NewResampler(false, 2*len(sum))
		}
		q.tmp = q.down.Convert(q.tmp[:0], chunk)
		chunk = q.tmp
	}
	for i, v := range chunk[:min(len(chunk), len(sum))] {
		sum[i] += int32(v)
	}
}
