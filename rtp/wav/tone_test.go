package wav

import (
	"math"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	"github.com/stretchr/testify/require"
)

func toneTestSamples(t *testing.T, cfg ToneConfig, frames int) []int16 {
	t.Helper()
	g, err := NewToneGenerator(cfg)
	require.NoError(t, err)
	var out []int16
	for range frames {
		out, err = g.ReadFrame(out)
		require.NoError(t, err)
	}
	return out
}

func TestToneGeneratorPhaseContinuity(t *testing.T) {
	const freq, amp = 1004.0, 0.5
	got := toneTestSamples(t, ToneConfig{Frequency: freq, Amplitude: amp}, 10)
	require.Len(t, got, 10*audio.FrameSamples)
	// Every sample, across frame boundaries, matches one continuous sine.
	for i, s := range got {
		want := amp * math.MaxInt16 * math.Sin(2*math.Pi*freq*float64(i)/audio.SampleRate)
		require.InDeltaf(t, want, float64(s), 1.5, "sample %d", i)
	}
}

func TestToneGeneratorDefaultsAndDualTone(t *testing.T) {
	got := toneTestSamples(t, ToneConfig{Frequency: 770, Frequency2: 1336}, 5) // DTMF '5'
	for _, f := range []float64{770, 1336} {
		require.InDeltaf(t, ToneDefaultAmplitude*ToneDefaultAmplitude, ToneLevel(got, f, audio.SampleRate), 0.005, "%g Hz", f)
	}
	for _, f := range []float64{697, 1209, 1477} {
		require.Lessf(t, ToneLevel(got, f, audio.SampleRate), 0.005, "%g Hz", f)
	}
	// A full-scale dual tone clips instead of wrapping around.
	loud := toneTestSamples(t, ToneConfig{Frequency: 400, Frequency2: 401, Amplitude: 1}, 5)
	require.Contains(t, loud, int16(math.MaxInt16))
	for i := 1; i < len(loud); i++ {
		require.Less(t, math.Abs(float64(loud[i])-float64(loud[i-1])), 40000.0, "no wrap-around at %d", i)
	}
}

func TestToneConfigErrors(t *testing.T) {
	tests := []ToneConfig{
		{},
		{Frequency: -1},
		{Frequency: 4000},
		{Frequency: 100, Frequency2: 5000},
		{Frequency: 100, Amplitude: 1.5},
		{Frequency: 100, Amplitude: -0.1},
		{Frequency: 100, SampleRate: -8000},
		{Frequency: math.NaN()},
	}
	for _, cfg := range tests {
		_, err := NewToneGenerator(cfg)
		require.ErrorIsf(t, err, ErrToneConfig, "%+v", cfg)
	}
}

func TestToneLevelSeparatesFrequencies(t *testing.T) {
	const amp = 0.5
	tone440 := toneTestSamples(t, ToneConfig{Frequency: 440, Amplitude: amp}, 5)
	tone1000 := toneTestSamples(t, ToneConfig{Frequency: 1000, Amplitude: amp}, 5)
	codecs := []struct {
		name  string
		codec func([]int16) []int16
		delta float64
	}{
		{"linear", func(s []int16) []int16 { return s }, 0.005},
		{"ulaw", func(s []int16) []int16 { return g711.DecodeULaw(nil, g711.EncodeULaw(nil, s)) }, 0.01},
		{"alaw", func(s []int16) []int16 { return g711.DecodeALaw(nil, g711.EncodeALaw(nil, s)) }, 0.01},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			a, b := c.codec(tone440), c.codec(tone1000)
			require.InDelta(t, amp*amp, ToneLevel(a, 440, audio.SampleRate), c.delta)
			require.InDelta(t, amp*amp, ToneLevel(b, 1000, audio.SampleRate), c.delta)
			// At least 30 dB between the tone and the other frequency.
			require.Less(t, ToneLevel(a, 1000, audio.SampleRate), amp*amp/1000)
			require.Less(t, ToneLevel(b, 440, audio.SampleRate), amp*amp/1000)
		})
	}
}

func TestToneLevelEdgeCases(t *testing.T) {
	s := toneTestSamples(t, ToneConfig{Frequency: 440}, 1)
	require.Zero(t, ToneLevel(nil, 440, 8000))
	require.Zero(t, ToneLevel(s, 440, 0))
	require.Zero(t, ToneLevel(s, 0, 8000))
	require.Zero(t, ToneLevel(s, 4000, 8000))
	silence, err := SilenceSource{}.ReadFrame([]int16{5})
	require.NoError(t, err)
	require.Len(t, silence, 1+audio.FrameSamples)
	require.Equal(t, int16(5), silence[0])
	require.Zero(t, ToneLevel(silence[1:], 440, 8000))
	short, err := SilenceSource{FrameSamples: 80}.ReadFrame(make([]int16, 0, 80))
	require.NoError(t, err)
	require.Len(t, short, 80)
}

func TestToneZeroAllocs(t *testing.T) {
	g, err := NewToneGenerator(ToneConfig{Frequency: 440})
	require.NoError(t, err)
	buf := make([]int16, 0, audio.FrameSamples)
	require.Zero(t, testing.AllocsPerRun(50, func() { buf, _ = g.ReadFrame(buf[:0]) }))
	require.Zero(t, testing.AllocsPerRun(50, func() { buf, _ = SilenceSource{}.ReadFrame(buf[:0]) }))
}
