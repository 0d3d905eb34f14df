package main

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/mix"
)

// Bridge limits' defaults.
const (
	// DefaultMaxRooms is -max-rooms when not given.
	DefaultMaxRooms = 100
	// DefaultMaxParties is -max-parties when not given.
	DefaultMaxParties = mix.DefaultMaxParties
)

// Join and leave tones: two short notes up when someone joins, down when
// someone leaves, above the voice band's busiest part so that they are
// told apart from speech (and from the interop test's 500-1100 Hz tones).
const (
	cueLowHz, cueHighHz = 1400, 1800
	cueNoteSamples      = audio.SampleRate * 120 / 1000 // 120 ms
	cueAmplitude        = 0.1
)

var (
	joinCue  = notes(cueLowHz, cueHighHz)
	leaveCue = notes(cueHighHz, cueLowHz)
)

// notes returns tones one after the other, at 8 kHz.
func notes(hz ...float64) []int16 {
	var out []int16
	for _, f := range hz {
		for i := range cueNoteSamples {
			out = append(out, int16(cueAmplitude*math.MaxInt16*math.Sin(2*math.Pi*f*float64(i)/audio.SampleRate)))
		}
	}
	return out
}

// Bridge errors.
var (
	errTooManyRooms = errors.New("conference: too many rooms")
	errKnownCall    = errors.New("conference: call already in the bridge")
)

// bridge is the conference: rooms by name, each one mixer on the media
// clock, and the callers in them or in the lobby (waiting for a PIN). It
// starts no goroutine: the mixers tick on the sessions' engine, and
// digits and hang-ups come in as calls to digit and depart.
type bridge struct {
	lobby      string // the Request-URI user that asks for a PIN
	maxRooms   int
	maxParties int
	music      *rtp.Loop // what a party alone in a room hears (-hold-music); nil: silence
	printf     func(string, ...any)

	mu    sync.Mutex
	rooms map[string]*room
	calls map[string]*caller // by Call-ID
}

type room struct {
	name    string
	mixer   *mix.Mixer
	members int
}

type caller struct {
	id     string
	party  mix.Party
	engine *rtp.Engine
	keys   keypad
	room   *room
	member *mix.Member
}

// newBridge returns an empty bridge; music, when not nil, is what a party
// alone in a room hears, looped, until another joins.
func newBridge(lobby string, maxRooms, maxParties int, music *rtp.Loop, printf func(string, ...any)) *bridge {
	return &bridge{lobby: lobby, maxRooms: maxRooms, maxParties: maxParties, music: music, printf: printf,
		rooms: map[string]*room{}, calls: map[string]*caller{}}
}

// arrive takes an answered call whose Request-URI user is user: the room
// of that name, or the lobby (lobby true) when user is the lobby's or
// empty. The call's audio is party, paced by engine.
func (b *bridge) arrive(id, user string, party mix.Party, engine *rtp.Engine) (lobby bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls[id] != nil {
		return false, fmt.Errorf("%w: %s", errKnownCall, id)
	}
	c := &caller{id: id, party: party, engine: engine}
	if user == "" || user == b.lobby {
		c.keys.inLobby = true
		b.calls[id] = c
		b.printf("lobby call=%s: waiting for a PIN and #", id)
		return true, nil
	}
	if err := b.joinLocked(c, user); err != nil {
		return false, err
	}
	b.calls[id] = c
	return false, nil
}

// joinLocked puts c in the room name, opening it if needed.
func (b *bridge) joinLocked(c *caller, name string) error {
	r := b.rooms[name]
	if r == nil {
		if len(b.rooms) >= b.maxRooms {
			return fmt.Errorf("%w: %d open", errTooManyRooms, len(b.rooms))
		}
		m, err := mix.New(mix.Config{MaxParties: b.maxParties, AloneMusic: b.music})
		if err != nil {
			return err
		}
		if err := m.Start(c.engine); err != nil {
			return err
		}
		r = &room{name: name, mixer: m}
		b.rooms[name] = r
		b.printf("room %s opened", name)
	}
	mb, err := r.mixer.Join(c.party)
	if err != nil {
		b.closeIfEmptyLocked(r)
		return err
	}
	r.members++
	c.room, c.member, c.keys = r, mb, keypad{}
	_ = r.mixer.Cue(joinCue, audio.SampleRate) // a full cue queue only loses the tone
	b.printf("joined room=%s call=%s parties=%d", r.name, c.id, r.members)
	return nil
}

// digit handles a DTMF digit of call id: a PIN in the lobby, *6 in a room.
func (b *bridge) digit(id string, d rune) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls[id]
	if c == nil {
		return
	}
	action, pin := c.keys.press(d)
	switch action {
	case keyPIN:
		if err := b.joinLocked(c, pin); err != nil {
			b.printf("join failed call=%s room=%s: %v", id, pin, err)
			c.keys = keypad{inLobby: true}
		}
	case keyPINTooLong:
		b.printf("lobby call=%s: PIN longer than %d digits, start again", id, MaxPINDigits)
	case keyPINCleared:
		b.printf("lobby call=%s: PIN cleared", id)
	case keyMute:
		muted := !c.member.Muted()
		c.member.SetMuted(muted)
		b.printf("mute room=%s call=%s muted=%v", c.room.name, id, muted)
	}
}

// depart takes call id out of its room (it hung up); the room ends with
// its last party. Unknown calls are ignored, so it may run twice.
func (b *bridge) depart(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls[id]
	if c == nil {
		return
	}
	delete(b.calls, id)
	r := c.room
	if r == nil {
		b.printf("lobby call=%s left", id)
		return
	}
	c.member.Leave()
	r.members--
	b.printf("left room=%s call=%s parties=%d", r.name, id, r.members)
	if !b.closeIfEmptyLocked(r) {
		_ = r.mixer.Cue(leaveCue, audio.SampleRate)
	}
}

// closeIfEmptyLocked ends r when nobody is left in it.
func (b *bridge) closeIfEmptyLocked(r *room) bool {
	if r.members > 0 {
		return false
	}
	r.mixer.Close()
	delete(b.rooms, r.name)
	st := r.mixer.Stats()
	b.printf("room %s ended ticks=%d underruns=%d dropped=%d", r.name, st.Ticks, st.Underruns, st.Dropped)
	return true
}

// close ends every room (the program is stopping).
func (b *bridge) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rooms {
		r.mixer.Close()
		delete(b.rooms, r.name)
	}
	clear(b.calls)
}

// roomSizes returns the number of parties per open room.
func (b *bridge) roomSizes() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.rooms))
	for name, r := range b.rooms {
		out[name] = r.members
	}
	return out
}
