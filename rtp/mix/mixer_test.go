package mix_test

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/mix"
	"github.com/dialtone/dialtone/rtp/wav"
)

func newMixer(t testing.TB, cfg mix.Config) *mix.Mixer {
	t.Helper()
	m, err := mix.New(cfg)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

// Every party hears every other party's tone and not its own, whatever
// the mix of narrowband and wideband parties; the mix runs at 16 kHz as
// soon as one party is wideband.
func TestMixEachHearsTheOthers(t *testing.T) {
	tests := []struct {
		name     string
		rates    []int
		wantRate int
		amp      float64 // the tones' amplitude; the sum must not clip
	}{
		{name: "three narrowband", rates: []int{8000, 8000, 8000}, wantRate: 8000},
		{name: "three wideband", rates: []int{16000, 16000, 16000}, wantRate: 16000},
		{name: "mixed rates", rates: []int{8000, 16000, 8000, 16000}, wantRate: 16000},
		{name: "one wideband among narrowband", rates: []int{8000, 8000, 8000, 8000, 16000}, wantRate: 16000},
		{name: "ten parties", rates: []int{8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000}, wantRate: 8000, amp: 0.08},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMixer(t, mix.Config{})
			var parties []*fakeParty
			var tones []float64
			amp := tt.amp
			if amp == 0 {
				amp = toneAmp
			}
			for i, r := range tt.rates {
				hz := 500 + 200*float64(i)
				p := newTonePartAmp(t, hz, r, amp)
				_, err := m.Join(p)
				require.NoError(t, err)
				parties, tones = append(parties, p), append(tones, hz)
			}
			tickN(m, 50)
			require.Equal(t, tt.wantRate, m.Stats().Rate)
			for i, p := range parties {
				got := p.heard()
				require.Len(t, got, 50*p.rate/50, "one frame per tick at the party's rate")
				var others []float64
				for j, hz := range tones {
					if j != i {
						others = append(others, hz)
					}
				}
				requireHearsAmp(t, got, p.rate, others, []float64{tones[i]}, tt.name, amp)
			}
		})
	}
}

// Loud parties saturate: the sum is clipped to the int16 range, never
// wrapped to the other sign; the party's own contribution is taken out
// before clipping.
func TestMixSaturates(t *testing.T) {
	tests := []struct {
		name string
		dc   []int16
		want []int16 // what each hears
	}{
		{name: "positive", dc: []int16{30000, 30000, 30000}, want: []int16{math.MaxInt16, math.MaxInt16, math.MaxInt16}},
		{name: "negative", dc: []int16{-30000, -30000, -30000}, want: []int16{math.MinInt16, math.MinInt16, math.MinInt16}},
		{name: "own taken out first", dc: []int16{30000, 30000, -30000}, want: []int16{0, 0, math.MaxInt16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMixer(t, mix.Config{})
			var parties []*fakeParty
			for _, v := range tt.dc {
				p := &fakeParty{rate: 8000, dc: v}
				_, err := m.Join(p)
				require.NoError(t, err)
				parties = append(parties, p)
			}
			m.Tick()
			for i, p := range parties {
				for _, v := range p.heard() {
					require.Equal(t, tt.want[i], v, "party %d", i)
				}
			}
		})
	}
}

// A party leaving mid-stream is no longer heard, one joining is heard
// from its first tick, a wideband joiner moves the room to 16 kHz and its
// leaving back to 8 kHz; the others go on without a gap.
func TestMixLeaveAndJoin(t *testing.T) {
	m := newMixer(t, mix.Config{})
	a, b, c := newTonePart(t, 500, 8000), newTonePart(t, 700, 8000), newTonePart(t, 900, 8000)
	var members []*mix.Member
	for _, p := range []*fakeParty{a, b, c} {
		mb, err := m.Join(p)
		require.NoError(t, err)
		members = append(members, mb)
	}
	tickN(m, 50)
	requireHears(t, a.heard(), 8000, []float64{700, 900}, []float64{500}, "a before")

	members[2].Leave()
	members[2].Leave() // idempotent
	require.True(t, members[2].Gone())
	d := newTonePart(t, 1100, 16000)
	dm, err := m.Join(d)
	require.NoError(t, err)
	tickN(m, 50)
	require.Equal(t, 16000, m.Stats().Rate)
	require.Equal(t, 3, m.Len())
	got := a.heard()
	require.Len(t, got, 50*160, "a kept one frame per tick")
	requireHears(t, got, 8000, []float64{700}, []float64{500, 900}, "a after c left")
	// 1100 Hz from the wideband party, through the mix's down-conversion.
	requireHears(t, got, 8000, []float64{1100}, nil, "a hears d")
	requireHears(t, d.heard(), 16000, []float64{500, 700}, []float64{900, 1100}, "d")

	dm.Leave()
	tickN(m, 5)
	require.Equal(t, 8000, m.Stats().Rate)
	require.Len(t, c.heard(), 50*160, "c heard nothing after it left")
}

// A muted party adds nothing but still hears the room.
func TestMixMute(t *testing.T) {
	m := newMixer(t, mix.Config{})
	a, b, c := newTonePart(t, 500, 8000), newTonePart(t, 700, 8000), newTonePart(t, 900, 8000)
	_, err := m.Join(a)
	require.NoError(t, err)
	bm, err := m.Join(b)
	require.NoError(t, err)
	_, err = m.Join(c)
	require.NoError(t, err)
	bm.SetMuted(true)
	require.True(t, bm.Muted())
	tickN(m, 50)
	requireHears(t, a.heard(), 8000, []float64{900}, []float64{500, 700}, "a, b muted")
	requireHears(t, b.heard(), 8000, []float64{500, 900}, []float64{700}, "muted b")
	bm.SetMuted(false)
	tickN(m, 50)
	requireHears(t, a.heard(), 8000, []float64{700, 900}, []float64{500}, "a, b unmuted")
}

// A party whose session closed is taken out at the tick that finds it;
// frames beyond MaxBacklog are dropped to keep the delay short; a party
// with nothing to give is heard as silence; a full send queue is counted.
func TestMixPartyTrouble(t *testing.T) {
	m := newMixer(t, mix.Config{MaxBacklog: 2})
	a, b := newTonePart(t, 500, 8000), &fakeParty{rate: 8000, backlog: 4, full: true}
	am, err := m.Join(a)
	require.NoError(t, err)
	_, err = m.Join(b)
	require.NoError(t, err)
	m.Tick()
	st := m.Stats()
	require.Equal(t, uint64(3), st.Dropped, "5 waiting, 2 kept: 3 dropped")
	require.Equal(t, 4, b.polls)
	require.Equal(t, uint64(1), st.Overruns)

	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	m.Tick()
	require.True(t, am.Gone())
	require.Equal(t, 1, m.Len())
	require.Equal(t, uint64(1), m.Stats().Gone)
}

// Cues are heard by every member once, at the mix rate, and bounded.
func TestMixCue(t *testing.T) {
	m := newMixer(t, mix.Config{MaxCue: 100 * time.Millisecond})
	a := &fakeParty{rate: 8000}
	_, err := m.Join(a)
	require.NoError(t, err)
	tone := newTonePart(t, 1000, 8000)
	cue, _, _ := tone.PollFrame(nil)
	cue, _, _ = tone.PollFrame(cue)
	cue, _, _ = tone.PollFrame(cue) // 60 ms at 8 kHz
	require.NoError(t, m.Cue(cue, 8000))
	require.ErrorIs(t, m.Cue(cue, 8000), mix.ErrCueFull, "120 ms > MaxCue")
	require.ErrorIs(t, m.Cue(cue, 44100), mix.ErrRate)
	tickN(m, 5)
	got := a.heard()
	require.Greater(t, wav.ToneLevel(got[:480], 1000, 8000), heardLevel*0.5, "the cue plays")
	for _, v := range got[560:] {
		require.Zero(t, v, "once")
	}
	require.NoError(t, m.Cue(cue, 8000), "room again once played")
}

func TestMixLimits(t *testing.T) {
	for _, cfg := range []mix.Config{{MaxParties: -1}, {MaxParties: mix.MaxParties + 1}, {MaxBacklog: -1}, {MaxCue: -1}} {
		_, err := mix.New(cfg)
		require.ErrorIs(t, err, mix.ErrConfig, "%+v", cfg)
	}
	m := newMixer(t, mix.Config{MaxParties: 2})
	for range 2 {
		_, err := m.Join(&fakeParty{rate: 8000})
		require.NoError(t, err)
	}
	_, err := m.Join(&fakeParty{rate: 8000})
	require.ErrorIs(t, err, mix.ErrFull)
	m2 := newMixer(t, mix.Config{})
	_, err = m2.Join(&fakeParty{rate: 48000})
	require.ErrorIs(t, err, mix.ErrRate)
	m2.Close()
	m2.Close()
	_, err = m2.Join(&fakeParty{rate: 8000})
	require.ErrorIs(t, err, mix.ErrClosed)
}

// Started on an engine, the mixer ticks once per period on the engine's
// clock with no goroutine of its own, until Close.
func TestMixOnEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
		require.NoError(t, err)
		m, err := mix.New(mix.Config{})
		require.NoError(t, err)
		a, b := newTonePart(t, 500, 8000), newTonePart(t, 700, 16000)
		_, err = m.Join(a)
		require.NoError(t, err)
		_, err = m.Join(b)
		require.NoError(t, err)
		require.NoError(t, m.Start(e))
		require.NoError(t, m.Start(e), "once")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		m.Close()
		require.InDelta(t, 500, m.Stats().Ticks, 1)
		require.Zero(t, e.Sessions(), "the ticker left the engine")
		requireHears(t, a.heard(), 8000, []float64{700}, []float64{500}, "a")
		require.ErrorIs(t, m.Start(e), mix.ErrClosed)
	})
}
