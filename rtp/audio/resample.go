package audio

import "math"

// Rate conversion between narrowband (8 kHz) and wideband (16 kHz) audio:
// the 2:1 ratio telephony needs (G.711 beside G.722). A half-band low-pass
// FIR (a Blackman-windowed sinc cut at a quarter of the high rate) runs
// before decimating or after zero-stuffing, with its history kept across
// frames so that a stream converted frame by frame has no seams.

// halfbandTaps is the filter's length: 3.4 kHz pass band, stop band from
// 4.6 kHz at 16 kHz, about 50 dB down.
const halfbandTaps = 31

// halfbandCentre is the index of the filter's centre tap.
const halfbandCentre = (halfbandTaps - 1) / 2

// halfband is the filter's coefficients in Q15, computed once.
var halfband = func() [halfbandTaps]int32 {
	var h [halfbandTaps]int32
	const m = halfbandTaps - 1
	var sum float64
	f := make([]float64, halfbandTaps)
	for n := range f {
		x := float64(n) - m/2
		sinc := 0.5
		if x != 0 {
			sinc = math.Sin(math.Pi*x/2) / (math.Pi * x)
		}
		w := 0.42 - 0.5*math.Cos(2*math.Pi*float64(n)/m) + 0.08*math.Cos(4*math.Pi*float64(n)/m) // Blackman
		f[n] = sinc * w
		sum += f[n]
	}
	for n := range f {
		h[n] = int32(math.Round(f[n] / sum * 32768)) // unity gain at DC
	}
	return h
}()

// Resampler converts one stream of 16-bit audio 2:1 down (16 kHz to 8 kHz)
// or 1:2 up (8 kHz to 16 kHz), frame by frame. It keeps the filter's
// history between calls, so use one per stream. It is not safe for
// concurrent use.
type Resampler struct {
	up   bool
	hist []int16 // the last halfbandTaps-1 high-rate samples
	buf  []int16 // high-rate scratch
}

// NewResampler returns a converter up (8 to 16 kHz) or down (16 to 8 kHz)
// whose scratch is sized for frames of up to maxHighSamples samples at the
// high rate; longer frames work too, at the cost of an allocation.
func NewResampler(up bool, maxHighSamples int) *Resampler {
	return &Resampler{up: up, hist: make([]int16, halfbandTaps-1), buf: make([]int16, 0, maxHighSamples+halfbandTaps)}
}

// Up reports whether r converts 8 kHz to 16 kHz.
func (r *Resampler) Up() bool { return r.up }

// Reset forgets the history, as for a new stream.
func (r *Resampler) Reset() { clear(r.hist) }

// Convert appends src converted to dst and returns it: twice as many
// samples up, half as many down (src's length should then be even).
func (r *Resampler) Convert(dst, src []int16) []int16 {
	x := append(r.buf[:0], r.hist...)
	if r.up {
		for _, v := range src {
			x = append(x, v, 0)
		}
	} else {
		x = append(x, src...)
	}
	r.buf = x
	high := len(x) - len(r.hist)
	// A half-band filter's taps at an even distance from the centre are
	// zero, so only the even taps and the centre count; and after
	// zero-stuffing, x is zero at odd indexes, so an odd output of the up
	// direction is the centre tap alone and an even one the even taps
	// alone (gain 2: zero-stuffing halves the level).
	if r.up {
		for i := 0; i < high; i++ {
			var acc int64
			if i%2 == 1 {
				acc = int64(halfband[halfbandCentre]) * int64(x[i+halfbandCentre])
			} else {
				acc = evenTaps(x[i : i+halfbandTaps])
			}
			dst = append(dst, clamp16(acc*2>>15))
		}
	} else {
		for i := 0; i < high; i += 2 {
			w := x[i : i+halfbandTaps]
			acc := evenTaps(w) + int64(halfband[halfbandCentre])*int64(w[halfbandCentre])
			dst = append(dst, clamp16(acc>>15))
		}
	}
	copy(r.hist, x[len(x)-len(r.hist):])
	return dst
}

// evenTaps is the sum of the even taps' products over w (halfbandTaps samples).
func evenTaps(w []int16) int64 {
	w = w[:halfbandTaps]
	var acc int64
	for k := 0; k < halfbandTaps; k += 2 {
		acc += int64(halfband[k]) * int64(w[k])
	}
	return acc
}

func clamp16(v int64) int16 { return int16(min(max(v, math.MinInt16), math.MaxInt16)) }
