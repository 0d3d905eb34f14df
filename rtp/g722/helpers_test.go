package g722

import (
	"math"
	"math/rand/v2"
)

// sine returns n samples of a tone of freq Hz at amplitude amp (of 32767)
// sampled at SampleRate.
func sine(freq, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/SampleRate)))
	}
	return out
}

// speechLike returns n samples of a signal with a spectrum over the whole
// band: a few harmonics of a gliding fundamental under a slow envelope, plus
// some noise, deterministic for a seed.
func speechLike(n int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]int16, n)
	var phase float64
	for i := range out {
		t := float64(i) / SampleRate
		f0 := 140 + 60*math.Sin(2*math.Pi*1.3*t)
		phase += 2 * math.Pi * f0 / SampleRate
		var v float64
		for k := 1; k <= 40; k++ {
			if f := float64(k) * f0; f < 7500 {
				v += math.Sin(float64(k)*phase) / float64(k)
			}
		}
		env := 0.55 + 0.45*math.Sin(2*math.Pi*3*t)
		v = 6000*env*v + 300*rng.NormFloat64()
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// encodeAll and decodeAll code a whole signal with a fresh codec.
func encodeAll(pcm []int16) []byte { return NewEncoder().Encode(nil, pcm) }

func decodeAll(payload []byte) []int16 { return NewDecoder().Decode(nil, payload) }

// bestDelay returns the lag in [0, maxLag] at which out best matches ref
// (out[i+lag] ~ ref[i]), by normalized cross-correlation.
func bestDelay(ref, out []int16, maxLag int) int {
	best, bestScore := 0, math.Inf(-1)
	for lag := 0; lag <= maxLag; lag++ {
		var xy, yy float64
		for i := 0; i+lag < len(out) && i < len(ref); i++ {
			x, y := float64(ref[i]), float64(out[i+lag])
			xy += x * y
			yy += y * y
		}
		if yy == 0 {
			continue
		}
		if score := xy / math.Sqrt(yy); score > bestScore {
			best, bestScore = lag, score
		}
	}
	return best
}

// snrDB is the signal-to-noise ratio in dB of out against ref delayed by
// lag, over the samples from skip on (past the codec's adaptation).
func snrDB(ref, out []int16, lag, skip int) float64 {
	var sig, noise float64
	for i := skip; i+lag < len(out) && i < len(ref); i++ {
		x := float64(ref[i])
		e := float64(out[i+lag]) - x
		sig += x * x
		noise += e * e
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// power is the mean power of x at freq Hz (Goertzel), from skip on.
func power(x []int16, freq float64, skip int) float64 {
	w := 2 * math.Pi * freq / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	n := 0
	for _, v := range x[skip:] {
		s1, s2 = float64(v)+c*s1-s2, s1
		n++
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return p / float64(n*n)
}
