package g711

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/dialtone/dialtone/rtp/audio"

	pionrtp "github.com/pion/rtp"
)

// G.711 (ITU-T Recommendation G.711, RFC 3551 §4.5.14) compresses 16-bit
// linear PCM to 8 bits per sample. μ-law (PCMU) works on the 14 most
// significant bits, A-law (PCMA) on the 13 most significant bits; both use
// eight segments of sixteen quantization steps, doubling the step size from one
// segment to the next. Negative inputs are folded with the one's complement, as
// in the ITU-T G.191 reference software, so -1 encodes like 0 with the sign
// bit cleared.
//
// Encoding finds the segment from the bit length of the magnitude; decoding uses
// 256-entry tables computed once from the same definition.

const (
	// g711UlawBias is the μ-law bias (33 in the 14-bit domain) that moves
	// the segment end points to powers of two.
	g711UlawBias = 33
	// g711UlawClip is the largest 14-bit μ-law magnitude after biasing
	// (8159 + 33 = 0x1FFF); larger inputs saturate.
	g711UlawClip = 0x1FFF
)

// ErrCodec reports a Codec that is not PCMU or PCMA.
var ErrCodec = errors.New("g711: codec is not G.711 (PCMU or PCMA)")

// EncodeULawSample encodes one 16-bit linear sample as a μ-law byte.
func EncodeULawSample(s int16) byte {
	var sign byte
	var mag int32
	if s >= 0 {
		sign = 0x80
		mag = int32(s)>>2 + g711UlawBias
	} else {
		mag = int32(^s)>>2 + g711UlawBias
	}
	if mag > g711UlawClip {
		mag = g711UlawClip
	}
	// Segment 0 holds biased magnitudes below 64; each further segment
	// doubles the range. seg is 1-based here, as in G.711 table 2a.
	seg := int32(1 + bits.Len32(uint32(mag)>>6))
	code := byte((8-seg)<<4) | byte(15-(mag>>seg)&0x0F)
	return code | sign
}

// EncodeALawSample encodes one 16-bit linear sample as an A-law byte,
// including the even-bit inversion (XOR 0x55) of G.711.
func EncodeALawSample(s int16) byte {
	var sign byte
	var mag int32
	if s >= 0 {
		sign = 0x80
		mag = int32(s) >> 4
	} else {
		mag = int32(^s) >> 4
	}
	// mag is a 12-bit magnitude; segment 0 and 1 share the step size.
	if mag > 15 {
		exp := int32(bits.Len32(uint32(mag)) - 4)
		mag = mag>>(exp-1) - 16 + exp<<4
	}
	return (byte(mag) | sign) ^ 0x55
}

// g711UlawExpand decodes one μ-law byte to 16-bit linear PCM (the middle of
// the quantization interval).
func g711UlawExpand(b byte) int16 {
	inv := ^b
	exp := int32(inv>>4) & 0x07
	mant := int32(inv) & 0x0F
	step := int32(4) << (exp + 1)
	v := (0x80 << exp) + step*mant + step/2 - 4*g711UlawBias
	if b < 0x80 {
		v = -v
	}
	return int16(v)
}

// g711AlawExpand decodes one A-law byte to 16-bit linear PCM (the middle of
// the quantization interval).
func g711AlawExpand(b byte) int16 {
	ix := int32(b^0x55) & 0x7F
	exp := ix >> 4
	mant := ix & 0x0F
	if exp > 0 {
		mant += 16
	}
	mant = mant<<4 + 8
	if exp > 1 {
		mant <<= exp - 1
	}
	if b < 0x80 {
		mant = -mant
	}
	return int16(mant)
}

// g711Table is a read-only 256-entry decode table, built once.
type g711Table [256]int16

func g711BuildTable(expand func(byte) int16) *g711Table {
	var t g711Table
	for i := range t {
		t[i] = expand(byte(i))
	}
	return &t
}

// Read-only decode tables; never written after package initialization.
var (
	g711UlawTable = g711BuildTable(g711UlawExpand)
	g711AlawTable = g711BuildTable(g711AlawExpand)
)

// Encode tables: μ-law's code depends only on a sample's 14 most
// significant bits and A-law's on its 12 (sign included: the one's
// complement of a negative sample keeps them), so a table indexed by them
// gives EncodeULawSample's and EncodeALawSample's code for every sample
// (TestG711EncodeTables checks all 65,536): one load in place of the
// branch on the sign, which audio mispredicts at every zero crossing. 16
// and 4 KiB, built once, read-only.
const (
	g711UlawEncShift = 2
	g711AlawEncShift = 4
)

var (
	g711UlawEncTable = g711BuildEncTable(EncodeULawSample, g711UlawEncShift)
	g711AlawEncTable = g711BuildEncTable(EncodeALawSample, g711AlawEncShift)
)

func g711BuildEncTable(encode func(int16) byte, shift uint) []byte {
	t := make([]byte, 1<<(16-shift))
	for i := range t {
		t[i] = encode(int16(uint16(i) << shift))
	}
	return t
}

// g711Encode appends the codes of src from the table t, indexed by each
// sample's top 16-shift bits.
func g711Encode(dst []byte, src []int16, t []byte, shift uint) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(src))[:len(dst)+len(src)]
	out := dst[n : n+len(src)]
	for i, s := range src {
		out[i] = t[uint16(s)>>shift]
	}
	return dst
}

// DecodeULawSample decodes one μ-law byte to 16-bit linear PCM.
func DecodeULawSample(b byte) int16 { return g711UlawTable[b] }

// DecodeALawSample decodes one A-law byte to 16-bit linear PCM.
func DecodeALawSample(b byte) int16 { return g711AlawTable[b] }

// EncodeULaw appends the μ-law encoding of src to dst and returns the
// extended slice. It does not allocate when dst has room for len(src) bytes.
func EncodeULaw(dst []byte, src []int16) []byte {
	return g711Encode(dst, src, g711UlawEncTable, g711UlawEncShift)
}

// EncodeALaw appends the A-law encoding of src to dst and returns the
// extended slice. It does not allocate when dst has room for len(src) bytes.
func EncodeALaw(dst []byte, src []int16) []byte {
	return g711Encode(dst, src, g711AlawEncTable, g711AlawEncShift)
}

// DecodeULaw appends the linear samples of the μ-law bytes in src to dst
// and returns the extended slice. It does not allocate when dst has room for
// len(src) samples.
func DecodeULaw(dst []int16, src []byte) []int16 {
	return g711Decode(dst, src, g711UlawTable)
}

// DecodeALaw appends the linear samples of the A-law bytes in src to dst
// and returns the extended slice. It does not allocate when dst has room for
// len(src) samples.
func DecodeALaw(dst []int16, src []byte) []int16 {
	return g711Decode(dst, src, g711AlawTable)
}

func g711Decode(dst []int16, src []byte, t *g711Table) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(src))[:len(dst)+len(src)]
	out := dst[n : n+len(src)]
	for i, b := range src {
		out[i] = t[b]
	}
	return dst
}

// Law selects μ-law or A-law. Its zero value is not valid.
type Law uint8

// G.711 companding laws and their RTP payload formats (RFC 3551 §4.5.14).
const (
	// ULaw is μ-law, RTP/AVP payload type 0 (PCMU).
	ULaw Law = 1
	// ALaw is A-law, RTP/AVP payload type 8 (PCMA).
	ALaw Law = 2
)

// LawFor returns the law of a PCMU or PCMA codec (matched by name,
// case-insensitively, at an 8 kHz clock), or an error wrapping ErrCodec.
func LawFor(c audio.Codec) (Law, error) {
	if c.ClockRate != 8000 || c.Channels > 1 {
		return 0, fmt.Errorf("%w: %s/%d/%d", ErrCodec, c.Name, c.ClockRate, c.Channels)
	}
	switch {
	case strings.EqualFold(c.Name, "PCMU"):
		return ULaw, nil
	case strings.EqualFold(c.Name, "PCMA"):
		return ALaw, nil
	}
	return 0, fmt.Errorf("%w: %s", ErrCodec, c.Name)
}

// LawForPayloadType returns the law of static payload type 0 (PCMU) or 8
// (PCMA), or an error wrapping ErrCodec.
func LawForPayloadType(pt uint8) (Law, error) {
	switch pt {
	case audio.PayloadTypePCMU:
		return ULaw, nil
	case audio.PayloadTypePCMA:
		return ALaw, nil
	}
	return 0, fmt.Errorf("%w: payload type %d", ErrCodec, pt)
}

// String returns "PCMU", "PCMA", or "Law(n)".
func (l Law) String() string {
	switch l {
	case ULaw:
		return "PCMU"
	case ALaw:
		return "PCMA"
	}
	return fmt.Sprintf("G711Law(%d)", uint8(l))
}

// PayloadType returns the static RTP payload type of the law (RFC 3551 §6),
// 0 for PCMU and 8 for PCMA; an invalid law returns 0xFF.
func (l Law) PayloadType() uint8 {
	switch l {
	case ULaw:
		return audio.PayloadTypePCMU
	case ALaw:
		return audio.PayloadTypePCMA
	}
	return 0xFF
}

// Encode appends the encoding of src to dst, like EncodeULaw or
// EncodeALaw. An invalid law appends nothing.
func (l Law) Encode(dst []byte, src []int16) []byte {
	switch l {
	case ULaw:
		return EncodeULaw(dst, src)
	case ALaw:
		return EncodeALaw(dst, src)
	}
	return dst
}

// Decode appends the linear samples of src to dst, like DecodeULaw or
// DecodeALaw. An invalid law appends nothing.
func (l Law) Decode(dst []int16, src []byte) []int16 {
	switch l {
	case ULaw:
		return DecodeULaw(dst, src)
	case ALaw:
		return DecodeALaw(dst, src)
	}
	return dst
}

// AppendPacket appends one RTP packet (RFC 3550 §5.1) to dst: the header
// h followed by the G.711 encoding of samples, and returns the extended slice.
// A zero h.Version is sent as 2; padding is never added. It does not allocate
// when dst has room for the packet, so a caller that reuses one buffer per
// frame packetizes with no allocation.
func AppendPacket(dst []byte, h *pionrtp.Header, law Law, samples []int16) ([]byte, error) {
	if law != ULaw && law != ALaw {
		return dst, fmt.Errorf("%w: %v", ErrCodec, law)
	}
	hdr := *h
	if hdr.Version == 0 {
		hdr.Version = 2
	}
	hdr.Padding = false
	hdr.PaddingSize = 0
	size := hdr.MarshalSize()
	n := len(dst)
	dst = slices.Grow(dst, size)[:len(dst)+size]
	if _, err := hdr.MarshalTo(dst[n:]); err != nil {
		return dst[:n], fmt.Errorf("rtp: marshal header: %w", err)
	}
	return law.Encode(dst, samples), nil
}
