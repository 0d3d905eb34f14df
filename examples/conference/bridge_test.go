package main

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/wav"
)

var errHungUp = errors.New("hung up")

// tonePhone is a caller's audio: it says a tone and keeps what it hears.
type tonePhone struct {
	mu     sync.Mutex
	rate   int
	hz     float64
	n      int
	heard  []int16
	closed bool
}

func (p *tonePhone) SampleRate() int { return p.rate }

func (p *tonePhone) PollFrame(dst []int16) ([]int16, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return dst, 0, errHungUp
	}
	for range p.rate / 50 {
		dst = append(dst, int16(0.2*math.MaxInt16*math.Sin(2*math.Pi*p.hz*float64(p.n)/float64(p.rate))))
		p.n++
	}
	return dst, 1, nil
}

func (p *tonePhone) PushFrame(s []int16) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, errHungUp
	}
	p.heard = append(p.heard, s...)
	return false, nil
}

// take returns what p heard since the last call.
func (p *tonePhone) take() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.heard
	p.heard = nil
	return h
}

func level(p *tonePhone, samples []int16, hz float64) float64 {
	return wav.ToneLevel(samples, hz, p.rate)
}

// logger collects the bridge's lines.
type logger struct {
	mu    sync.Mutex
	lines []string
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// A room by URI and the same room by PIN from the lobby: everyone hears
// the others and not themselves, G.722 beside G.711; the join tone plays;
// *6 mutes; a party leaves and another joins and the room goes on; the
// room ends, and its mixer leaves the engine, with its last party.
func TestBridgeRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
		require.NoError(t, err)
		var log logger
		br := newBridge("conference", 2, 8, nil, log.printf)
		defer br.close()
		a := &tonePhone{rate: 8000, hz: 500}
		b := &tonePhone{rate: 16000, hz: 700}
		c := &tonePhone{rate: 8000, hz: 900}
		lobby, err := br.arrive("a", "42", a, e)
		require.NoError(t, err)
		require.False(t, lobby)
		_, err = br.arrive("b", "42", b, e)
		require.NoError(t, err)
		lobby, err = br.arrive("c", "conference", c, e)
		require.NoError(t, err)
		require.True(t, lobby)
		_, err = br.arrive("c", "42", c, e)
		require.ErrorIs(t, err, errKnownCall)
		for _, d := range "42#" {
			br.digit("c", d)
		}
		require.Equal(t, map[string]int{"42": 3}, br.roomSizes())

		time.Sleep(time.Second)
		synctest.Wait()
		heard := map[*tonePhone][]int16{a: a.take(), b: b.take(), c: c.take()}
		first := heard[a][:2400]
		require.Greater(t, level(a, first, cueLowHz)+level(a, first, cueHighHz), 0.001, "the join tone")
		for _, p := range []*tonePhone{a, b, c} {
			got := heard[p][p.rate/2:] // after the join tones
			for _, q := range []*tonePhone{a, b, c} {
				l := level(p, got, q.hz)
				if p == q {
					require.Less(t, l, 0.0005, "%g Hz does not hear itself", p.hz)
				} else {
					require.Greater(t, l, 0.02, "%g Hz hears %g Hz", p.hz, q.hz)
				}
			}
		}

		br.digit("b", '*')
		br.digit("b", '6')
		time.Sleep(time.Second)
		synctest.Wait()
		require.Less(t, level(a, a.take(), 700), 0.0005, "b muted")
		br.digit("b", '*')
		br.digit("b", '6')

		br.depart("c")
		br.depart("c") // twice: ignored
		d := &tonePhone{rate: 8000, hz: 1100}
		_, err = br.arrive("d", "42", d, e)
		require.NoError(t, err)
		a.take()
		time.Sleep(time.Second)
		synctest.Wait()
		got := a.take()
		require.Len(t, got, 50*160, "a's audio never stopped")
		require.Greater(t, level(a, got, 1100), 0.02, "the newcomer is heard")
		require.Greater(t, level(a, got, 700), 0.02, "b unmuted")
		require.Less(t, level(a, got[1600:], 900), 0.0005, "the leaver is not")

		_, err = br.arrive("x", "7", &tonePhone{rate: 8000, hz: 300}, e)
		require.NoError(t, err)
		_, err = br.arrive("y", "8", &tonePhone{rate: 8000, hz: 300}, e)
		require.ErrorIs(t, err, errTooManyRooms)
		br.depart("x")

		for _, id := range []string{"a", "b", "d"} {
			br.depart(id)
		}
		require.Empty(t, br.roomSizes())
		require.Zero(t, e.Sessions(), "the mixers left the engine")
		require.Contains(t, log.lines, "room 42 opened")
		br.close()
	})
}

// A party whose call ended leaves the mix at the next tick even before
// the bridge hears of it; the lobby's caller who hangs up is forgotten.
func TestBridgeHangups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
		require.NoError(t, err)
		var log logger
		br := newBridge("conference", 2, 2, nil, log.printf)
		defer br.close()
		a, b := &tonePhone{rate: 8000, hz: 500}, &tonePhone{rate: 8000, hz: 700}
		_, err = br.arrive("a", "1", a, e)
		require.NoError(t, err)
		_, err = br.arrive("b", "1", b, e)
		require.NoError(t, err)
		_, err = br.arrive("c", "1", &tonePhone{rate: 8000}, e)
		require.Error(t, err, "-max-parties 2")
		_, err = br.arrive("l", "", &tonePhone{rate: 8000}, e)
		require.NoError(t, err)
		br.depart("l")

		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		a.take()
		time.Sleep(time.Second)
		synctest.Wait()
		require.Less(t, level(a, a.take(), 700), 0.0005)
		br.depart("b")
		br.depart("a")
		require.Empty(t, br.roomSizes())
		require.Zero(t, e.Sessions())
	})
}

// musicHz is the hold music's tone in TestBridgeHoldMusic.
const musicHz = 300

// With -hold-music, a party alone in a room hears the music until a
// second one joins, then the other party and no music; when the other
// leaves, the music comes back.
func TestBridgeHoldMusic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
		require.NoError(t, err)
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: musicHz, Amplitude: 0.2})
		require.NoError(t, err)
		var pcm []int16
		for range 25 { // 0.5 s, looped
			pcm, _ = g.ReadFrame(pcm)
		}
		music, err := rtp.NewLoop(pcm)
		require.NoError(t, err)
		var log logger
		br := newBridge("conference", 2, 8, music, log.printf)
		defer br.close()
		a, b := &tonePhone{rate: 8000, hz: 500}, &tonePhone{rate: 16000, hz: 700}

		_, err = br.arrive("a", "42", a, e)
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := a.take()[4000:] // after the join tone
		require.Greater(t, level(a, got, musicHz), 0.02, "a alone hears the music")
		require.Less(t, level(a, got, 500), 0.0005, "and not itself")

		_, err = br.arrive("b", "42", b, e)
		require.NoError(t, err)
		a.take()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got = a.take()[4000:]
		require.Greater(t, level(a, got, 700), 0.02, "a hears b")
		require.Less(t, level(a, got, musicHz), 0.0005, "and no music")
		gotB := b.take()[8000:]
		require.Greater(t, level(b, gotB, 500), 0.02, "b hears a")
		require.Less(t, level(b, gotB, musicHz), 0.0005, "and no music")

		br.depart("a")
		b.take()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		gotB = b.take()[8000:] // after the leave tone
		require.Greater(t, level(b, gotB, musicHz), 0.02, "b left alone hears the music again")
		require.Less(t, level(b, gotB, 500), 0.0005, "and not a")
		br.depart("b")
		require.Zero(t, e.Sessions())
	})
}
