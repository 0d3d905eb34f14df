package main

import (
	"math"
	"time"
)

// The end of a message: silence (a level and a duration), # or a length
// limit; the silence is judged frame by frame here, without I/O.

// Recording defaults (flags -silence-level, -silence, -max-message).
const (
	// DefaultSilenceLevel is the RMS level in dBFS below which a frame
	// is silence.
	DefaultSilenceLevel = -40.0
	// DefaultSilence is how long silence ends a message.
	DefaultSilence = 3 * time.Second
	// DefaultMaxMessage is the longest message.
	DefaultMaxMessage = 2 * time.Minute
)

// silenceDetector tells when a recording has been silent long enough.
type silenceDetector struct {
	threshold float64 // RMS in sample units
	need      int     // quiet samples that end the message
	quiet     int
	voiced    bool // a frame above the threshold was seen
}

// newSilenceDetector judges audio at rate Hz: level dBFS for d ends it.
func newSilenceDetector(levelDBFS float64, d time.Duration, rate int) *silenceDetector {
	return &silenceDetector{
		threshold: math.MaxInt16 * math.Pow(10, levelDBFS/20),
		need:      int(d.Seconds() * float64(rate)),
	}
}

// frame takes the next frame and reports whether the silence is long
// enough to end the recording.
func (d *silenceDetector) frame(samples []int16) bool {
	if len(samples) == 0 {
		return false
	}
	var sum float64
	for _, s := range samples {
		sum += float64(s) * float64(s)
	}
	if math.Sqrt(sum/float64(len(samples))) >= d.threshold {
		d.quiet, d.voiced = 0, true
		return false
	}
	d.quiet += len(samples)
	return d.quiet >= d.need
}
