package audio

import "math"

// DirectFormForTest converts src with every tap of the filter, the
// straightforward way, for comparison with Resampler.Convert.
func DirectFormForTest(up bool, src []int16) []int16 {
	x := make([]int16, halfbandTaps-1)
	if up {
		for _, v := range src {
			x = append(x, v, 0)
		}
	} else {
		x = append(x, src...)
	}
	step, gain := 2, int64(1)
	if up {
		step, gain = 1, 2
	}
	var out []int16
	for i := 0; i < len(x)-(halfbandTaps-1); i += step {
		var acc int64
		for k, h := range halfband {
			acc += int64(h) * int64(x[i+k])
		}
		out = append(out, int16(min(max(acc*gain>>15, math.MinInt16), math.MaxInt16)))
	}
	return out
}
