//go:build opus && cgo

package opus

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tone returns n samples of a sine of freq Hz at 48 kHz, amplitude amp,
// starting at sample start.
func tone(start, n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/SampleRate))
	}
	return out
}

// snr is the signal-to-noise ratio in dB of got against want, got
// shifted by the lag (within 0..maxLag samples, the codec's delay) that
// gives the best one.
func snr(want, got []int16, maxLag int) (float64, int) {
	best, bestLag := math.Inf(-1), 0
	for lag := 0; lag <= maxLag; lag++ {
		var sig, noise float64
		for i := 0; i+lag < len(got) && i < len(want); i++ {
			d := float64(got[i+lag]) - float64(want[i])
			sig += float64(want[i]) * float64(want[i])
			noise += d * d
		}
		if s := 10 * math.Log10(sig/max(noise, 1)); s > best {
			best, bestLag = s, lag
		}
	}
	return best, bestLag
}

func TestRoundTripToneSNR(t *testing.T) {
	tests := []struct {
		name string
		cfg  EncoderConfig
		freq float64
		min  float64 // dB; a transform codec keeps a high tone's spectrum better than its waveform
	}{
		{name: "1 kHz at 32 kbit/s", cfg: EncoderConfig{}, freq: 1000, min: 25},
		{name: "440 Hz at 24 kbit/s with FEC", cfg: EncoderConfig{Bitrate: 24000, FEC: true}, freq: 440, min: 25},
		{name: "3 kHz at 64 kbit/s", cfg: EncoderConfig{Bitrate: 64000}, freq: 3000, min: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewEncoder(tt.cfg)
			require.NoError(t, err)
			defer enc.Close()
			dec, err := NewDecoder()
			require.NoError(t, err)
			defer dec.Close()
			const frames = 50
			in := tone(0, frames*FrameSamples, tt.freq, 8000)
			var out []int16
			var pkt []byte
			for f := range frames {
				pkt, err = enc.Encode(pkt[:0], in[f*FrameSamples:(f+1)*FrameSamples])
				require.NoError(t, err)
				require.False(t, IsDTX(pkt))
				out, err = dec.Decode(out, pkt)
				require.NoError(t, err)
			}
			require.Len(t, out, len(in))
			// Skip the first 200 ms (the encoder settling), compare the rest.
			skip := 10 * FrameSamples
			s, lag := snr(in[skip:len(in)-FrameSamples], out[skip:], FrameSamples)
			t.Logf("SNR %.1f dB at a delay of %d samples", s, lag)
			assert.GreaterOrEqual(t, s, tt.min)
		})
	}
}

// TestFECRecoversLostPacket loses one packet of a tone and rebuilds it
// from the next one's in-band FEC: closer to the original than libopus'
// concealment, and close to it in absolute terms.
func TestFECRecoversLostPacket(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Bitrate: 24000, FEC: true, PacketLossPercent: 20})
	require.NoError(t, err)
	defer enc.Close()
	const frames, lost = 40, 25
	in := tone(0, frames*FrameSamples, 500, 8000)
	pkts := make([][]byte, frames)
	for f := range frames {
		pkts[f], err = enc.Encode(nil, in[f*FrameSamples:(f+1)*FrameSamples])
		require.NoError(t, err)
	}
	decodeWith := func(fec bool) []int16 {
		dec, err := NewDecoder()
		require.NoError(t, err)
		defer dec.Close()
		var out []int16
		for f := range frames {
			switch {
			case f == lost && fec:
				out, err = dec.DecodeFEC(out, pkts[f+1], FrameSamples)
			case f == lost:
				out, err = dec.Conceal(out, FrameSamples)
			default:
				out, err = dec.Decode(out, pkts[f])
			}
			require.NoError(t, err)
		}
		require.Len(t, out, len(in))
		return out
	}
	full := decodeWith(false)
	_, lag := snr(in[10*FrameSamples:lost*FrameSamples], full[10*FrameSamples:], FrameSamples)
	seg := func(out []int16) float64 {
		a, b := lost*FrameSamples, (lost+1)*FrameSamples
		s, _ := snr(in[a:b], out[a+lag:b+lag], 0)
		return s
	}
	plc, fec := seg(full), seg(decodeWith(true))
	t.Logf("lost frame: FEC %.1f dB, concealment %.1f dB (delay %d)", fec, plc, lag)
	assert.Greater(t, fec, plc+3, "FEC no better than concealment")
	assert.GreaterOrEqual(t, fec, 10.0)
}

func TestDTXSilence(t *testing.T) {
	tests := []struct {
		dtx  bool
		want bool // some packets are DTX ones
	}{{dtx: true, want: true}, {dtx: false, want: false}}
	for _, tt := range tests {
		enc, err := NewEncoder(EncoderConfig{DTX: tt.dtx})
		require.NoError(t, err)
		silence := make([]int16, FrameSamples)
		dtx := 0
		for range 50 {
			p, err := enc.Encode(nil, silence)
			require.NoError(t, err)
			if IsDTX(p) {
				dtx++
			}
		}
		require.NoError(t, enc.Close())
		require.NoError(t, enc.Close(), "Close is idempotent")
		assert.Equal(t, tt.want, dtx > 0, "dtx=%v: %d DTX packets", tt.dtx, dtx)
	}
}

func TestBadInput(t *testing.T) {
	_, err := NewEncoder(EncoderConfig{Bitrate: 1})
	require.ErrorIs(t, err, ErrCodec)
	enc, err := NewEncoder(EncoderConfig{})
	require.NoError(t, err)
	defer enc.Close()
	_, err = enc.Encode(nil, make([]int16, 100))
	require.ErrorIs(t, err, ErrCodec)
	dec, err := NewDecoder()
	require.NoError(t, err)
	defer dec.Close()
	_, err = dec.Decode(nil, nil)
	require.ErrorIs(t, err, ErrCodec)
	for _, junk := range [][]byte{{0xff}, {0xff, 0xff, 0xff}, {0x03}} {
		out, err := dec.Decode(nil, junk)
		if err != nil {
			require.ErrorIs(t, err, ErrCodec)
			assert.Empty(t, out)
		}
	}
	_, err = dec.Conceal(nil, MaxFrameSamples+1)
	require.ErrorIs(t, err, ErrCodec)
	require.NoError(t, dec.Close())
	_, err = dec.Decode(nil, []byte{0x08})
	require.ErrorIs(t, err, ErrCodec, "closed")
}

func BenchmarkEncode20ms(b *testing.B) {
	enc, err := NewEncoder(EncoderConfig{FEC: true})
	require.NoError(b, err)
	defer enc.Close()
	in := tone(0, FrameSamples, 440, 8000)
	buf := make([]byte, 0, maxPacket)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(buf[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	enc, err := NewEncoder(EncoderConfig{FEC: true})
	require.NoError(b, err)
	defer enc.Close()
	pkt, err := enc.Encode(nil, tone(0, FrameSamples, 440, 8000))
	require.NoError(b, err)
	dec, err := NewDecoder()
	require.NoError(b, err)
	defer dec.Close()
	out := make([]int16, 0, MaxFrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Decode(out[:0], pkt); err != nil {
			b.Fatal(err)
		}
	}
}
