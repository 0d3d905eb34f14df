package g722

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warmup is the number of samples (0.1 s) skipped before measuring, while
// the scale factors and predictors adapt to a signal.
const warmup = 1600

func TestSilenceStaysSilent(t *testing.T) {
	tests := []struct {
		name    string
		in      []int16
		maxPeak int16
	}{
		// The quantizers have no zero level: silence idles at a few LSBs
		// (-78 dBFS), as the Recommendation's codec does.
		{"digital silence", make([]int16, 16000), 4},
		{"one-LSB dither", dither(16000, 1), 16},
		{"silence after a loud tone", append(sine(1000, 30000, 4000), make([]int16, 16000)...), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decodeAll(encodeAll(tt.in))
			require.Len(t, out, len(tt.in))
			// Judge the last half second only: the codec must have settled.
			var peak int16
			for _, v := range out[len(out)-8000:] {
				peak = max(peak, v, -v)
			}
			assert.LessOrEqual(t, peak, tt.maxPeak)
		})
	}
}

// dither returns n samples of uniform noise in [-a, a].
func dither(n int, a int) []int16 {
	rng := rand.New(rand.NewPCG(7, 11))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(rng.IntN(2*a+1) - a)
	}
	return out
}

func TestToneRoundTrip(t *testing.T) {
	tests := []struct {
		freq, amp float64
		minSNR    float64
	}{
		{300, 10000, 20},
		{1000, 10000, 20},
		{1000, 1000, 20},
		{1000, 30000, 20},
		{3000, 10000, 20},
		{5000, 10000, 20},
		{6000, 10000, 20},
		{7000, 10000, 20},
	}
	for _, tt := range tests {
		t.Run(fmtTone(tt.freq, tt.amp), func(t *testing.T) {
			in := sine(tt.freq, tt.amp, 16000)
			out := decodeAll(encodeAll(in))
			require.Len(t, out, len(in))
			lag := bestDelay(in, out, 64)
			assert.Equal(t, Delay, lag, "delay by cross-correlation")
			snr := snrDB(in, out, lag, warmup)
			t.Logf("SNR %.1f dB at delay %d", snr, lag)
			assert.Greater(t, snr, tt.minSNR)
		})
	}
}

func fmtTone(freq, amp float64) string { return fmt.Sprintf("%gHz/%g", freq, amp) }

// A tone in the higher band comes back at its own frequency, not mirrored
// around 4 kHz into the lower band (which a swapped or missing higher band
// would do), and a lower-band tone does not leak into the higher band.
func TestBandsDoNotFold(t *testing.T) {
	tests := []struct{ freq, image float64 }{
		{6000, 2000},
		{4500, 3500},
		{7000, 1000},
		{2000, 6000},
	}
	for _, tt := range tests {
		t.Run(fmtTone(tt.freq, 10000), func(t *testing.T) {
			out := decodeAll(encodeAll(sine(tt.freq, 10000, 16000)))
			want, image := power(out, tt.freq, warmup), power(out, tt.image, warmup)
			ratio := 10 * math.Log10(want/image)
			t.Logf("%v Hz is %.1f dB above its image at %v Hz", tt.freq, ratio, tt.image)
			assert.Greater(t, ratio, 30.0)
			// The tone keeps its level: amplitude 10000 is power 2.5e7.
			assert.InEpsilon(t, 10000.0*10000/4, want, 0.2)
		})
	}
}

func TestSpeechLikeRoundTrip(t *testing.T) {
	in := speechLike(32000, 1)
	out := decodeAll(encodeAll(in))
	lag := bestDelay(in, out, 64)
	assert.Equal(t, Delay, lag)
	snr := snrDB(in, out, lag, warmup)
	t.Logf("SNR %.1f dB", snr)
	assert.Greater(t, snr, 12.0)
}

// checkBand fails the test when a band's state leaves the ranges the
// Recommendation keeps it in.
func checkBand(t *testing.T, name string, b *band, nbMax, detMin int32) {
	t.Helper()
	ok := b.nb >= 0 && b.nb <= nbMax &&
		b.de >= detMin && b.de <= 16384 &&
		abs32(b.a2) <= 12288 && abs32(b.a1) <= 15360-b.a2
	for _, v := range [...]int32{b.s, b.sz, b.r1, b.r2, b.p1, b.p2} {
		ok = ok && v >= -32768 && v <= 32767
	}
	for i := range b.b {
		ok = ok && b.b[i] >= -32768 && b.b[i] <= 32767 && b.d[i] >= -32768 && b.d[i] <= 32767
	}
	if !ok {
		t.Fatalf("%s band state out of range: %+v", name, *b)
	}
}

func abs32(v int32) int32 { return max(v, -v) }

// Long loud random and pathological input keeps every state variable in
// range in the encoder and in decoders of every mode, and never panics.
func TestStateStaysBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	enc := NewEncoder()
	decs := []*Decoder{NewDecoder(), NewDecoder(), NewDecoder()}
	for i, d := range decs {
		require.NoError(t, d.SetMode(Mode(i+1)))
	}
	rawDec := NewDecoder()
	frame := make([]int16, FrameSamples)
	var payload, random []byte
	var pcm []int16
	var loMax, hiMax int32 // the largest log scale factors the encoder reached
	for n := range 1500 {  // 30 s of audio
		switch n % 4 {
		case 0: // full-scale white noise
			for i := range frame {
				frame[i] = int16(rng.Uint32())
			}
		case 1: // full-scale square wave at the Nyquist rate
			for i := range frame {
				frame[i] = int16(-32768 + (i%2)*65535)
			}
		case 2: // full-scale DC steps
			v := int16(32767)
			if rng.IntN(2) == 0 {
				v = -32768
			}
			for i := range frame {
				frame[i] = v
			}
		case 3: // a loud 7.9 kHz tone
			for i := range frame {
				frame[i] = int16(32767 * math.Sin(2*math.Pi*7900*float64(n*FrameSamples+i)/SampleRate))
			}
		}
		payload = enc.Encode(payload[:0], frame)
		require.Len(t, payload, FrameBytes)
		for _, d := range decs {
			pcm = d.Decode(pcm[:0], payload)
			require.Len(t, pcm, FrameSamples)
		}
		random = random[:0]
		for range FrameBytes {
			random = append(random, byte(rng.Uint32()))
		}
		pcm = rawDec.Decode(pcm[:0], random)
		require.Len(t, pcm, FrameSamples)

		loMax, hiMax = max(loMax, enc.lo.nb), max(hiMax, enc.hi.nb)
		checkBand(t, "encoder lower", &enc.lo, nblMax, detLowMin)
		checkBand(t, "encoder higher", &enc.hi, nbhMax, detHighMin)
		for _, d := range [...]*Decoder{decs[0], decs[1], decs[2], rawDec} {
			checkBand(t, "decoder lower", &d.lo, nblMax, detLowMin)
			checkBand(t, "decoder higher", &d.hi, nbhMax, detHighMin)
		}
	}
	// The input was loud enough to drive the scale factors to their limits.
	assert.Equal(t, int32(nblMax), loMax)
	assert.Equal(t, int32(nbhMax), hiMax)
}

// The encoder and a decoder of any mode track the same predictor and scale
// factor state: the modes differ only in the decoder's output.
func TestDecoderStateMatchesEncoderInEveryMode(t *testing.T) {
	in := speechLike(8000, 3)
	enc := NewEncoder()
	decs := []*Decoder{NewDecoder(), NewDecoder(), NewDecoder()}
	for i, d := range decs {
		require.NoError(t, d.SetMode(Mode(i+1)))
	}
	for i := 0; i < len(in); i += 2 {
		c := enc.Encode(nil, in[i:i+2])
		for _, d := range decs {
			d.Decode(nil, c)
			require.Equal(t, enc.lo, d.lo, "lower band at sample %d, mode %d", i, d.Mode())
			require.Equal(t, enc.hi, d.hi, "higher band at sample %d, mode %d", i, d.Mode())
		}
	}
}

func TestModes(t *testing.T) {
	in := speechLike(32000, 5)
	payload := encodeAll(in)
	tests := []struct {
		mode   Mode
		mask   byte // the bits that carry audio
		minSNR float64
	}{
		{Mode1, 0xff, 12},
		{Mode2, 0xfe, 10},
		{Mode3, 0xfc, 6},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tt := range tests {
		t.Run(fmt.Sprint("mode", int(tt.mode)), func(t *testing.T) {
			d := NewDecoder()
			require.NoError(t, d.SetMode(tt.mode))
			out := d.Decode(nil, payload)
			snr := snrDB(in, out, Delay, warmup)
			t.Logf("mode %d: SNR %.1f dB", tt.mode, snr)
			assert.Greater(t, snr, tt.minSNR)

			// Auxiliary data in the bits the mode leaves to it changes
			// nothing.
			withData := make([]byte, len(payload))
			for i, c := range payload {
				withData[i] = c&tt.mask | byte(rng.Uint32())&^tt.mask
			}
			d.Reset()
			assert.Equal(t, tt.mode, d.Mode(), "Reset keeps the mode")
			assert.Equal(t, out, d.Decode(nil, withData))
		})
	}
	// Lower modes lose quality, in order.
	var snrs []float64
	for _, m := range []Mode{Mode1, Mode2, Mode3} {
		d := NewDecoder()
		require.NoError(t, d.SetMode(m))
		snrs = append(snrs, snrDB(in, d.Decode(nil, payload), Delay, warmup))
	}
	assert.Greater(t, snrs[0], snrs[1])
	assert.Greater(t, snrs[1], snrs[2])
}

func TestSetModeRejectsUnknownModes(t *testing.T) {
	d := NewDecoder()
	for _, m := range []Mode{0, 4, -1} {
		err := d.SetMode(m)
		require.ErrorIs(t, err, ErrMode)
		assert.Contains(t, err.Error(), "got "+strconv.Itoa(int(m)))
		assert.Equal(t, Mode1, d.Mode(), "a rejected mode leaves the mode alone")
	}
}
