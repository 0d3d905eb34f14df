package g722

// band is the ADPCM state of one sub-band that encoder and decoder keep in
// step: the pole-zero predictor (blocks 4L/4H of G.722) and the scale factor
// (blocks 3L/3H). All values stay in 16-bit range, as in the Recommendation.
type band struct {
	s  int32    // predictor output for the next sample (PREDIC)
	sz int32    // its zero-section part (FILTEZ)
	r1 int32    // reconstructed signal, one sample back
	r2 int32    // and two samples back
	p1 int32    // partially reconstructed signal, one sample back
	p2 int32    // and two samples back
	a1 int32    // first pole coefficient
	a2 int32    // second pole coefficient
	b  [6]int32 // zero coefficients b1..b6
	d  [6]int32 // quantized differences, one to six samples back
	nb int32    // logarithmic scale factor
	de int32    // linear scale factor (DETL/DETH)
}

func (b *band) reset(det int32) {
	*b = band{de: det}
}

// sat16 saturates v to the 16-bit range, as every addition of the
// Recommendation's fixed-point arithmetic does. (min and max compile to
// conditional moves: the codec's hot paths have no data-dependent branch.)
func sat16(v int32) int32 { return min(max(v, -32768), 32767) }

// limit15 is the Recommendation's LIMIT block: the sub-band signals are
// 15-bit values.
func limit15(v int32) int32 { return min(max(v, -16384), 16383) }

// clampAbs clamps v to [-m, m].
func clampAbs(v, m int32) int32 { return min(max(v, -m), m) }

// mag is the magnitude the quantizers compare: v for v >= 0 and -(v+1)
// (the one's complement) below, so it never overflows. v>>31 is 0 or -1.
func mag(v int32) int32 { return v ^ v>>31 }

// negIf returns v when mask is 0 and -v when mask is -1; the masks are
// differences of signs, x>>15 ^ y>>15 for 16-bit x and y.
func negIf(v, mask int32) int32 { return (v ^ mask) - mask }

// adaptScale is LOGSCL/LOGSCH followed by SCALEL/SCALEH: the log scale
// factor leaks by 127/128 and moves by step, stays within [0, max], and the
// linear scale factor is 4 * 2^(nb/2048 - shift) by way of the ilb table.
func (b *band) adaptScale(step, max, shift int32) {
	nb := (b.nb*logLeak)>>15 + step
	if nb < 0 {
		nb = 0
	} else if nb > max {
		nb = max
	}
	b.nb = nb
	lin := ilb[(nb>>6)&31]
	if e := nb>>11 - shift; e < 0 {
		lin >>= -e
	} else {
		lin <<= e
	}
	b.de = lin << 2
}

// update runs the rest of block 4 for the quantized difference d of the
// current sample: RECONS, PARREC, the coefficient updates UPPOL2, UPPOL1
// and UPZERO, the delays (DELAYA), and FILTEP, FILTEZ and PREDIC, which
// leave the prediction of the next sample in b.s.
func (b *band) update(d int32) {
	r := sat16(b.s + d)  // RECONS
	p := sat16(b.sz + d) // PARREC

	// UPPOL2: the second pole coefficient follows the signs of p over
	// three samples, limited to ±0.375.
	sg0 := p >> 15
	diff1, diff2 := sg0^b.p1>>15, sg0^b.p2>>15 // -1 where the signs differ
	wd2 := min(negIf(sat16(b.a1<<2), ^diff1), 32767)
	a2 := clampAbs(wd2>>7+negIf(128, diff2)+(b.a2*logLeak)>>15, 12288)

	// UPPOL1: the first pole coefficient, kept within ±(1 - 2^-4 - a2)
	// for stability.
	a1 := clampAbs(negIf(192, diff1)+(b.a1*32640)>>15, 15360-a2)

	// UPZERO: the zero coefficients follow the sign correlation of d with
	// its six predecessors, with leakage 255/256.
	var step int32
	if d != 0 {
		step = 128
	}
	dsg := d >> 15
	for i := range b.b {
		b.b[i] = sat16(negIf(step, dsg^b.d[i]>>15) + (b.b[i]*32640)>>15)
	}

	// DELAYA.
	copy(b.d[1:], b.d[:5])
	b.d[0] = d
	b.r2, b.r1 = b.r1, r
	b.p2, b.p1 = b.p1, p
	b.a1, b.a2 = a1, a2

	// FILTEZ, FILTEP, PREDIC.
	var sz int32
	for i := range b.b {
		sz = sat16(sz + (sat16(b.d[i]+b.d[i])*b.b[i])>>15)
	}
	sp := sat16((b.a1*sat16(b.r1+b.r1))>>15 + (b.a2*sat16(b.r2+b.r2))>>15)
	b.sz = sz
	b.s = sat16(sp + sz)
}
