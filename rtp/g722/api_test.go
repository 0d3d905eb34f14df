package g722

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Encoding in pieces of any length, odd ones included, gives the same
// octets as encoding in one call: an odd sample waits for its partner.
func TestEncodeInPiecesHoldsOddSample(t *testing.T) {
	in := speechLike(4001, 9)
	whole := NewEncoder()
	want := whole.Encode(nil, in)
	require.Len(t, want, 2000)
	assert.Equal(t, 1, whole.Buffered())

	rng := rand.New(rand.NewPCG(5, 6))
	e := NewEncoder()
	var got []byte
	held := 0
	for rest := in; len(rest) > 0; {
		n := min(len(rest), rng.IntN(7)) // 0 to 6 samples
		before := len(got)
		got = e.Encode(got, rest[:n])
		assert.Equal(t, (held+n)/2, len(got)-before, "octets for %d samples with %d held", n, held)
		held = (held + n) % 2
		assert.Equal(t, held, e.Buffered())
		rest = rest[n:]
	}
	assert.Equal(t, want, got)
}

func TestEncodeAppends(t *testing.T) {
	prefix := []byte("RTP header")
	out := NewEncoder().Encode(append([]byte(nil), prefix...), sine(1000, 8000, FrameSamples))
	require.Len(t, out, len(prefix)+FrameBytes)
	assert.Equal(t, prefix, out[:len(prefix)])

	pre := []int16{1, 2, 3}
	pcm := NewDecoder().Decode(append([]int16(nil), pre...), out[len(prefix):])
	require.Len(t, pcm, len(pre)+FrameSamples)
	assert.Equal(t, pre, pcm[:len(pre)])
}

func TestResetRestartsTheStream(t *testing.T) {
	in := speechLike(3201, 2)
	e := NewEncoder()
	first := e.Encode(nil, in)
	require.Equal(t, 1, e.Buffered())
	e.Reset()
	assert.Equal(t, 0, e.Buffered(), "Reset drops the held sample")
	assert.Equal(t, *NewEncoder(), *e)
	assert.Equal(t, first, e.Encode(nil, in))

	d := NewDecoder()
	require.NoError(t, d.SetMode(Mode2))
	out := d.Decode(nil, first)
	d.Reset()
	assert.Equal(t, Mode2, d.Mode())
	assert.Equal(t, out, d.Decode(nil, first))
	d.Reset()
	require.NoError(t, d.SetMode(Mode1))
	assert.Equal(t, *NewDecoder(), *d)
}

func TestEmptyInput(t *testing.T) {
	e := NewEncoder()
	assert.Empty(t, e.Encode(nil, nil))
	assert.Empty(t, NewDecoder().Decode(nil, nil))
	assert.Equal(t, *NewEncoder(), *e)
}

// Encoder and Decoder state is per stream: two interleaved streams code
// exactly as each alone.
func TestStreamsAreIndependent(t *testing.T) {
	a, b := sine(1000, 9000, 3200), speechLike(3200, 4)
	wantA, wantB := encodeAll(a), encodeAll(b)
	ea, eb := NewEncoder(), NewEncoder()
	var gotA, gotB []byte
	for i := 0; i < len(a); i += FrameSamples {
		gotA = ea.Encode(gotA, a[i:i+FrameSamples])
		gotB = eb.Encode(gotB, b[i:i+FrameSamples])
	}
	assert.Equal(t, wantA, gotA)
	assert.Equal(t, wantB, gotB)
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	pcm := speechLike(FrameSamples, 1)
	e, d := NewEncoder(), NewDecoder()
	payload := make([]byte, 0, FrameBytes)
	out := make([]int16, 0, FrameSamples)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		payload = e.Encode(payload[:0], pcm)
	}))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		out = d.Decode(out[:0], payload)
	}))
}
