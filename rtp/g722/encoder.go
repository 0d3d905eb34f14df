package g722

import "slices"

// Encoder codes 16 kHz 16-bit PCM as 64 kbit/s G.722 (the full 8 bits of
// each octet). It holds the state of one stream and is not safe for
// concurrent use. The zero value is not ready; use NewEncoder.
type Encoder struct {
	x       [24]int32 // transmit QMF delay line, newest sample first
	lo, hi  band
	held    int16 // the odd sample left over from the last Encode
	holding bool
}

// NewEncoder returns an Encoder in the Recommendation's initial state.
func NewEncoder() *Encoder {
	e := new(Encoder)
	e.Reset()
	return e
}

// Reset returns the Encoder to its initial state, as for a new stream, and
// drops a held odd sample.
func (e *Encoder) Reset() {
	*e = Encoder{}
	e.lo.reset(detLowMin)
	e.hi.reset(detHighMin)
}

// Buffered reports how many samples (0 or 1) the Encoder holds from an odd
// count of samples given to Encode so far.
func (e *Encoder) Buffered() int {
	if e.holding {
		return 1
	}
	return 0
}

// Encode codes pcm and appends the octets to dst, returning the extended
// slice. Each pair of samples gives one octet; with a sample held from the
// previous call, that sample is the first of the first pair, and an odd
// sample left at the end is held for the next call. Encode allocates only
// when dst lacks room for the (Buffered()+len(pcm))/2 octets.
func (e *Encoder) Encode(dst []byte, pcm []int16) []byte {
	n := (e.Buffered() + len(pcm)) / 2
	dst = slices.Grow(dst, n)
	if e.holding && len(pcm) > 0 {
		dst = append(dst, e.encodePair(e.held, pcm[0]))
		pcm = pcm[1:]
		e.holding = false
	}
	for len(pcm) >= 2 {
		dst = append(dst, e.encodePair(pcm[0], pcm[1]))
		pcm = pcm[2:]
	}
	if len(pcm) == 1 {
		e.held, e.holding = pcm[0], true
	}
	return dst
}

// encodePair runs the transmit QMF on two consecutive samples (s0 first)
// and codes the two sub-band samples it yields into one octet.
func (e *Encoder) encodePair(s0, s1 int16) byte {
	x := &e.x
	copy(x[2:], x[:22])
	x[1], x[0] = int32(s0), int32(s1)
	// XA sums the even taps, XB the odd ones; the lower band is their sum,
	// the higher band their difference. The 16-bit input makes the
	// sub-bands 15-bit with a shift of 14.
	var xa, xb int32
	for i := 0; i < 24; i += 2 {
		xa += qmfCoeffs[i] * x[i]
		xb += qmfCoeffs[i+1] * x[i+1]
	}
	il := e.encodeLow(limit15((xa + xb) >> 14))
	ih := e.encodeHigh(limit15((xa - xb) >> 14))
	return ih<<6 | il
}

// encodeLow codes one lower-band sample: SUBTRA, QUANTL, then the
// decoder's view of the code (INVQAL, LOGSCL, SCALEL, block 4L).
func (e *Encoder) encodeLow(xl int32) uint8 {
	b := &e.lo
	el := sat16(xl - b.s)
	m := int64(mag(el))
	// Count the decision levels m reaches: m is in interval n+1. The
	// levels grow, so a binary search counts them, without branches.
	n := 0
	for half := 16; half > 0; half >>= 1 {
		if k := n + half; m >= (q6Search[k&31]*int64(b.de))>>12 {
			n = k
		}
	}
	codes := &ilpCode
	if el < 0 {
		codes = &ilnCode
	}
	il := codes[n+1]
	b.updateLow(il)
	return il
}

// encodeHigh codes one higher-band sample: SUBTRA, QUANTH, then INVQAH,
// LOGSCH, SCALEH and block 4H.
func (e *Encoder) encodeHigh(xh int32) uint8 {
	b := &e.hi
	eh := sat16(xh - b.s)
	mih := 1
	if mag(eh) >= (q2*b.de)>>15 {
		mih = 2
	}
	codes := &ihpCode
	if eh < 0 {
		codes = &ihnCode
	}
	ih := codes[mih]
	b.updateHigh(ih)
	return ih
}

// updateLow adapts the lower band to the 6-bit code il, using its 4 most
// significant bits as the Recommendation does in every mode: INVQAL gives
// the quantized difference, LOGSCL and SCALEL the next scale factor, and
// block 4L the next prediction.
func (b *band) updateLow(il uint8) {
	ril := il >> 2
	dlt := (b.de * qm4[ril]) >> 15
	b.adaptScale(wl[rl42[ril]], nblMax, scaleShiftLow)
	b.update(dlt)
}

// updateHigh adapts the higher band to the 2-bit code ih and returns the
// quantized difference (INVQAH) it used.
func (b *band) updateHigh(ih uint8) int32 {
	dh := (b.de * qm2[ih]) >> 15
	b.adaptScale(wh[rh2[ih]], nbhMax, scaleShiftHigh)
	b.update(dh)
	return dh
}
