//go:build opus && cgo

package opus

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tone returns n samples of a sine of freq Hz at 48 kHz, amplitude amp,
// starting at sample start.
func tone(start, n int, freq, amp float64) []int16 { return toneAt(start, n, freq, amp, SampleRate) }

// toneAt is tone at rate Hz.
func toneAt(start, n int, freq, amp float64, rate int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/float64(rate)))
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

// toneFitSNR is the ratio in dB of the sine at freq Hz that best fits got
// (at rate Hz; amplitude and phase by least squares) to what is left:
// the codec's noise and distortion, whatever its delay, which an integer
// lag cannot match once the rates differ.
func toneFitSNR(got []int16, freq float64, rate int) float64 {
	var ss, cc, sc, sy, cy float64
	for i, v := range got {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		s, c := math.Sin(w), math.Cos(w)
		ss, cc, sc, sy, cy = ss+s*s, cc+c*c, sc+s*c, sy+s*float64(v), cy+c*float64(v)
	}
	det := ss*cc - sc*sc
	a, b := (sy*cc-cy*sc)/det, (cy*ss-sy*sc)/det
	var sig, noise float64
	for i, v := range got {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		fit := a*math.Sin(w) + b*math.Cos(w)
		sig += fit * fit
		noise += (float64(v) - fit) * (float64(v) - fit)
	}
	return 10 * math.Log10(sig/max(noise, 1))
}

// An encoder and a decoder at 16 or 8 kHz code 20 ms frames of that many
// samples (320, 160) and keep a tone: its level, and noise well below it.
func TestRoundTripAtRate(t *testing.T) {
	tests := []struct {
		rate int
		freq float64
		fec  bool
	}{{16000, 1000, false}, {16000, 3000, true}, {8000, 1000, false}, {8000, 3000, true}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.0f Hz at %d Hz", tt.freq, tt.rate), func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: tt.rate, FEC: tt.fec})
			require.NoError(t, err)
			defer enc.Close()
			require.Equal(t, tt.rate, enc.Config().SampleRate)
			dec, err := NewDecoderRate(tt.rate)
			require.NoError(t, err)
			defer dec.Close()
			require.Equal(t, tt.rate, dec.SampleRate())
			fs := tt.rate / 50
			const frames = 50
			in := toneAt(0, frames*fs, tt.freq, 8000, tt.rate)
			var out []int16
			for f := range frames {
				pkt, err := enc.Encode(nil, in[f*fs:(f+1)*fs])
				require.NoError(t, err)
				n := len(out)
				out, err = dec.Decode(out, pkt)
				require.NoError(t, err)
				require.Len(t, out[n:], fs, "a 20 ms packet decodes to 20 ms at the decoder's rate")
			}
			got := out[10*fs:] // past the encoder settling
			s := toneFitSNR(got, tt.freq, tt.rate)
			t.Logf("SNR %.1f dB", s)
			assert.GreaterOrEqual(t, s, 20.0)
			assert.InDelta(t, 8000/math.Sqrt2, rms(got), 8000/math.Sqrt2/4, "level within 2.5 dB")
		})
	}
}

// rms is the root mean square of x.
func rms(x []int16) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(x), 1)))
}

// A packet coded at one rate decodes at another: the rate is each end's
// own (the RTP clock is 48 kHz whatever it is, RFC 7587 §4.1).
func TestCrossRate(t *testing.T) {
	tests := []struct{ encRate, decRate int }{{48000, 16000}, {16000, 48000}, {48000, 8000}, {8000, 16000}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d to %d", tt.encRate, tt.decRate), func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: tt.encRate})
			require.NoError(t, err)
			defer enc.Close()
			dec, err := NewDecoderRate(tt.decRate)
			require.NoError(t, err)
			defer dec.Close()
			const frames, freq = 40, 1000
			var out []int16
			for f := range frames {
				pkt, err := enc.Encode(nil, toneAt(f*tt.encRate/50, tt.encRate/50, freq, 8000, tt.encRate))
				require.NoError(t, err)
				out, err = dec.Decode(out, pkt)
				require.NoError(t, err)
			}
			require.Len(t, out, frames*tt.decRate/50)
			s := toneFitSNR(out[10*tt.decRate/50:], freq, tt.decRate)
			t.Logf("SNR %.1f dB", s)
			assert.GreaterOrEqual(t, s, 20.0)
		})
	}
}

// TestFECRecoversLostPacket loses one packet of a tone and rebuilds it
// from the next one's in-band FEC: closer to the original than libopus'
// concealment, and close to it in absolute terms, at 48 and at 16 kHz.
func TestFECRecoversLostPacket(t *testing.T) {
	for _, rate := range []int{SampleRate, 16000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: rate, Bitrate: 24000, FEC: true, PacketLossPercent: 20})
			require.NoError(t, err)
			defer enc.Close()
			const frames, lost = 40, 25
			fs := rate / 50
			in := toneAt(0, frames*fs, 500, 8000, rate)
			pkts := make([][]byte, frames)
			for f := range frames {
				pkts[f], err = enc.Encode(nil, in[f*fs:(f+1)*fs])
				require.NoError(t, err)
			}
			decodeWith := func(fec bool) []int16 {
				dec, err := NewDecoderRate(rate)
				require.NoError(t, err)
				defer dec.Close()
				var out []int16
				for f := range frames {
					n := len(out)
					switch {
					case f == lost && fec:
						out, err = dec.DecodeFEC(out, pkts[f+1], fs)
					case f == lost:
						out, err = dec.Conceal(out, fs)
					default:
						out, err = dec.Decode(out, pkts[f])
					}
					require.NoError(t, err)
					require.Len(t, out[n:], fs, "frame %d", f)
				}
				return out
			}
			full := decodeWith(false)
			_, lag := snr(in[10*fs:lost*fs], full[10*fs:], fs)
			seg := func(out []int16) float64 {
				a, b := lost*fs, (lost+1)*fs
				s, _ := snr(in[a:b], out[a+lag:b+lag], 0)
				return s
			}
			plc, fec := seg(full), seg(decodeWith(true))
			t.Logf("lost frame: FEC %.1f dB, concealment %.1f dB (delay %d)", fec, plc, lag)
			assert.Greater(t, fec, plc+3, "FEC no better than concealment")
			assert.GreaterOrEqual(t, fec, 10.0)
		})
	}
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
	for _, rate := range []int{44100, 32000, -16000, 1} {
		_, err = NewEncoder(EncoderConfig{SampleRate: rate})
		require.ErrorIs(t, err, ErrCodec, "encoder at %d Hz", rate)
		_, err = NewDecoderRate(rate)
		require.ErrorIs(t, err, ErrCodec, "decoder at %d Hz", rate)
	}
	enc16, err := NewEncoder(EncoderConfig{SampleRate: 16000})
	require.NoError(t, err)
	defer enc16.Close()
	_, err = enc16.Encode(nil, make([]int16, 160+1))
	require.ErrorIs(t, err, ErrCodec, "no frame size at 16 kHz")
	_, err = enc16.Encode(nil, make([]int16, 1440))
	require.ErrorIs(t, err, ErrCodec, "90 ms is no frame size")
	dec16, err := NewDecoderRate(16000)
	require.NoError(t, err)
	defer dec16.Close()
	_, err = dec16.Conceal(nil, 16000*120/1000+1)
	require.ErrorIs(t, err, ErrCodec, "beyond 120 ms at 16 kHz")
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

// benchRates are the rates the codec benchmarks run at: Opus' own, and
// the fixed host rates a session may ask for.
var benchRates = []int{SampleRate, 16000, 8000}

func BenchmarkEncode20ms(b *testing.B) {
	for _, rate := range benchRates {
		b.Run(fmt.Sprint(rate), func(b *testing.B) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: rate, FEC: true})
			require.NoError(b, err)
			defer enc.Close()
			in := toneAt(0, rate/50, 440, 8000, rate)
			buf := make([]byte, 0, maxPacket)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Encode(buf[:0], in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	for _, rate := range benchRates {
		b.Run(fmt.Sprint(rate), func(b *testing.B) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: rate, FEC: true})
			require.NoError(b, err)
			defer enc.Close()
			pkt, err := enc.Encode(nil, toneAt(0, rate/50, 440, 8000, rate))
			require.NoError(b, err)
			dec, err := NewDecoderRate(rate)
			require.NoError(b, err)
			defer dec.Close()
			out := make([]int16, 0, maxFrameAt(rate))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.Decode(out[:0], pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
