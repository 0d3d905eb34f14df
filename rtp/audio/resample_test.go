package audio_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
)

// sine returns n samples of a tone at amplitude amp (fraction of full scale).
func sine(hz float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return out
}

// level is the Goertzel power of hz in x relative to a full-scale sine.
func level(x []int16, hz float64, rate int) float64 {
	c := 2 * math.Cos(2*math.Pi*hz/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	n := float64(len(x))
	return (s1*s1 + s2*s2 - c*s1*s2) * 4 / (n * n) / (math.MaxInt16 * math.MaxInt16)
}

// Converted frame by frame, a tone keeps its frequency and level (within
// 1 dB) both ways; a 6 kHz tone, beyond the narrowband Nyquist rate, is
// filtered out (at least 40 dB down) rather than folded to 2 kHz; the
// output has twice or half the samples; converting in frames gives what
// converting the whole stream gives.
func TestResampler(t *testing.T) {
	tests := []struct {
		name          string
		up            bool
		hz            float64
		inRate, frame int
		wantHz        float64
		minLevel      float64
		maxLevel      float64
	}{
		{name: "up 1 kHz", up: true, hz: 1000, inRate: 8000, frame: 160, wantHz: 1000, minLevel: 0.25 * 0.79, maxLevel: 0.25 * 1.26},
		{name: "down 1 kHz", hz: 1000, inRate: 16000, frame: 320, wantHz: 1000, minLevel: 0.25 * 0.79, maxLevel: 0.25 * 1.26},
		{name: "down 6 kHz is not aliased", hz: 6000, inRate: 16000, frame: 320, wantHz: 2000, maxLevel: 0.25 * 1e-4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sine(tt.hz, tt.inRate, tt.frame*50, 0.5)
			r := audio.NewResampler(tt.up, 320)
			require.Equal(t, tt.up, r.Up())
			var out []int16
			for i := 0; i < len(in); i += tt.frame {
				out = r.Convert(out, in[i:i+tt.frame])
			}
			outRate := tt.inRate / 2
			if tt.up {
				require.Len(t, out, 2*len(in))
				outRate = tt.inRate * 2
			} else {
				require.Len(t, out, len(in)/2)
			}
			l := level(out[len(out)/4:], tt.wantHz, outRate)
			require.GreaterOrEqual(t, l, tt.minLevel)
			require.LessOrEqual(t, l, tt.maxLevel)

			whole := audio.NewResampler(tt.up, 0).Convert(nil, in)
			require.Equal(t, whole, out, "no seams between frames")
			r.Reset()
			require.Equal(t, whole[:len(out)/50], r.Convert(nil, in[:tt.frame]), "Reset starts a new stream")
		})
	}
}

// Full-scale input saturates instead of wrapping: the filter's overshoot
// on a full-scale step stays positive.
func TestResamplerClamps(t *testing.T) {
	for _, up := range []bool{true, false} {
		in := make([]int16, 320)
		for i := range in {
			in[i] = math.MaxInt16
		}
		out := audio.NewResampler(up, 640).Convert(nil, in)
		for i, v := range out[len(out)/2:] {
			require.Greater(t, v, int16(30000), "up=%v sample %d", up, i)
		}
	}
}

// The filter is half-band: its taps at an even, non-zero distance from
// the centre are zero, which Convert relies on to skip them.
func TestResamplerMatchesDirectForm(t *testing.T) {
	in := sine(1234, 8000, 800, 0.7)
	for i := range in {
		in[i] += int16(i*7919%2001 - 1000) // and some noise
	}
	for _, up := range []bool{true, false} {
		r := audio.NewResampler(up, 0)
		got := r.Convert(nil, in)
		want := audio.DirectFormForTest(up, in)
		require.Equal(t, want, got, "up=%v", up)
	}
}
