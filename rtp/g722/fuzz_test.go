package g722

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecode: any octets decode, in any mode, without panic to exactly two
// samples per octet, alike in one call or two, and the state stays in
// range.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint8(0), uint16(0))
	f.Add([]byte{0x00, 0x01, 0x02, 0x03}, uint8(1), uint16(2))
	f.Add([]byte{0xff, 0xff, 0x00, 0x00, 0xff, 0x3f, 0xc0}, uint8(2), uint16(3))
	f.Add(encodeAll(speechLike(640, 1)), uint8(0), uint16(100))
	f.Fuzz(func(t *testing.T, payload []byte, mode uint8, split uint16) {
		m := Mode(mode%3 + 1)
		whole := NewDecoder()
		require.NoError(t, whole.SetMode(m))
		out := whole.Decode(nil, payload)
		require.Len(t, out, 2*len(payload))

		at := int(split) % (len(payload) + 1)
		parts := NewDecoder()
		require.NoError(t, parts.SetMode(m))
		got := parts.Decode(nil, payload[:at])
		got = parts.Decode(got, payload[at:])
		assert.Equal(t, out, got)

		checkBand(t, "lower", &whole.lo, nblMax, detLowMin)
		checkBand(t, "higher", &whole.hi, nbhMax, detHighMin)
	})
}

// FuzzEncode: any samples (two octets each, little-endian) encode without
// panic to one octet per pair, alike in one call or two, and decode again.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f}, uint16(1))
	f.Add(samplesBytes(sine(7000, 32767, 400)), uint16(77))
	f.Fuzz(func(t *testing.T, raw []byte, split uint16) {
		pcm := make([]int16, len(raw)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		whole := NewEncoder()
		payload := whole.Encode(nil, pcm)
		require.Len(t, payload, len(pcm)/2)
		assert.Equal(t, len(pcm)%2, whole.Buffered())

		at := int(split) % (len(pcm) + 1)
		parts := NewEncoder()
		got := parts.Encode(nil, pcm[:at])
		got = parts.Encode(got, pcm[at:])
		assert.Equal(t, payload, got)

		checkBand(t, "lower", &whole.lo, nblMax, detLowMin)
		checkBand(t, "higher", &whole.hi, nbhMax, detHighMin)
		require.Len(t, decodeAll(payload), 2*len(payload))
	})
}

func samplesBytes(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}
