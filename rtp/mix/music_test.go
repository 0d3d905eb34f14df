package mix_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/mix"
	"github.com/dialtone/dialtone/rtp/wav"
)

// musicHz is the tone of the music in the tests, apart from the parties'.
const musicHz = 300

// newMusic is 1 s of a musicHz tone at toneAmp, as a Loop.
func newMusic(t *testing.T) *rtp.Loop {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: musicHz, Amplitude: toneAmp})
	require.NoError(t, err)
	var pcm []int16
	for range 50 {
		pcm, err = g.ReadFrame(pcm)
		require.NoError(t, err)
	}
	l, err := rtp.NewLoop(pcm)
	require.NoError(t, err)
	return l
}

// A member alone in the mix hears Config.AloneMusic, looped, and not
// itself; when a second one joins, each hears the other and no music;
// when the room falls back to one member, the music resumes for it, at
// its own rate (the wideband member left alone hears it at 16 kHz).
func TestMixAloneMusic(t *testing.T) {
	m := newMixer(t, mix.Config{AloneMusic: newMusic(t)})
	a, b := newTonePart(t, 500, 8000), newTonePart(t, 700, 16000)
	am, err := m.Join(a)
	require.NoError(t, err)
	tickN(m, 75) // 1.5 s: the 1 s loop wraps
	got := a.heard()
	require.Len(t, got, 75*160)
	requireHears(t, got, 8000, []float64{musicHz}, []float64{500}, "a alone")
	require.Equal(t, uint64(75), m.Stats().Music)

	_, err = m.Join(b)
	require.NoError(t, err)
	tickN(m, 50)
	requireHears(t, a.heard(), 8000, []float64{700}, []float64{musicHz, 500}, "a with b")
	requireHears(t, b.heard(), 16000, []float64{500}, []float64{musicHz, 700}, "b with a")
	require.Equal(t, uint64(75), m.Stats().Music, "no music while two are in")

	am.Leave()
	tickN(m, 50)
	requireHears(t, b.heard(), 16000, []float64{musicHz}, []float64{500, 700}, "b left alone")
	require.Equal(t, uint64(125), m.Stats().Music)
}

// Without AloneMusic a lone member hears silence (and its own audio never).
func TestMixAloneSilence(t *testing.T) {
	m := newMixer(t, mix.Config{})
	a := newTonePart(t, 500, 8000)
	_, err := m.Join(a)
	require.NoError(t, err)
	tickN(m, 10)
	for _, v := range a.heard() {
		require.Zero(t, v)
	}
	require.Zero(t, m.Stats().Music)
}
