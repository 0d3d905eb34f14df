package jitter

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
)

// Jitter buffer settings and their defaults.
const (
	// DefaultMinDepth is the smallest playout delay when
	// Config.MinDepth is zero.
	DefaultMinDepth = 40 * time.Millisecond
	// DefaultMaxDepth is the largest playout delay when
	// Config.MaxDepth is zero.
	DefaultMaxDepth = 200 * time.Millisecond
	// DefaultCapacity is the number of packets the buffer holds when
	// Config.Capacity is zero.
	DefaultCapacity = 32
	// MaxCapacity bounds Config.Capacity.
	MaxCapacity = 1024
	// DefaultMaxFrameSamples bounds the samples of one packet when
	// Config.MaxFrameSamples is zero: 60 ms at 8 kHz.
	DefaultMaxFrameSamples = 480
	// DefaultConcealFrames is how many consecutive lost frames are
	// concealed by repeating the last frame, fading out, when
	// Config.ConcealFrames is zero; later ones are silence.
	DefaultConcealFrames = 3
	// DepthFactor multiplies the RFC 3550 interarrival jitter
	// estimate to give the target playout delay, before MinDepth and
	// MaxDepth bound it.
	DepthFactor = 4
	// ShrinkAfter is how many consecutive Pops must find more than
	// one frame above the target depth before the buffer discards a frame
	// to reduce its delay.
	ShrinkAfter = 10
)

// Sequence number windows of RFC 3550 §A.1.
const (
	// jitterMaxMisorder: a packet up to this many sequence numbers behind
	// the playout point is late; further back, the sender restarted.
	jitterMaxMisorder = 100
	// jitterJumpLimit: an interarrival difference larger than this (a
	// timestamp jump, not network jitter) does not update the estimate.
	jitterJumpLimit = time.Second
)

// Jitter buffer errors.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("jitter: invalid jitter buffer configuration")
	// ErrPayload reports a packet the buffer cannot hold: unknown
	// payload type, empty payload, more than MaxFrameSamples samples, or a
	// decoder error.
	ErrPayload = errors.New("jitter: unusable payload for jitter buffer")
)

// DecodeFunc appends the linear samples of one RTP payload to dst.
type DecodeFunc func(dst []int16, payloadType uint8, payload []byte) ([]int16, error)

// DecodeG711 decodes payload types 0 (PCMU) and 8 (PCMA); it is the
// default Config.Decode.
func DecodeG711(dst []int16, payloadType uint8, payload []byte) ([]int16, error) {
	law, err := g711.LawForPayloadType(payloadType)
	if err != nil {
		return dst, err
	}
	return law.Decode(dst, payload), nil
}

// Config configures a Buffer. The zero value of each field
// selects its documented default.
type Config struct {
	// ClockRate is the RTP timestamp rate in Hz; 0 means 8000.
	ClockRate uint32
	// FrameDuration is the interval at which the caller calls Pop, and the
	// duration of one packet; 0 means audio.FrameDuration (20 ms).
	FrameDuration time.Duration
	// MinDepth and MaxDepth bound the target playout delay (the time a
	// packet waits between arrival and playout at the start of a
	// talkspurt). 0 means DefaultMinDepth and DefaultMaxDepth.
	MinDepth, MaxDepth time.Duration
	// Capacity is the most packets held at once, which bounds memory to
	// Capacity × MaxFrameSamples samples; 0 means DefaultCapacity. It
	// must hold MaxDepth plus two frames, and at most MaxCapacity.
	Capacity int
	// MaxFrameSamples is the most samples one packet may decode to; 0 means
	// DefaultMaxFrameSamples.
	MaxFrameSamples int
	// ConcealFrames is how many consecutive lost frames are concealed by
	// repeating the last frame with a linear fade; 0 means
	// DefaultConcealFrames, a negative value conceals with silence
	// only.
	ConcealFrames int
	// Decode turns a payload into samples; nil means DecodeG711.
	Decode DecodeFunc
}

// Status says what Pop returned.
type Status uint8

// Pop results.
const (
	// Empty: no audio; the buffer is filling (at the start, after an
	// underrun, or before a talkspurt) and the caller plays silence.
	Empty Status = iota
	// Played: the next frame, as received.
	Played
	// Concealed: the next frame was lost; Pop returned a faded copy
	// of the last frame, or silence after ConcealFrames.
	Concealed
)

// String returns "empty", "played" or "concealed".
func (s Status) String() string {
	switch s {
	case Empty:
		return "empty"
	case Played:
		return "played"
	case Concealed:
		return "concealed"
	}
	return fmt.Sprintf("JitterStatus(%d)", uint8(s))
}

// Stats are the counters and gauges of a Buffer.
type Stats struct {
	// Received counts packets passed to Push and decoded, including late
	// and duplicate ones.
	Received uint64
	// Late counts packets that arrived after their playout time.
	Late uint64
	// Duplicate counts packets already in the buffer.
	Duplicate uint64
	// Lost counts sequence numbers that were never played: concealed
	// frames and gaps skipped when playout restarted.
	Lost uint64
	// Concealed counts frames Pop concealed: lost frames, and fill-ins
	// while a late frame is still awaited.
	Concealed uint64
	// Played counts frames Pop returned as received.
	Played uint64
	// Discarded counts buffered frames dropped unplayed: to reduce the
	// delay, or when a sequence jump or SSRC change restarted the buffer.
	Discarded uint64
	// Underruns counts the times playout stopped because the buffer ran
	// dry (including the end of every talkspurt).
	Underruns uint64
	// Resyncs counts restarts caused by sequence jumps or SSRC changes.
	Resyncs uint64
	// Depth is the audio now buffered ahead of the playout point.
	Depth time.Duration
	// Target is the current target playout delay.
	Target time.Duration
	// Jitter is the RFC 3550 §6.4.1 interarrival jitter estimate;
	// JitterUnits is the same in timestamp units, as RTCP reports it.
	Jitter      time.Duration
	JitterUnits uint32
}

type jitterSlot struct {
	used    bool
	skip    bool  // a sequence number that carries no audio (see Skip)
	ext     int64 // extended sequence number
	ts      uint32
	arrival time.Time
	samples []int16
}

// Buffer reorders received RTP audio by sequence number and plays it
// out at a steady pace (RFC 3550 §6.4.1, §A.1, §A.8). It is a passive data
// structure: Push and Pop take the current time as an argument; it reads no
// clock, starts no goroutine and is not safe for concurrent use.
//
// Playout starts once the first packet has waited the target delay. From
// then on each Pop, called every FrameDuration, returns the next sequence
// number: as received; concealed when it is missing but later packets are
// present; or nothing (Empty) when the buffer ran dry, after which
// playout restarts once the next packet has waited the target delay. A
// packet whose timestamp does not follow the previous frame starts a
// talkspurt (RFC 3551 §4.1) and waits the target delay too. The marker bit
// is not used, since senders set it inconsistently.
//
// The delay follows the target: while the buffer is shallower than the
// target, a missing frame is filled in (concealed) but still awaited, which
// deepens the buffer by a frame; once the buffer is deep enough, or after as
// many fill-ins as the target holds frames, it is given up as lost. When the buffer holds more than a frame above the target for
// ShrinkAfter Pops, it discards one frame to shrink.
//
// The target delay is DepthFactor times the interarrival jitter
// estimate, bounded by MinDepth and MaxDepth. Packets too late to play,
// duplicates and packets beyond Capacity never enter the buffer. A new SSRC,
// or a sequence number far from the playout point, restarts the buffer.
//
// Push copies the payload (decoded) into memory preallocated per slot, so
// the caller may reuse the packet buffer at once, and neither Push nor Pop
// allocates once every slot has held a packet.
type Buffer struct {
	clock         uint32
	frame         time.Duration
	frameSamples  int
	minDepth      time.Duration
	maxDepth      time.Duration
	maxSamples    int
	concealFrames int
	decode        DecodeFunc

	slots []jitterSlot

	started  bool   // a packet was accepted since the last restart
	ssrc     uint32 // of the stream being played
	advanced bool   // the playout point moved since the last restart
	next     int64  // extended sequence number to play next
	highest  int64  // highest buffered, when count > 0
	count    int    // packets buffered

	playing     bool
	bufferSince time.Time // arrival that starts the wait before playout

	havePlayed bool
	expectTS   uint32 // timestamp that continues the last frame
	last       []int16
	concealRun int
	waits      int // fill-ins while awaiting the frame at next
	overRun    int

	haveTransit bool
	prevArrival time.Time
	prevTS      uint32
	jitter      float64 // RFC 3550 J, timestamp units

	stats Stats
}

// New validates cfg, fills its defaults and returns an empty
// buffer. Invalid settings give an error wrapping ErrConfig.
func New(cfg Config) (*Buffer, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = audio.SampleRate
	}
	if cfg.FrameDuration == 0 {
		cfg.FrameDuration = audio.FrameDuration
	}
	if cfg.MinDepth == 0 {
		cfg.MinDepth = DefaultMinDepth
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = max(DefaultMaxDepth, cfg.MinDepth)
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = max(DefaultCapacity, int(cfg.MaxDepth/max(cfg.FrameDuration, 1))+2)
	}
	if cfg.MaxFrameSamples == 0 {
		cfg.MaxFrameSamples = DefaultMaxFrameSamples
	}
	if cfg.ConcealFrames == 0 {
		cfg.ConcealFrames = DefaultConcealFrames
	}
	if cfg.Decode == nil {
		cfg.Decode = DecodeG711
	}
	switch {
	case cfg.FrameDuration < time.Millisecond || cfg.FrameDuration > time.Second:
		return nil, fmt.Errorf("%w: frame duration %v", ErrConfig, cfg.FrameDuration)
	case cfg.MinDepth < 0 || cfg.MaxDepth < cfg.MinDepth:
		return nil, fmt.Errorf("%w: depth bounds %v..%v", ErrConfig, cfg.MinDepth, cfg.MaxDepth)
	case cfg.Capacity < int(cfg.MaxDepth/cfg.FrameDuration)+2 || cfg.Capacity > MaxCapacity:
		return nil, fmt.Errorf("%w: capacity %d for max depth %v", ErrConfig, cfg.Capacity, cfg.MaxDepth)
	case cfg.MaxFrameSamples < 1:
		return nil, fmt.Errorf("%w: max frame samples %d", ErrConfig, cfg.MaxFrameSamples)
	}
	frameSamples := int(uint64(cfg.FrameDuration) * uint64(cfg.ClockRate) / uint64(time.Second))
	return &Buffer{
		clock:         cfg.ClockRate,
		frame:         cfg.FrameDuration,
		frameSamples:  max(frameSamples, 1),
		minDepth:      cfg.MinDepth,
		maxDepth:      cfg.MaxDepth,
		maxSamples:    cfg.MaxFrameSamples,
		concealFrames: max(cfg.ConcealFrames, 0),
		decode:        cfg.Decode,
		slots:         make([]jitterSlot, cfg.Capacity),
	}, nil
}

// Push offers one received packet, with its header h and payload, that
// arrived at arrival. Late, duplicate and out-of-window packets are counted
// and dropped without error; a payload the buffer cannot decode gives an
// error wrapping ErrPayload. The buffer keeps no reference to h or
// payload.
func (b *Buffer) Push(h *pionrtp.Header, payload []byte, arrival time.Time) error {
	if len(payload) == 0 {
		return fmt.Errorf("%w: empty payload", ErrPayload)
	}
	s, ext, diff := b.place(h, arrival, true)
	if s == nil {
		return nil
	}
	samples, err := b.decode(s.samples[:0], h.PayloadType, payload)
	if err != nil || len(samples) == 0 || len(samples) > b.maxSamples {
		if cap(samples) > b.maxSamples {
			samples = nil // do not keep an oversized buffer
		}
		s.samples = samples[:0]
		if err == nil {
			err = fmt.Errorf("%d samples, want 1..%d", len(samples), b.maxSamples)
		}
		return fmt.Errorf("%w: payload type %d: %w", ErrPayload, h.PayloadType, err)
	}
	b.stats.Received++
	b.updateJitter(h.Timestamp, arrival)
	*s = jitterSlot{used: true, ext: ext, ts: h.Timestamp, arrival: arrival, samples: samples}
	if diff < 0 {
		b.next = ext // before playout started: it plays first
	}
	if b.count == 0 || ext > b.highest {
		b.highest = ext
	}
	if b.count == 0 && !b.playing {
		b.bufferSince = arrival
	}
	b.count++
	return nil
}

// Skip records that the packet with header h, which arrived at arrival,
// takes a sequence number of the stream without carrying audio for this
// buffer: an RFC 4733 telephone event, sent with the audio's SSRC and
// sequence numbers (RFC 4733 §2.1). Playout passes over that sequence
// number: it is neither played, concealed nor counted lost. Skipped packets
// do not count as Received and do not move the jitter estimate.
func (b *Buffer) Skip(h *pionrtp.Header, arrival time.Time) {
	s, ext, diff := b.place(h, arrival, false)
	switch {
	case s == nil:
	case b.count == 0 && diff >= 0:
		// Nothing buffered: the numbers between the playout point and ext
		// never came (lost, as a restart of playout would count them), and
		// playout goes on after ext.
		for ; b.next < ext; b.next++ {
			if m := &b.slots[b.next%int64(len(b.slots))]; m.used && m.skip && m.ext == b.next {
				m.used = false
			} else {
				b.stats.Lost++
			}
		}
		b.next = ext + 1
		b.advanced = true
	default:
		*s = jitterSlot{used: true, skip: true, ext: ext, ts: h.Timestamp, arrival: arrival, samples: s.samples[:0]}
		if diff < 0 {
			b.next = ext
		}
	}
}

// place returns the slot for the packet with header h and its extended
// sequence number and distance from the playout point, or nil when the
// packet is late or a duplicate (counted as such for audio). A new SSRC or
// a sequence number out of the window restarts the buffer first.
func (b *Buffer) place(h *pionrtp.Header, arrival time.Time, audio bool) (*jitterSlot, int64, int64) {
	if b.started && h.SSRC != b.ssrc {
		b.restart()
	}
	if !b.started {
		b.started = true
		b.ssrc = h.SSRC
		b.next = int64(h.SequenceNumber) + 1<<16
	}
	ext := b.next + int64(int16(h.SequenceNumber-uint16(b.next)))
	diff := ext - b.next
	capacity := int64(len(b.slots))
	switch {
	case diff < -jitterMaxMisorder:
		// Far behind the playout point: the sender restarted (§A.1).
		b.restart()
		return b.place(h, arrival, audio)
	case diff < 0 && (b.advanced || b.highest-ext >= capacity):
		if audio {
			b.stats.Received++
			b.stats.Late++
			b.updateJitter(h.Timestamp, arrival)
		}
		return nil, 0, 0
	case diff >= capacity:
		// Too far ahead to hold: start over from this packet.
		b.restart()
		return b.place(h, arrival, audio)
	}
	s := &b.slots[ext%capacity]
	if s.used && s.ext == ext {
		if audio && !s.skip {
			b.stats.Received++
			b.stats.Duplicate++
		}
		return nil, 0, 0
	}
	return s, ext, diff
}

// restart empties the buffer and forgets the playout point, keeping the
// statistics and the jitter estimate.
func (b *Buffer) restart() {
	for i := range b.slots {
		if b.slots[i].used {
			b.slots[i].used = false
			if !b.slots[i].skip {
				b.stats.Discarded++
			}
		}
	}
	b.stats.Resyncs++
	b.count = 0
	b.started = false
	b.advanced = false
	b.playing = false
	b.havePlayed = false
	b.haveTransit = false
	b.overRun = 0
	b.waits = 0
}

// Reset empties the buffer and clears its statistics and jitter estimate.
func (b *Buffer) Reset() {
	b.restart()
	b.jitter = 0
	b.stats = Stats{}
}

// updateJitter applies the RFC 3550 §6.4.1 estimator: D is the difference
// between the arrival spacing and the timestamp spacing of two consecutive
// arrivals, and J moves 1/16 of the way to |D|.
func (b *Buffer) updateJitter(ts uint32, arrival time.Time) {
	if b.haveTransit {
		dArr := float64(arrival.Sub(b.prevArrival)) * float64(b.clock) / float64(time.Second)
		d := dArr - float64(int32(ts-b.prevTS))
		if math.Abs(d) < float64(jitterJumpLimit)*float64(b.clock)/float64(time.Second) {
			b.jitter += (math.Abs(d) - b.jitter) / 16
		}
	}
	b.haveTransit = true
	b.prevArrival = arrival
	b.prevTS = ts
}

// target returns the current target playout delay.
func (b *Buffer) target() time.Duration {
	j := time.Duration(b.jitter * float64(time.Second) / float64(b.clock))
	return min(max(DepthFactor*j, b.minDepth), b.maxDepth)
}

// Pop returns the frame to play at now, appended to dst, and what it is.
// Call it once per FrameDuration. With Empty nothing is appended.
func (b *Buffer) Pop(now time.Time, dst []int16) ([]int16, Status) {
	if !b.playing {
		if b.count == 0 || now.Before(b.bufferSince.Add(b.target())) {
			return dst, Empty
		}
		// Start from the first buffered frame; the gap before it was
		// never played, save the numbers that carried no audio.
		for {
			s := &b.slots[b.next%int64(len(b.slots))]
			if s.used && s.ext == b.next && !s.skip {
				break
			}
			if s.used && s.ext == b.next {
				s.used = false
			} else {
				b.stats.Lost++
			}
			b.next++
			b.advanced = true
		}
		b.playing = true
		b.havePlayed = false // a new talkspurt: no continuity check
	}
	b.passSkipped()

	var status Status
	s := &b.slots[b.next%int64(len(b.slots))]
	switch {
	case s.used && s.ext == b.next:
		if b.havePlayed && s.ts != b.expectTS && now.Before(s.arrival.Add(b.target())) {
			// A new talkspurt: let it wait the target delay.
			b.playing = false
			b.bufferSince = s.arrival
			return dst, Empty
		}
		dst = append(dst, s.samples...)
		b.last = append(b.last[:0], s.samples...)
		b.expectTS = s.ts + uint32(len(s.samples))
		b.havePlayed = true
		b.concealRun = 0
		b.release(s)
		b.stats.Played++
		status = Played
	case b.count > 0 && b.depth() < b.target() && b.waits < int(b.target()/b.frame):
		// The frame is late and the buffer is shallower than the target:
		// fill in and keep waiting for it, which deepens the buffer. The
		// wait is bounded in case the stream stopped behind the gap.
		dst = b.conceal(dst, false)
		b.waits++
		b.stats.Concealed++
		return dst, Concealed
	case b.count > 0:
		dst = b.conceal(dst, true)
		b.stats.Lost++
		b.stats.Concealed++
		status = Concealed
	default:
		b.playing = false
		b.stats.Underruns++
		return dst, Empty
	}
	b.next++
	b.advanced = true
	b.waits = 0
	b.shrink()
	return dst, status
}

// passSkipped moves the playout point over sequence numbers that carried
// no audio (Skip).
func (b *Buffer) passSkipped() {
	for {
		s := &b.slots[b.next%int64(len(b.slots))]
		if !s.used || !s.skip || s.ext != b.next {
			return
		}
		s.used = false
		b.next++
		b.advanced = true
	}
}

// conceal appends a replacement for a missing frame: the last frame with a
// linear fade over ConcealFrames frames, then silence. skip says the missing
// frame is given up, so the next expected timestamp moves on.
func (b *Buffer) conceal(dst []int16, skip bool) []int16 {
	b.concealRun++
	n := len(b.last)
	if n == 0 {
		n = b.frameSamples
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:len(dst)+n]
	out := dst[start:]
	if b.concealRun > b.concealFrames || len(b.last) == 0 {
		clear(out)
	} else {
		num := int32(b.concealFrames - b.concealRun + 1)
		den := int32(b.concealFrames)
		for i, v := range b.last {
			out[i] = int16(int32(v) * num / den)
		}
	}
	if skip {
		b.expectTS += uint32(n)
	}
	return dst
}

// release frees a slot at the playout point.
func (b *Buffer) release(s *jitterSlot) {
	s.used = false
	b.count--
}

// shrink discards one frame after the buffer stayed more than a frame above
// the target for ShrinkAfter Pops.
func (b *Buffer) shrink() {
	if b.depth() <= b.target()+b.frame {
		b.overRun = 0
		return
	}
	b.overRun++
	if b.overRun < ShrinkAfter {
		return
	}
	b.overRun = 0
	b.passSkipped()
	s := &b.slots[b.next%int64(len(b.slots))]
	if s.used && s.ext == b.next {
		b.expectTS = s.ts + uint32(len(s.samples))
		b.release(s)
		b.stats.Discarded++
	} else {
		b.stats.Lost++
	}
	b.next++
}

// depth returns the audio buffered from the playout point to the highest
// packet, counting missing packets as frames.
func (b *Buffer) depth() time.Duration {
	if b.count == 0 {
		return 0
	}
	return time.Duration(b.highest-b.next+1) * b.frame
}

// Stats returns the counters and the current depth, target and jitter.
func (b *Buffer) Stats() Stats {
	st := b.stats
	st.Depth = b.depth()
	st.Target = b.target()
	st.Jitter = time.Duration(b.jitter * float64(time.Second) / float64(b.clock))
	st.JitterUnits = uint32(b.jitter)
	return st
}
