package wav

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeRate writes samples to a WAV file at rate through NewWriterRate and
// returns its bytes.
func writeRate(t *testing.T, rate int, samples []int16) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.wav")
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := NewWriterRate(f, rate)
	require.NoError(t, err)
	require.NoError(t, w.WriteSamples(samples))
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func toneAt(t *testing.T, hz float64, rate, n int) []int16 {
	t.Helper()
	g, err := NewToneGenerator(ToneConfig{Frequency: hz, SampleRate: rate, FrameSamples: n})
	require.NoError(t, err)
	s, err := g.ReadFrame(nil)
	require.NoError(t, err)
	return s
}

// readAll reads r to the end in frames, checking every frame but the last
// is want samples long.
func readAll(t *testing.T, r *Reader, want int) []int16 {
	t.Helper()
	var all []int16
	for {
		f, err := r.ReadFrame(nil)
		all = append(all, f...)
		if err == io.EOF {
			return all
		}
		require.NoError(t, err)
		if len(f) < want {
			continue // the last, short frame
		}
		require.Len(t, f, want)
	}
}

// Files at the rate of a G.722 call: written at 16 kHz, read at 16 kHz
// without conversion, and 8 and 48 kHz files converted to 16 kHz, the tone
// kept.
func TestWAVRates(t *testing.T) {
	tests := []struct {
		name     string
		fileRate int
		hz       float64
	}{
		{"16 kHz as is", 16000, 6000}, // above what 8 kHz carries
		{"8 kHz up", 8000, 1000},
		{"48 kHz down", 48000, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := toneAt(t, tt.hz, tt.fileRate, tt.fileRate) // one second
			file := writeRate(t, tt.fileRate, src)
			r, err := NewReader(bytes.NewReader(file))
			require.NoError(t, err)
			assert.Equal(t, uint32(tt.fileRate), r.Format().SampleRate)
			require.NoError(t, r.SetOutputRate(16000))
			assert.Equal(t, 16000, r.OutputRate())
			got := readAll(t, r, 320)
			assert.InDelta(t, 16000, len(got), 3, "one second at 16 kHz")
			assert.Greater(t, ToneLevel(got[1000:2600], tt.hz, 16000), 0.05)
			if tt.fileRate == 16000 {
				assert.Equal(t, src, got, "no conversion at the same rate")
			}
			require.ErrorIs(t, r.SetOutputRate(8000), ErrUnsupported, "too late")
		})
	}
}

func TestWAVRateErrors(t *testing.T) {
	r, err := NewReader(bytes.NewReader(writeRate(t, 8000, make([]int16, 10))))
	require.NoError(t, err)
	require.ErrorIs(t, r.SetOutputRate(MinSampleRate-1), ErrUnsupported)
	require.ErrorIs(t, r.SetOutputRate(MaxSampleRate+1), ErrUnsupported)
	assert.Equal(t, 8000, r.OutputRate(), "unchanged by a refused rate")
	f, err := os.Create(filepath.Join(t.TempDir(), "x.wav"))
	require.NoError(t, err)
	defer f.Close()
	_, err = NewWriterRate(f, 100)
	require.ErrorIs(t, err, ErrUnsupported)
}
