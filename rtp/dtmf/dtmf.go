package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// RFC 4733 telephone-event payload and DTMF settings.
const (
	// PayloadSize is the size of one event payload (RFC 4733 §2.3).
	PayloadSize = 4
	// MaxVolume is the largest power level, in -dBm0 (RFC 4733 §2.3.4).
	MaxVolume = 63
	// DefaultVolume is the power level sent when SenderConfig.Volume
	// is zero: -10 dBm0, within the levels of ITU-T Q.23/Q.24.
	DefaultVolume = 10
	// DefaultDuration is the tone duration sent when
	// SenderConfig.Duration is zero.
	DefaultDuration = 100 * time.Millisecond
	// MinDuration is the shortest tone the sender accepts (ITU-T Q.24
	// recognition minimum).
	MinDuration = 40 * time.Millisecond
	// DefaultPause is the gap between two digits of a string sent when
	// SenderConfig.Pause is zero.
	DefaultPause = 100 * time.Millisecond
	// MinPause is the shortest gap between digits the sender accepts.
	MinPause = 40 * time.Millisecond
	// EndRepeats is how many times the final packet of an event is sent
	// (RFC 4733 §2.5.1.4).
	EndRepeats = 3
	// DefaultEndTimeout is how long the receiver waits, after the last
	// packet of an event without the E bit, before it reports the digit as
	// ended (its end packets were lost; RFC 4733 §2.5.2.2). It applies when
	// ReceiverConfig.EndTimeout is zero.
	DefaultEndTimeout = 200 * time.Millisecond
	// MinInterval and MaxInterval bound SenderConfig.Interval.
	MinInterval = 5 * time.Millisecond
	MaxInterval = time.Second
	// StaleWindow is how far, in time, a timestamp may lie before the
	// last reported event and still be treated as a late packet of an old
	// event (ignored) rather than as a sender that restarted its timestamps.
	StaleWindow = 10 * time.Second
)

// DTMF errors.
var (
	// ErrShortPayload reports an event payload shorter than
	// PayloadSize bytes.
	ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")
	// ErrDigit reports a character or event code that is not a DTMF
	// digit (0-9, *, #, A-D; events 0-15).
	ErrDigit = errors.New("dtmf: not a DTMF digit")
	// ErrConfig reports an invalid SenderConfig or ReceiverConfig.
	ErrConfig = errors.New("dtmf: invalid DTMF configuration")
)

// dtmfDigits maps event codes 0-15 to digits (RFC 4733 §3.2, table 7).
const dtmfDigits = "0123456789*#ABCD"

// EventForDigit returns the RFC 4733 event code of a DTMF digit: '0'-'9'
// are 0-9, '*' is 10, '#' is 11 and 'A'-'D' (or 'a'-'d') are 12-15
// (RFC 4733 §3.2). Other characters give an error wrapping ErrDigit.
func EventForDigit(d rune) (uint8, error) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, nil
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrDigit, d)
}

// DigitForEvent returns the digit of event code 0-15 (RFC 4733 §3.2);
// other codes give an error wrapping ErrDigit.
func DigitForEvent(event uint8) (rune, error) {
	if int(event) >= len(dtmfDigits) {
		return 0, fmt.Errorf("%w: event %d", ErrDigit, event)
	}
	return rune(dtmfDigits[event]), nil
}

// Event is the telephone-event payload (RFC 4733 §2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The R bit is reserved: it is sent as zero and ignored on receipt
// (RFC 4733 §2.3.3).
type Event struct {
	// Event is the event code; 0-15 are the DTMF digits (§3.2).
	Event uint8
	// End is the E bit: this packet ends the event (§2.3.2).
	End bool
	// Volume is the power level in -dBm0, 0-63 (§2.3.4); larger values are
	// sent as 63.
	Volume uint8
	// Duration of the event so far, in RTP timestamp units, counted from the
	// packet's RTP timestamp (§2.3.5).
	Duration uint16
}

// AppendTo appends the 4-byte wire form of e to dst and returns the extended
// slice.
func (e Event) AppendTo(dst []byte) []byte {
	b1 := min(e.Volume, MaxVolume)
	if e.End {
		b1 |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(dst, e.Event, b1), e.Duration)
}

// Unmarshal parses the first PayloadSize bytes of b into e. A shorter b
// gives an error wrapping ErrShortPayload; bytes after the first event are
// ignored.
func (e *Event) Unmarshal(b []byte) error {
	if len(b) < PayloadSize {
		return fmt.Errorf("%w: %d bytes", ErrShortPayload, len(b))
	}
	e.Event = b[0]
	e.End = b[1]&0x80 != 0
	e.Volume = b[1] & 0x3F
	e.Duration = binary.BigEndian.Uint16(b[2:])
	return nil
}

// SenderConfig configures a Sender. The zero value of each field
// selects its documented default.
type SenderConfig struct {
	// ClockRate of the telephone-event payload in Hz; 0 means 8000.
	ClockRate uint32
	// Interval between packets of an event, normally the audio ptime;
	// 0 means audio.FrameDuration (20 ms). Between MinInterval and
	// MaxInterval.
	Interval time.Duration
	// Duration of each tone; 0 means DefaultDuration, and it may not be
	// shorter than MinDuration. It must fit the 16-bit duration field
	// (8.19 s at 8 kHz): long-event segmentation (§2.5.1.3) is not done.
	Duration time.Duration
	// Pause between the end of one digit and the start of the next in
	// AppendDigits; 0 means DefaultPause, minimum MinPause.
	Pause time.Duration
	// Volume in -dBm0 (0-63); 0 means DefaultVolume. A level of
	// 0 dBm0 cannot be requested.
	Volume uint8
}

// Packet is one RTP packet of an event as a Sender plans it. The
// caller sends it at At with the session's SSRC, the telephone-event payload
// type and the next sequence number of the stream it shares with audio
// (RFC 4733 §2.1).
type Packet struct {
	// At is when to send the packet, relative to the start of the first
	// digit passed to the sender.
	At time.Duration
	// Marker is the RTP marker bit: set on the first packet of an event
	// (§2.5.1.3).
	Marker bool
	// Timestamp is the RTP timestamp: the start of the event, the same for
	// all its packets (§2.3.1).
	Timestamp uint32
	// Event is the payload.
	Event Event
}

// Sender plans the RTP packets of DTMF digits per RFC 4733 §2.5.1: the
// first packet of an event carries the marker bit, all packets of an event
// share its start timestamp, the duration grows by the interval with every
// update, and the final packet, with the E bit and the full duration, is sent
// EndRepeats times one interval apart. It does no I/O and reads no clock;
// it is safe for concurrent use once created.
type Sender struct {
	clock    uint32
	interval time.Duration
	duration time.Duration
	pause    time.Duration
	volume   uint8
}

// NewSender validates cfg, fills its defaults and returns a sender.
// Invalid settings give an error wrapping ErrConfig.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = audio.SampleRate
	}
	if cfg.Interval == 0 {
		cfg.Interval = audio.FrameDuration
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Pause == 0 {
		cfg.Pause = DefaultPause
	}
	if cfg.Volume == 0 {
		cfg.Volume = DefaultVolume
	}
	s := &Sender{clock: cfg.ClockRate, interval: cfg.Interval, duration: cfg.Duration, pause: cfg.Pause, volume: cfg.Volume}
	switch {
	case cfg.Interval < MinInterval || cfg.Interval > MaxInterval:
		return nil, fmt.Errorf("%w: interval %v", ErrConfig, cfg.Interval)
	case cfg.Duration < MinDuration || s.units(cfg.Duration) > 0xFFFF:
		return nil, fmt.Errorf("%w: duration %v outside [%v, 65535 timestamp units]", ErrConfig, cfg.Duration, MinDuration)
	case cfg.Pause < MinPause:
		return nil, fmt.Errorf("%w: pause %v below %v", ErrConfig, cfg.Pause, MinPause)
	case cfg.Volume > MaxVolume:
		return nil, fmt.Errorf("%w: volume %d above %d", ErrConfig, cfg.Volume, MaxVolume)
	}
	return s, nil
}

// units converts d to RTP timestamp units at the sender's clock rate.
func (s *Sender) units(d time.Duration) uint64 {
	return uint64(d) * uint64(s.clock) / uint64(time.Second)
}

// Span returns the time one digit occupies in AppendDigits: its tone
// duration plus the pause after it.
func (s *Sender) Span() time.Duration { return s.duration + s.pause }

// AppendDigit appends the packets of one digit that starts at RTP timestamp
// ts and at time at (the At of its first update is at plus one interval) to
// dst and returns the extended slice. An invalid digit gives an error wrapping
// ErrDigit and leaves dst unchanged.
func (s *Sender) AppendDigit(dst []Packet, digit rune, ts uint32, at time.Duration) ([]Packet, error) {
	ev, err := EventForDigit(digit)
	if err != nil {
		return dst, err
	}
	total := uint16(s.units(s.duration))
	first := true
	// Updates while the tone lasts, one per interval (§2.5.1.2).
	for t := s.interval; t < s.duration; t += s.interval {
		dst = append(dst, Packet{
			At: at + t, Marker: first, Timestamp: ts,
			Event: Event{Event: ev, Volume: s.volume, Duration: uint16(s.units(t))},
		})
		first = false
	}
	// The final packet, repeated (§2.5.1.4).
	for i := range EndRepeats {
		dst = append(dst, Packet{
			At: at + s.duration + time.Duration(i)*s.interval, Marker: first, Timestamp: ts,
			Event: Event{Event: ev, End: true, Volume: s.volume, Duration: total},
		})
		first = false
	}
	return dst, nil
}

// AppendDigits appends the packets of every digit of digits, the first
// starting at RTP timestamp ts and time 0, each next one Span later, to dst
// and returns the extended slice. The packets come in send order. An invalid
// digit gives an error wrapping ErrDigit and leaves dst unchanged.
func (s *Sender) AppendDigits(dst []Packet, digits string, ts uint32) ([]Packet, error) {
	for _, d := range digits {
		if _, err := EventForDigit(d); err != nil {
			return dst, err
		}
	}
	spanUnits := uint32(s.units(s.Span()))
	i := 0
	for _, d := range digits {
		// Digits were validated above.
		dst, _ = s.AppendDigit(dst, d, ts+uint32(i)*spanUnits, time.Duration(i)*s.Span())
		i++
	}
	return dst, nil
}

// ReceiverConfig configures a Receiver. The zero value of each field
// selects its documented default.
type ReceiverConfig struct {
	// ClockRate of the telephone-event payload in Hz; 0 means 8000.
	ClockRate uint32
	// EndTimeout: an event whose last packet is older than this, and that
	// has seen no packet with the E bit, is reported as ended;
	// 0 means DefaultEndTimeout.
	EndTimeout time.Duration
}

// Digit is one digit a Receiver recognized.
type Digit struct {
	// Digit is the character: 0-9, *, #, A-D.
	Digit rune
	// Event is the RFC 4733 event code, 0-15.
	Event uint8
	// Timestamp is the RTP timestamp of the event: its identity.
	Timestamp uint32
	// Duration is the longest duration the packets reported.
	Duration time.Duration
	// Volume is the power level of the last packet, in -dBm0.
	Volume uint8
	// EndLost is true when no packet with the E bit arrived: the event
	// ended by timeout or because a later event started.
	EndLost bool
}

// Receiver turns a stream of telephone-event payloads into digits, each
// reported exactly once, when it ends (RFC 4733 §2.5.2). Events are keyed by
// their RTP timestamp: retransmitted and duplicated packets of an event,
// including its three final packets, are merged, and packets of an event
// already reported are ignored. An event ends with its first E-bit packet,
// when a packet with a newer timestamp arrives, or EndTimeout after its last
// packet. Event codes above 15 (non-DTMF events) are ignored.
//
// Time is an argument; the receiver reads no clock and starts no goroutine.
// It is not safe for concurrent use.
type Receiver struct {
	clock   uint32
	timeout time.Duration
	stale   uint32 // StaleWindow in timestamp units

	active bool
	cur    dtmfActive

	haveEnded bool
	lastEnded uint32
}

type dtmfActive struct {
	ts       uint32
	event    uint8
	volume   uint8
	duration uint16
	last     time.Time
}

// NewReceiver validates cfg, fills its defaults and returns a receiver.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = audio.SampleRate
	}
	if cfg.EndTimeout == 0 {
		cfg.EndTimeout = DefaultEndTimeout
	}
	if cfg.EndTimeout < 0 {
		return nil, fmt.Errorf("%w: end timeout %v", ErrConfig, cfg.EndTimeout)
	}
	return &Receiver{
		clock:   cfg.ClockRate,
		timeout: cfg.EndTimeout,
		stale:   uint32(uint64(StaleWindow/time.Millisecond) * uint64(cfg.ClockRate) / 1000),
	}, nil
}

// Push processes one telephone-event payload received at now in an RTP
// packet with timestamp ts. It appends the digits that ended to dst (at most
// two: an unfinished earlier event and this one) and returns the extended
// slice. A malformed payload gives an error wrapping ErrShortPayload and
// changes nothing, apart from expiring a timed-out event.
func (r *Receiver) Push(dst []Digit, now time.Time, ts uint32, payload []byte) ([]Digit, error) {
	dst = r.Expire(dst, now)
	var ev Event
	if err := ev.Unmarshal(payload); err != nil {
		return dst, err
	}
	if ev.Event >= uint8(len(dtmfDigits)) || r.isEnded(ts) {
		return dst, nil
	}
	if r.active {
		if ts == r.cur.ts {
			if ev.Event != r.cur.event {
				return dst, nil // inconsistent packet; keep the event we have
			}
			r.cur.duration = max(r.cur.duration, ev.Duration)
			r.cur.volume = ev.Volume
			r.cur.last = now
			if ev.End {
				dst = r.finish(dst, false)
			}
			return dst, nil
		}
		if int32(ts-r.cur.ts) < 0 {
			return dst, nil // an older event that was never seen: too late
		}
		dst = r.finish(dst, true)
	}
	r.active = true
	r.cur = dtmfActive{ts: ts, event: ev.Event, volume: ev.Volume, duration: ev.Duration, last: now}
	if ev.End {
		dst = r.finish(dst, false)
	}
	return dst, nil
}

// Expire reports the current event as ended (with EndLost set) if its last
// packet arrived EndTimeout or more before now, appending it to dst.
func (r *Receiver) Expire(dst []Digit, now time.Time) []Digit {
	if r.active && now.Sub(r.cur.last) >= r.timeout {
		dst = r.finish(dst, true)
	}
	return dst
}

// Deadline returns when Expire would end the current event, and false when
// no event is in progress.
func (r *Receiver) Deadline() (time.Time, bool) {
	if !r.active {
		return time.Time{}, false
	}
	return r.cur.last.Add(r.timeout), true
}

// Reset forgets the event in progress and the events already reported, as
// needed when the sender's SSRC changes.
func (r *Receiver) Reset() {
	r.active = false
	r.haveEnded = false
}

// isEnded reports whether ts belongs to an event already reported, or to an
// older one within the stale window.
func (r *Receiver) isEnded(ts uint32) bool {
	if !r.haveEnded {
		return false
	}
	back := r.lastEnded - ts
	return back <= r.stale && int32(back) >= 0
}

func (r *Receiver) finish(dst []Digit, endLost bool) []Digit {
	r.active = false
	if !r.haveEnded || int32(r.cur.ts-r.lastEnded) > 0 {
		r.lastEnded = r.cur.ts
	}
	r.haveEnded = true
	return append(dst, Digit{
		Digit:     rune(dtmfDigits[r.cur.event]),
		Event:     r.cur.event,
		Timestamp: r.cur.ts,
		Duration:  time.Duration(r.cur.duration) * time.Second / time.Duration(r.clock),
		Volume:    r.cur.volume,
		EndLost:   endLost,
	})
}
