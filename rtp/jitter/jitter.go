package jitter

import (
	"errors"
	"fmt"
	"math"
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
	// Config.MaxFrameSamples is zero: 120 ms at 8 kHz, the longest
	// packetization a peer may choose (RFC 3551 §4.2 asks receivers to
	// take up to 200 ms; no G.711 endpoint goes beyond 120).
	DefaultMaxFrameSamples = 960
	// DefaultConcealFrames is how many consecutive lost packets are
	// concealed by waveform substitution when Config.ConcealFrames is
	// zero; later ones are silence.
	DefaultConcealFrames = 3
	// DepthFactor multiplies the RFC 3550 interarrival jitter
	// estimate to give the target playout delay, before MinDepth and
	// MaxDepth bound it.
	DepthFactor = 4
	// ShrinkAfter is how many consecutive Pops must find more than
	// one frame above the target depth before the buffer discards a frame
	// to reduce its delay.
	ShrinkAfter = 10
	// ShrinkQuietLevel is the mean absolute sample level below which a
	// packet counts as a pause: the buffer shrinks its delay by
	// discarding such packets only (about -42 dBov), unless the delay
	// exceeds MaxDepth.
	ShrinkQuietLevel = 256
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
	// duration of the frame each Pop returns; 0 means audio.FrameDuration
	// (20 ms). Packets may be of any duration up to MaxFrameSamples, and
	// change duration mid-stream: playout goes by samples, not by packet.
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
	// ConcealFrames is how many consecutive lost packets are concealed
	// by waveform substitution (ITU-T G.711 Appendix I: the last pitch
	// period repeated, fading from 10 ms to silence at 60 ms, cross-faded
	// into the audio that resumes); 0 means DefaultConcealFrames, a
	// negative value conceals with silence only.
	ConcealFrames int
	// Decode turns a payload into samples; nil means DecodeG711.
	Decode DecodeFunc
}

// Status says what Pop returned.
type Status uint8

// Pop results.
const (
	// Empty: no audio; the buffer is filling (at the start, after an
	// underrun, or before a talkspurt) and the caller plays silence (or
	// comfort noise).
	Empty Status = iota
	// Played: the next frame, as received.
	Played
	// Concealed: the frame holds audio of a lost packet: a faded copy of
	// the last packet, or silence after ConcealFrames.
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
	// packets and gaps skipped when playout restarted.
	Lost uint64
	// Concealed counts packets' worth of audio Pop concealed: lost
	// packets, and fill-ins while a late packet is still awaited
	// (including the few that follow the end of a talkspurt not closed
	// by a Skip, before the buffer gives up waiting).
	Concealed uint64
	// Played counts packets Pop played out as received.
	Played uint64
	// Discarded counts buffered packets dropped unplayed: to reduce the
	// delay, or when a sequence jump or SSRC change restarted the buffer.
	Discarded uint64
	// Padded counts frames that Pop completed with silence because the
	// buffer ran dry in the middle of them.
	Padded uint64
	// Underruns counts the times playout stopped because the buffer ran
	// dry and the wait for a late packet ended (including the end of
	// every talkspurt).
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
// then on each Pop, called every FrameDuration, returns the next
// FrameDuration of audio, whatever the packets' durations: the samples
// left of the packet being played, then those of the following sequence
// numbers, each as received, or concealed when it is missing but later
// packets are present. When the buffer runs dry inside a talkspurt the
// next packet may only be late: Pop conceals and keeps waiting for it, for
// as many frames as the target delay holds, so that a stall of the network
// grows the delay instead of leaving a gap; after that, or when the last
// sequence number carried no audio (Skip: comfort noise, telephone
// events), it returns nothing (Empty), and playout restarts once the next
// packet has waited the target delay. A
// packet whose timestamp does not follow the previous frame starts a
// talkspurt (RFC 3551 §4.1) and waits the target delay too. The marker bit
// is not used, since senders set it inconsistently.
//
// The delay follows the target: while the buffer is shallower than the
// target, a missing frame is filled in (concealed) but still awaited, which
// deepens the buffer by a frame; once the buffer is deep enough, or after as
// many fill-ins as the target holds frames, it is given up as lost. When the
// buffer holds more than a frame above the target for ShrinkAfter Pops, it
// discards the next quiet packet to shrink (grows on jitter, shrinks in
// pauses).
//
// The target delay is DepthFactor times the interarrival jitter
// estimate, at least the longest packet received, bounded by MinDepth and
// MaxDepth. Packets too late to play,
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

	// pend holds the samples of the packet being played that the frames
	// so far did not take (pendBuf is its memory, which a played packet's
	// slot trades for its own); pendConcealed says they are concealment.
	pend          []int16
	pendBuf       []int16
	pendConcealed bool

	havePlayed bool
	expectTS   uint32 // timestamp that continues the last frame
	lastLen    int    // samples of the last packet played
	concealRun int
	plc        concealer
	waits      int  // fill-ins while awaiting the frame at next
	afterSkip  bool // the last sequence number passed carried no audio (Skip)
	overRun    int

	haveTransit bool
	prevArrival time.Time
	prevTS      uint32
	jitter      float64 // RFC 3550 J, timestamp units
	longest     int     // samples of the longest packet received

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
		pendBuf:       make([]int16, 0, cfg.MaxFrameSamples),
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
	b.longest = max(b.longest, len(samples))
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
		b.afterSkip = true
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
	b.plc.reset()
	b.overRun = 0
	b.waits = 0
	b.afterSkip = false
	b.pend = nil
}

// Reset empties the buffer and clears its statistics and jitter estimate.
func (b *Buffer) Reset() {
	b.restart()
	b.jitter = 0
	b.longest = 0
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

// target returns the current target playout delay: at least the longest
// packet received, since a packet that long leaves its sender that much
// after the audio before it began.
func (b *Buffer) target() time.Duration {
	j := time.Duration(b.jitter * float64(time.Second) / float64(b.clock))
	longest := time.Duration(int64(b.longest) * int64(time.Second) / int64(b.clock))
	return min(max(DepthFactor*j, b.minDepth, longest), b.maxDepth)
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
