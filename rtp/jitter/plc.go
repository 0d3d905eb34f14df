package jitter

import "math"

// Packet loss concealment settings, after ITU-T G.711 Appendix I, at
// 8 kHz.
const (
	// plcPitchMin and plcPitchMax bound the pitch period searched: 5 to
	// 15 ms (200 to 66 Hz).
	plcPitchMin = 40
	plcPitchMax = 120
	// plcCorrLen is the stretch of history matched against the one a
	// period earlier to find the pitch: 20 ms.
	plcCorrLen = 160
	// plcHistory is the audio kept for the search: 3.25 longest periods.
	plcHistory = 390
	// plcHistoryBuf is the memory the history slides along: played audio
	// is appended, and only when it reaches the end are the last
	// plcHistory samples moved back to the start (once every few packets,
	// instead of moving the history at each one).
	plcHistoryBuf = 4 * plcHistory
	// plcHold is how long concealment keeps the full level: 10 ms; it
	// then fades by 20 % every 10 ms, reaching silence at plcSilent
	// (60 ms).
	plcHold   = 80
	plcSilent = 480
	// plcOLAMin and plcOLAMax bound the overlap-add that joins the
	// concealment to the audio that follows it: 4 ms, 4 ms more per
	// 10 ms concealed, at most 10 ms.
	plcOLAMin = 32
	plcOLAMax = 80
)

// concealer fills lost audio by repeating the last pitch period of what
// was played (the waveform substitution of ITU-T G.711 Appendix I): it
// finds the period by correlation, repeats it in phase, fades it after
// 10 ms to silence at 60 ms, and cross-fades into the audio that resumes.
// It is part of a Buffer and as such not safe for concurrent use.
type concealer struct {
	hist   []int16 // the last samples played out, at most plcHistory: the end of buf
	buf    []int16 // hist's memory, plcHistoryBuf samples once used
	pitch  []int16 // the period being repeated
	pos    int     // next sample of pitch
	erased int     // samples concealed in the erasure in progress
}

// played records samples that are about to be played out as received.
// After an erasure it first cross-fades their start with the continued
// concealment, in place.
func (c *concealer) played(samples []int16) {
	if c.erased > 0 && len(c.pitch) > 0 {
		n := min(plcOLAMin+plcOLAMin*((c.erased-1)/plcHold), plcOLAMax, len(samples))
		for i := range n {
			syn := float64(c.next())
			w := float64(i+1) / float64(n+1)
			samples[i] = clamp16(syn*(1-w) + float64(samples[i])*w)
		}
	}
	c.erased = 0
	c.remember(samples)
}

// conceal fills out with concealment and records it as played.
func (c *concealer) conceal(out []int16) {
	if c.erased == 0 {
		c.findPitch()
	}
	if len(c.pitch) == 0 {
		clear(out)
	} else {
		for i := range out {
			out[i] = c.next()
		}
	}
	c.remember(out)
}

// next returns the next concealment sample at the level due.
func (c *concealer) next() int16 {
	v := c.pitch[c.pos]
	c.pos = (c.pos + 1) % len(c.pitch)
	e := c.erased
	c.erased++
	switch {
	case e < plcHold:
		return v
	case e >= plcSilent:
		return 0
	}
	return int16(int32(v) * int32(plcSilent-e) / (plcSilent - plcHold))
}

// remember appends samples to the history, keeping the last plcHistory.
func (c *concealer) remember(samples []int16) {
	if c.buf == nil {
		c.buf = make([]int16, 0, plcHistoryBuf)
	}
	if len(samples) >= plcHistory {
		c.buf = append(c.buf[:0], samples[len(samples)-plcHistory:]...)
		c.hist = c.buf
		return
	}
	if len(c.buf)+len(samples) > cap(c.buf) {
		keep := min(plcHistory-len(samples), len(c.buf))
		c.buf = c.buf[:copy(c.buf, c.buf[len(c.buf)-keep:])]
	}
	c.buf = append(c.buf, samples...)
	c.hist = c.buf[max(len(c.buf)-plcHistory, 0):]
}

// findPitch starts an erasure: the period whose shift best matches the
// end of the history with what came a period before (normalised
// cross-correlation), and the last period of history to repeat. As G.711
// Appendix I does, it searches in two steps: every other period over every
// other sample, then the periods next to the best at every sample, a
// quarter of the work of trying every period at every sample. The sums are
// integers (int16 products, at most plcCorrLen of them, fit an int64).
func (c *concealer) findPitch() {
	c.pitch, c.pos = c.pitch[:0], 0
	h := c.hist
	corr := min(plcCorrLen, len(h)-plcPitchMin)
	if corr < plcPitchMin {
		return // too little history: silence
	}
	hi := min(plcPitchMax, len(h)-corr)
	coarse, _ := bestPitch(h, corr, plcPitchMin, hi, 2, 0, math.Inf(-1))
	if coarse == 0 {
		return // silence before the loss: silence
	}
	// The coarse step sees only even periods, so for an odd one it finds
	// its double: the periods around half the best are tried first, and
	// win a tie.
	best, score := 0, math.Inf(-1)
	if half := coarse / 2; half >= plcPitchMin {
		best, score = bestPitch(h, corr, max(half-1, plcPitchMin), half+1, 1, best, score)
	}
	best, _ = bestPitch(h, corr, max(coarse-1, plcPitchMin), min(coarse+1, hi), 1, best, score)
	if best == 0 {
		return
	}
	c.pitch = append(c.pitch, h[len(h)-best:]...)
}

// bestPitch returns the period p in [lo, hi], stepping by step, whose
// stretch of corr samples ending p before the end of h correlates best with
// the last corr samples of h, both sampled every step samples, and its
// score; it starts from the best so far, best and bestScore, which a
// period must beat (0 and -Inf: none), and returns them when none does.
func bestPitch(h []int16, corr, lo, hi, step, best int, bestScore float64) (int, float64) {
	x := h[len(h)-corr:]
	for p := lo; p <= hi; p += step {
		y := h[len(h)-corr-p : len(h)-p]
		y = y[:len(x)]
		var xy, yy int64
		for i := 0; i < len(x); i += step {
			xi, yi := int64(x[i]), int64(y[i])
			xy += xi * yi
			yy += yi * yi
		}
		if yy == 0 {
			continue
		}
		if score := float64(xy) / math.Sqrt(float64(yy)); score > bestScore {
			best, bestScore = p, score
		}
	}
	return best, bestScore
}

// reset forgets the history (a new stream).
func (c *concealer) reset() {
	c.buf, c.pitch = c.buf[:0], c.pitch[:0]
	c.hist = c.buf
	c.pos, c.erased = 0, 0
}

func clamp16(v float64) int16 {
	return int16(min(max(math.Round(v), math.MinInt16), math.MaxInt16))
}
