package g722

// The constants of ITU-T G.722 (tables 5 to 12 and 14 to 16 of the
// Recommendation), in the integer scaling of its fixed-point description.

// qmfCoeffs are the 24 QMF coefficients h0..h23 in units of 2^-13
// (h0 = 3/8192 = 0.366211E-03). The filter is symmetric: h[i] == h[23-i].
var qmfCoeffs = [24]int32{
	3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
	3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
}

// q6 are the lower-band quantizer decision levels (table 6): interval m
// (1 to 30) of the magnitude, in units of the scale factor / 2^12, is
// [q6[m-1], q6[m]), the last one open.
var q6 = [30]int32{
	0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
	714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980,
	2195, 2557, 2919,
}

// q6Search is q6 for QUANTL's search: index 0 and 30, 31 out of reach.
// Comparing m >= q6Search[k]*det>>12 is the Recommendation's
// m >= ((q6[k]<<3)*det)>>15.
var q6Search = func() (t [32]int64) {
	for k := range t {
		t[k] = 1 << 30
		if k > 0 && k < len(q6) {
			t[k] = int64(q6[k])
		}
	}
	return t
}()

// ilnCode and ilpCode map an interval m (1 to 30) of q6 to the 6-bit
// lower-band code of a negative and a positive difference (table 6).
// Codes 0 to 3 are never sent.
var (
	ilnCode = [31]uint8{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21,
		20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4}
	ilpCode = [31]uint8{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49,
		48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32}
)

// qm6, qm5 and qm4 are the lower-band inverse quantizer outputs (tables 7
// to 9) for a 6-, 5- and 4-bit code, in units of the scale factor / 2^15.
var (
	qm6 = [64]int32{
		-136, -136, -136, -136, -24808, -21904, -19008, -16704,
		-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
		-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
		-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
		24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
		10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
		4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
		1688, 1360, 1040, 728, 432, 136, -432, -136,
	}
	qm5 = [32]int32{
		-280, -280, -23352, -17560, -14120, -11664, -9752, -8184,
		-6864, -5712, -4696, -3784, -2960, -2208, -1520, -880,
		23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712,
		4696, 3784, 2960, 2208, 1520, 880, 280, -280,
	}
	qm4 = [16]int32{
		0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
		20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
	}
)

// Lower-band logarithmic scale factor adaptation (tables 10 and 11):
// wl[rl42[code>>2]] is added to the leaky log scale factor.
var (
	rl42 = [16]uint8{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
)

// ilb is the log-to-linear table of the scale factors (table 12):
// ilb[i] = round(2048 * 2^(i/32)).
var ilb = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599,
	2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// Higher band (tables 14 to 16): the 2-bit code of a negative and a
// positive difference by interval (1 small, 2 large), the inverse quantizer
// outputs, and the log scale factor adaptation wh[rh2[code]].
var (
	ihnCode = [3]uint8{0, 1, 0}
	ihpCode = [3]uint8{0, 3, 2}
	qm2     = [4]int32{-7408, -1616, 7408, 1616}
	rh2     = [4]uint8{2, 1, 2, 1}
	wh      = [3]int32{0, -214, 798}
)

const (
	// q2 is the higher-band decision level (564 << 3), in units of the
	// scale factor / 2^15.
	q2 = 564 << 3
	// Log scale factor leakage factor (32512 / 2^15 = 127/128) and limits.
	logLeak    = 32512
	nblMax     = 18432
	nbhMax     = 22528
	detLowMin  = 32 // scale factor at log 0 in the lower band
	detHighMin = 8  // and in the higher band
	// scaleShiftLow and scaleShiftHigh are the right shifts that SCALEL
	// and SCALEH apply at log scale factor 0.
	scaleShiftLow  = 8
	scaleShiftHigh = 10
)
