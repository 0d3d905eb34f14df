package mix_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/mix"
	"github.com/dialtone/dialtone/rtp/wav"
)

var errPartyClosed = errors.New("party closed")

// fakeParty speaks a tone (or a constant) and records what it is sent,
// standing in for an rtp.Session.
type fakeParty struct {
	mu      sync.Mutex
	rate    int
	gen     *wav.ToneGenerator // nil: constant
	dc      int16
	backlog int // frames waiting at the next poll, beyond the one due
	polls   int
	got     []int16
	closed  bool
	full    bool // PushFrame reports a dropped frame
}

func newTonePart(t testing.TB, hz float64, rate int) *fakeParty {
	t.Helper()
	return newTonePartAmp(t, hz, rate, toneAmp)
}

func newTonePartAmp(t testing.TB, hz float64, rate int, amp float64) *fakeParty {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz, Amplitude: amp, SampleRate: rate, FrameSamples: rate / 50})
	require.NoError(t, err)
	return &fakeParty{rate: rate, gen: g}
}

func (p *fakeParty) SampleRate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

func (p *fakeParty) PollFrame(dst []int16) ([]int16, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return dst, 0, errPartyClosed
	}
	p.polls++
	waiting := 1 + p.backlog
	if p.backlog > 0 {
		p.backlog--
	}
	if p.gen != nil {
		out, _ := p.gen.ReadFrame(dst)
		return out, waiting, nil
	}
	for range p.rate / 50 {
		dst = append(dst, p.dc)
	}
	return dst, waiting, nil
}

func (p *fakeParty) PushFrame(samples []int16) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, errPartyClosed
	}
	p.got = append(p.got, samples...)
	return p.full, nil
}

// heard returns what the party received since the last call.
func (p *fakeParty) heard() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.got
	p.got = nil
	return g
}

// tickN runs n mixer periods.
func tickN(m *mix.Mixer, n int) {
	for range n {
		m.Tick()
	}
}

// toneAmp is the parties' tone amplitude: the others' tones give a level
// of about toneAmp² (0.04); heardLevel is half that, and a tone below
// absentLevel (1/80 of it, 19 dB down) is not heard.
const (
	toneAmp     = 0.2
	heardLevel  = toneAmp * toneAmp / 2
	absentLevel = toneAmp * toneAmp / 80
)

// requireHears checks the tones in samples (skipping the first 100 ms,
// where the resamplers' history fills), for tones of toneAmp.
func requireHears(t *testing.T, samples []int16, rate int, hear, notHear []float64, who string) {
	t.Helper()
	requireHearsAmp(t, samples, rate, hear, notHear, who, toneAmp)
}

// requireHearsAmp is requireHears for tones of amplitude amp.
func requireHearsAmp(t *testing.T, samples []int16, rate int, hear, notHear []float64, who string, amp float64) {
	t.Helper()
	heardLevel, absentLevel := amp*amp/2, amp*amp/80
	samples = samples[rate/10:]
	for _, hz := range hear {
		require.Greater(t, wav.ToneLevel(samples, hz, rate), heardLevel, "%s hears %g Hz", who, hz)
	}
	for _, hz := range notHear {
		require.Less(t, wav.ToneLevel(samples, hz, rate), absentLevel, "%s does not hear %g Hz", who, hz)
	}
}
