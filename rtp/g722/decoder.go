package g722

import (
	"errors"
	"fmt"
	"slices"
)

// Mode is a G.722 operating mode: how many of the six lower-band bits of
// each octet carry audio.
type Mode int

const (
	// Mode1 is 64 kbit/s: six lower-band bits.
	Mode1 Mode = 1
	// Mode2 is 56 kbit/s: five lower-band bits, the least significant bit
	// of each octet is auxiliary data.
	Mode2 Mode = 2
	// Mode3 is 48 kbit/s: four lower-band bits, the two least significant
	// bits of each octet are auxiliary data.
	Mode3 Mode = 3
)

// ErrMode reports a Mode other than Mode1, Mode2 and Mode3.
var ErrMode = errors.New("g722: mode must be 1 (64 kbit/s), 2 (56 kbit/s) or 3 (48 kbit/s)")

// Decoder turns G.722 octets back into 16 kHz 16-bit PCM. It holds the
// state of one stream and is not safe for concurrent use. The zero value is
// not ready; use NewDecoder.
type Decoder struct {
	xd, xs [12]int32 // receive QMF delay lines (difference and sum), newest first
	lo, hi band
	mode   Mode
}

// NewDecoder returns a Decoder for Mode1 (64 kbit/s) in the
// Recommendation's initial state.
func NewDecoder() *Decoder {
	d := &Decoder{mode: Mode1}
	d.Reset()
	return d
}

// Reset returns the Decoder to its initial state, as for a new stream. It
// keeps the mode.
func (d *Decoder) Reset() {
	*d = Decoder{mode: d.mode}
	d.lo.reset(detLowMin)
	d.hi.reset(detHighMin)
}

// Mode returns the Decoder's mode.
func (d *Decoder) Mode() Mode { return d.mode }

// SetMode sets the mode the following octets are decoded in. The mode may
// change at any octet, as the Recommendation allows: the predictors use
// only the four most significant lower-band bits in every mode.
func (d *Decoder) SetMode(m Mode) error {
	if m < Mode1 || m > Mode3 {
		return fmt.Errorf("%w: got %d", ErrMode, m)
	}
	d.mode = m
	return nil
}

// Decode decodes payload and appends the samples to dst, returning the
// extended slice: exactly two samples per octet, whatever the octets hold.
// Decode allocates only when dst lacks room for them.
func (d *Decoder) Decode(dst []int16, payload []byte) []int16 {
	dst = slices.Grow(dst, SamplesPerByte*len(payload))
	for _, c := range payload {
		rl := d.decodeLow(c & 0x3f)
		rh := d.decodeHigh(c >> 6)
		dst = d.receiveQMF(dst, rl, rh)
	}
	return dst
}

// decodeLow decodes one 6-bit lower-band code: INVQBL in the current mode
// gives the output, and the 4-bit INVQAL the predictor's update.
func (d *Decoder) decodeLow(il uint8) int32 {
	b := &d.lo
	var q int32
	switch d.mode {
	case Mode2:
		q = qm5[il>>1]
	case Mode3:
		q = qm4[il>>2]
	default:
		q = qm6[il]
	}
	rl := limit15(b.s + (b.de*q)>>15)
	b.updateLow(il)
	return rl
}

// decodeHigh decodes one 2-bit higher-band code.
func (d *Decoder) decodeHigh(ih uint8) int32 {
	b := &d.hi
	s := b.s
	dh := b.updateHigh(ih)
	return limit15(s + dh)
}

// receiveQMF interpolates one lower- and one higher-band sample into two
// output samples: the even taps filter the difference of the bands, the
// odd taps their sum. Output is scaled from the Recommendation's 14 bits
// to 16 and saturated.
func (d *Decoder) receiveQMF(dst []int16, rl, rh int32) []int16 {
	copy(d.xd[1:], d.xd[:11])
	copy(d.xs[1:], d.xs[:11])
	d.xd[0], d.xs[0] = rl-rh, rl+rh
	var o1, o2 int32
	for i := range 12 {
		o1 += qmfCoeffs[2*i] * d.xd[i]
		o2 += qmfCoeffs[2*i+1] * d.xs[i]
	}
	return append(dst, int16(sat16(o1>>11)), int16(sat16(o2>>11)))
}
