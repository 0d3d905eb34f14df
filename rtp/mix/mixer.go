// Package mix is a conference mixer: each period it takes one frame from
// every party, sums them, and gives each party the sum less its own
// contribution, so that everyone hears everyone else and not themselves.
//
// The mix runs at the best common rate: 16 kHz when any party speaks
// wideband (G.722), 8 kHz otherwise; narrowband parties are converted up
// on the way in and down on the way out (audio.Resampler). Samples are
// summed in 32 bits and saturated to 16 on the way out, so a loud room
// clips instead of wrapping.
//
// A Mixer has no goroutine: Start puts its Tick on an rtp.Engine's clock
// (an rtp.Ticker), the same clock that paces the parties' sessions, and
// Tick moves frames with the sessions' non-blocking PollFrame and
// PushFrame. Parties are anything with those methods; *rtp.Session is one.
package mix

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
)

// Mixer settings and their defaults.
const (
	// DefaultMaxParties is Config.MaxParties when zero.
	DefaultMaxParties = 64
	// MaxParties bounds Config.MaxParties.
	MaxParties = 1000
	// DefaultMaxBacklog is Config.MaxBacklog when zero: a party's received
	// frames beyond two are dropped, oldest first, so that a stall does
	// not leave the room with a lasting delay.
	DefaultMaxBacklog = 2
	// DefaultMaxCue is Config.MaxCue when zero: 10 s of queued cues.
	DefaultMaxCue = 10 * time.Second
	// Period is the mixing period: one 20 ms frame (audio.FrameDuration),
	// the ptime the parties' sessions should use.
	Period = audio.FrameDuration
	// WidebandRate and NarrowbandRate are the rates a party may have.
	WidebandRate   = 16000
	NarrowbandRate = audio.SampleRate
)

// Errors.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("mix: invalid configuration")
	// ErrFull reports a Join beyond Config.MaxParties.
	ErrFull = errors.New("mix: room full")
	// ErrRate reports a party or cue whose sample rate is neither 8000 nor 16000.
	ErrRate = errors.New("mix: unsupported sample rate")
	// ErrCueFull reports a Cue that would queue more than Config.MaxCue.
	ErrCueFull = errors.New("mix: cue queue full")
	// ErrClosed reports a call on a closed Mixer.
	ErrClosed = errors.New("mix: mixer closed")
)

// Party is one member's audio: *rtp.Session implements it. PollFrame
// appends the next received frame to dst and returns how many frames were
// waiting (0: none); PushFrame queues a frame to send without waiting;
// SampleRate is the rate of both. An error (the session closed) takes the
// party out of the mix.
type Party interface {
	PollFrame(dst []int16) ([]int16, int, error)
	PushFrame(samples []int16) (dropped bool, err error)
	SampleRate() int
}

// Config configures a Mixer; the zero value of each field selects its
// documented default.
type Config struct {
	// MaxParties is the most members at once; 0 means DefaultMaxParties.
	MaxParties int
	// MaxBacklog is how many received frames of a party may wait; older
	// ones are dropped. 0 means DefaultMaxBacklog.
	MaxBacklog int
	// MaxCue bounds the audio Cue may queue; 0 means DefaultMaxCue.
	MaxCue time.Duration
	// AloneMusic, when set, is what a member alone in the mix hears,
	// looped (as a bridge plays music to the first caller until another
	// joins), from its beginning each time a member is left alone; cues
	// play over it. Nil: silence.
	AloneMusic *rtp.Loop
}

// Stats are a mixer's counters.
type Stats struct {
	Ticks     uint64 // periods mixed
	Members   int    // members now
	Rate      int    // the mix rate of the last tick
	Underruns uint64 // frames a party had none to give (mixed as silence)
	Dropped   uint64 // received frames dropped beyond MaxBacklog
	Overruns  uint64 // sent frames that pushed out an unsent one
	Gone      uint64 // members taken out because their party failed
	Music     uint64 // periods of Config.AloneMusic mixed for a lone member
}

// Mixer mixes the audio of its members. Its methods are safe for
// concurrent use.
type Mixer struct {
	cfg Config

	mu      sync.Mutex
	members []*Member
	closed  bool
	ticker  *rtp.Ticker
	stats   Stats
	sum     []int32
	in, out []int16 // scratch at the party's rate
	wide    []int16 // scratch at the mix rate
	cue     cueQueue
	music   musicState
}

// Member is a party in the mix.
type Member struct {
	m     *Mixer
	party Party
	rate  int
	muted bool
	gone  bool
	up    *audio.Resampler // to the mix rate, when narrowband in a wideband mix
	down  *audio.Resampler // back to the party's rate
	own   []int32          // this tick's contribution
}

// New returns an empty mixer; invalid settings give an error wrapping
// ErrConfig.
func New(cfg Config) (*Mixer, error) {
	if cfg.MaxParties == 0 {
		cfg.MaxParties = DefaultMaxParties
	}
	if cfg.MaxBacklog == 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	if cfg.MaxCue == 0 {
		cfg.MaxCue = DefaultMaxCue
	}
	switch {
	case cfg.MaxParties < 0 || cfg.MaxParties > MaxParties:
		return nil, fmt.Errorf("%w: MaxParties %d", ErrConfig, cfg.MaxParties)
	case cfg.MaxBacklog < 0 || cfg.MaxBacklog > rtp.MaxQueueFrames:
		return nil, fmt.Errorf("%w: MaxBacklog %d", ErrConfig, cfg.MaxBacklog)
	case cfg.MaxCue < 0:
		return nil, fmt.Errorf("%w: MaxCue %v", ErrConfig, cfg.MaxCue)
	}
	const maxFrame = WidebandRate * int(Period/time.Millisecond) / 1000
	return &Mixer{
		cfg:   cfg,
		sum:   make([]int32, maxFrame),
		in:    make([]int16, 0, 3*maxFrame), // a party's frame may be longer
		out:   make([]int16, 0, maxFrame),
		wide:  make([]int16, 0, 2*maxFrame),
		cue:   cueQueue{max: int(cfg.MaxCue * WidebandRate / time.Second)},
		music: musicState{loop: cfg.AloneMusic, buf: make([]int16, 0, maxFrame)},
	}, nil
}

// Start runs Tick every Period on e's clock until Close.
func (m *Mixer) Start(e *rtp.Engine) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.ticker != nil {
		return nil
	}
	t, err := e.NewTicker(Period, func(time.Time) { m.Tick() })
	if err != nil {
		return err
	}
	m.ticker = t
	return nil
}

// Close stops the ticks (waiting for one in progress) and removes every
// member; their parties stay open. It is idempotent. Do not call it from
// the engine's worker (a Ticker function).
func (m *Mixer) Close() {
	m.mu.Lock()
	t := m.ticker
	m.ticker, m.closed = nil, true
	m.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	m.mu.Lock()
	for _, mb := range m.members {
		mb.gone = true
	}
	m.members = nil
	m.mu.Unlock()
}

// Join adds p to the mix from the next tick on.
func (m *Mixer) Join(p Party) (*Member, error) {
	rate := p.SampleRate()
	if rate != NarrowbandRate && rate != WidebandRate {
		return nil, fmt.Errorf("%w: %d Hz", ErrRate, rate)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case len(m.members) >= m.cfg.MaxParties:
		return nil, fmt.Errorf("%w: %d members", ErrFull, len(m.members))
	}
	mb := &Member{m: m, party: p, rate: rate, own: make([]int32, len(m.sum))}
	m.members = append(m.members, mb)
	m.stats.Members = len(m.members)
	return mb, nil
}

// Leave takes the member out of the mix; it is idempotent.
func (mb *Member) Leave() {
	m := mb.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(mb)
}

// SetMuted mutes or unmutes the member: a muted member hears the room but
// adds nothing to it.
func (mb *Member) SetMuted(muted bool) {
	mb.m.mu.Lock()
	mb.muted = muted
	mb.m.mu.Unlock()
}

// Muted reports whether the member is muted.
func (mb *Member) Muted() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.muted
}

// Gone reports whether the member left or was taken out.
func (mb *Member) Gone() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.gone
}

// Len returns the number of members.
func (m *Mixer) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.members)
}

// Stats returns the counters.
func (m *Mixer) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// removeLocked takes mb out of the members, if it is there.
func (m *Mixer) removeLocked(mb *Member) {
	mb.gone = true
	if i := slices.Index(m.members, mb); i >= 0 {
		m.members = slices.Delete(m.members, i, i+1)
	}
	m.stats.Members = len(m.members)
}

// rateLocked is the mix rate: wideband when any member is.
func (m *Mixer) rateLocked() int {
	for _, mb := range m.members {
		if mb.rate == WidebandRate {
			return WidebandRate
		}
	}
	return NarrowbandRate
}

// Tick mixes one period: it takes a frame from every member (silence when
// none is waiting), adds Config.AloneMusic for a member alone and the
// queued cue, and gives every member the sum
// less its own frame. Start calls it on the engine's clock; a host with
// its own clock may call it instead, once per Period.
func (m *Mixer) Tick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.stats.Ticks++
	rate := m.rateLocked()
	m.stats.Rate = rate
	n := rate * int(Period/time.Millisecond) / 1000
	sum := m.sum[:n]
	clear(sum)
	for _, mb := range m.members {
		m.readLocked(mb, rate, n)
		if !mb.muted {
			for i, v := range mb.own[:n] {
				sum[i] += v
			}
		}
	}
	if m.music.addTo(sum, rate, len(m.members) == 1) {
		m.stats.Music++
	}
	m.cue.addTo(sum, rate)
	for _, mb := range m.members {
		m.writeLocked(mb, rate, n)
	}
	for i := len(m.members) - 1; i >= 0; i-- {
		if mb := m.members[i]; mb.gone { // its party failed
			m.removeLocked(mb)
			m.stats.Gone++
		}
	}
}

// readLocked fills mb.own with mb's next frame at the mix rate.
func (m *Mixer) readLocked(mb *Member, rate, n int) {
	own := mb.own[:n]
	clear(own)
	if r := mb.party.SampleRate(); r != mb.rate { // a re-INVITE changed the codec
		mb.rate, mb.up, mb.down = r, nil, nil
	}
	frame, waiting, err := mb.party.PollFrame(m.in[:0])
	if err != nil {
		mb.gone = true
		return
	}
	for extra := waiting - m.cfg.MaxBacklog; extra > 0; extra-- { // keep the newest
		m.stats.Dropped++
		if frame, _, err = mb.party.PollFrame(m.in[:0]); err != nil {
			mb.gone = true
			return
		}
	}
	if waiting == 0 {
		m.stats.Underruns++
		return
	}
	m.in = frame[:0]
	switch {
	case mb.rate == rate:
	case mb.rate == NarrowbandRate && rate == WidebandRate:
		if mb.up == nil {
			mb.up = audio.NewResampler(true, 2*len(m.sum))
		}
		frame = mb.up.Convert(m.wide[:0], frame)
		m.wide = frame[:0]
	default: // not a rate Join accepts: heard as silence
		return
	}
	for i := range min(len(frame), n) {
		own[i] = int32(frame[i])
	}
}

// writeLocked gives mb the mix less its own frame, at mb's rate.
func (m *Mixer) writeLocked(mb *Member, rate, n int) {
	if mb.gone {
		return
	}
	out := m.wide[:n]
	own := mb.own[:n]
	for i, v := range m.sum[:n] {
		if !mb.muted {
			v -= own[i]
		}
		out[i] = int16(min(max(v, math.MinInt16), math.MaxInt16))
	}
	if mb.rate != rate {
		if mb.rate != NarrowbandRate {
			return
		}
		if mb.down == nil {
			mb.down = audio.NewResampler(false, 2*len(m.sum))
		}
		out = mb.down.Convert(m.out[:0], out)
		m.out = out[:0]
	}
	dropped, err := mb.party.PushFrame(out)
	if err != nil {
		mb.gone = true
		return
	}
	if dropped {
		m.stats.Overruns++
	}
}
