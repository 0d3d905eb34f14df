package wav

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dialtone/dialtone/rtp/audio"
)

// ToneDefaultAmplitude is the peak of each tone component when
// ToneConfig.Amplitude is zero: a quarter of full scale (about -12 dBFS).
const ToneDefaultAmplitude = 0.25

// ErrToneConfig reports an invalid ToneConfig.
var ErrToneConfig = errors.New("wav: invalid tone configuration")

// ToneConfig describes a sine tone, or the sum of two (for dual tones such as
// DTMF or the 350+440 Hz dial tone). The zero value of each optional field
// selects its documented default.
type ToneConfig struct {
	// Frequency in Hz; required, above 0 and below SampleRate/2.
	Frequency float64
	// Frequency2, when not zero, adds a second component of the same
	// amplitude; the same bounds as Frequency apply.
	Frequency2 float64
	// Amplitude is the peak of each component as a fraction of full scale,
	// in (0, 1]; 0 means ToneDefaultAmplitude. The sum of the components is
	// clipped to the int16 range.
	Amplitude float64
	// SampleRate in Hz; 0 means audio.SampleRate.
	SampleRate int
	// FrameSamples is the number of samples ReadFrame produces; 0 means
	// audio.FrameSamples.
	FrameSamples int
}

// ToneGenerator produces a continuous sine tone frame by frame. The phase
// carries over from one frame to the next, so consecutive frames join without
// a discontinuity. A ToneGenerator is not safe for concurrent use.
type ToneGenerator struct {
	step1, step2   float64 // phase increments in radians per sample
	phase1, phase2 float64
	amp            float64 // peak in int16 units
	two            bool
	frame          int
}

// NewToneGenerator validates cfg, fills its defaults and returns a generator
// whose phase starts at zero.
func NewToneGenerator(cfg ToneConfig) (*ToneGenerator, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = audio.SampleRate
	}
	if cfg.FrameSamples == 0 {
		cfg.FrameSamples = audio.FrameSamples
	}
	if cfg.Amplitude == 0 {
		cfg.Amplitude = ToneDefaultAmplitude
	}
	nyquist := float64(cfg.SampleRate) / 2
	switch {
	case cfg.SampleRate < 0 || cfg.FrameSamples < 0:
		return nil, fmt.Errorf("%w: sample rate %d, frame %d", ErrToneConfig, cfg.SampleRate, cfg.FrameSamples)
	case !(cfg.Frequency > 0 && cfg.Frequency < nyquist):
		return nil, fmt.Errorf("%w: frequency %g Hz outside (0, %g)", ErrToneConfig, cfg.Frequency, nyquist)
	case cfg.Frequency2 != 0 && !(cfg.Frequency2 > 0 && cfg.Frequency2 < nyquist):
		return nil, fmt.Errorf("%w: frequency2 %g Hz outside (0, %g)", ErrToneConfig, cfg.Frequency2, nyquist)
	case !(cfg.Amplitude > 0 && cfg.Amplitude <= 1):
		return nil, fmt.Errorf("%w: amplitude %g outside (0, 1]", ErrToneConfig, cfg.Amplitude)
	}
	rate := float64(cfg.SampleRate)
	return &ToneGenerator{
		step1: 2 * math.Pi * cfg.Frequency / rate,
		step2: 2 * math.Pi * cfg.Frequency2 / rate,
		amp:   cfg.Amplitude * math.MaxInt16,
		two:   cfg.Frequency2 != 0,
		frame: cfg.FrameSamples,
	}, nil
}

// ReadFrame appends one frame of the tone to dst and returns the extended
// slice. It never fails; the error result matches Reader.ReadFrame. It does
// not allocate when dst has room for a frame.
func (g *ToneGenerator) ReadFrame(dst []int16) ([]int16, error) {
	n := len(dst)
	dst = slices.Grow(dst, g.frame)[:len(dst)+g.frame]
	out := dst[n:]
	for i := range out {
		v := math.Sin(g.phase1)
		g.phase1 = toneWrap(g.phase1 + g.step1)
		if g.two {
			v += math.Sin(g.phase2)
			g.phase2 = toneWrap(g.phase2 + g.step2)
		}
		out[i] = toneClip(v * g.amp)
	}
	return dst, nil
}

func toneWrap(p float64) float64 {
	if p >= 2*math.Pi {
		p -= 2 * math.Pi
	}
	return p
}

func toneClip(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// SilenceSource produces frames of digital silence (all samples zero).
type SilenceSource struct {
	// FrameSamples is the number of samples per frame; 0 means
	// audio.FrameSamples.
	FrameSamples int
}

// ReadFrame appends one frame of silence to dst and returns the extended
// slice. It never fails.
func (s SilenceSource) ReadFrame(dst []int16) ([]int16, error) {
	n := s.FrameSamples
	if n <= 0 {
		n = audio.FrameSamples
	}
	l := len(dst)
	dst = slices.Grow(dst, n)[:len(dst)+n]
	clear(dst[l:])
	return dst, nil
}

// ToneLevel returns the power of the freq component of samples relative to a
// full-scale sine, computed with the Goertzel algorithm: a sine of peak
// amplitude A (as a fraction of full scale) at freq yields about A², so a
// full-scale tone gives 1 and a tone 20 dB lower gives 0.01. Energy at other
// frequencies leaks in through the rectangular window by roughly
// (sampleRate/(π·N·Δf))²; use at least a few hundred samples to separate
// tones closer than a few hundred hertz. It returns 0 for empty input, a
// non-positive sample rate or a frequency outside (0, sampleRate/2).
func ToneLevel(samples []int16, freq float64, sampleRate int) float64 {
	if len(samples) == 0 || sampleRate <= 0 || !(freq > 0 && freq < float64(sampleRate)/2) {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(sampleRate))
	var s1, s2 float64
	for _, x := range samples {
		s := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(samples))
	return power * 4 / (n * n) / (math.MaxInt16 * math.MaxInt16)
}
