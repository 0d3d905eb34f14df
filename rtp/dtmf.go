package rtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// RFC 4733 telephone-event payload and DTMF settings.
const (
	// DTMFPayloadSize is the size of one event payload (RFC 4733 §2.3).
	DTMFPayloadSize = 4
	// DTMFMaxVolume is the largest power level, in -dBm0 (RFC 4733 §2.3.4).
	DTMFMaxVolume = 63
	// DTMFDefaultVolume is the power level sent when DTMFSenderConfig.Volume
	// is zero: -10 dBm0, within the levels of ITU-T Q.23/Q.24.
	DTMFDefaultVolume = 10
	// DTMFDefaultDuration is the tone duration sent when
	// DTMFSenderConfig.Duration is zero.
	DTMFDefaultDuration = 100 * time.Millisecond
	// DTMFMinDuration is the shortest tone the sender accepts (ITU-T Q.24
	// recognition minimum).
	DTMFMinDuration = 40 * time.Millisecond
	// DTMFDefaultPause is the gap between two digits of a string sent when
	// DTMFSenderConfig.Pause is zero.
	DTMFDefaultPause = 100 * time.Millisecond
	// DTMFMinPause is the shortest gap between digits the sender accepts.
	DTMFMinPause = 40 * time.Millisecond
	// DTMFEndRepeats is how many times the final packet of an event is sent
	// (RFC 4733 §2.5.1.4).
	DTMFEndRepeats = 3
	// DTMFDefaultEndTimeout is how long the receiver waits, after the last
	// packet of an event without the E bit, before it reports the digit as
	// ended (its end packets were lost; RFC 4733 §2.5.2.2). It applies when
	// DTMFReceiverConfig.EndTimeout is zero.
	DTMFDefaultEndTimeout = 200 * time.Millisecond
	// DTMFMinInterval and DTMFMaxInterval bound DTMFSenderConfig.Interval.
	DTMFMinInterval = 5 * time.Millisecond
	DTMFMaxInterval = time.Second
	// DTMFStaleWindow is how far, in time, a timestamp may lie before the
	// last reported event and still be treated as a late packet of an old
	// event (ignored) rather than as a sender that restarted its timestamps.
	DTMFStaleWindow = 10 * time.Second
)

// DTMF errors.
var (
	// ErrDTMFShortPayload reports an event payload shorter than
	// DTMFPayloadSize bytes.
	ErrDTMFShortPayload = errors.New("rtp: telephone-event payload shorter than 4 bytes")
	// ErrDTMFDigit reports a character or event code that is not a DTMF
	// digit (0-9, *, #, A-D; events 0-15).
	ErrDTMFDigit = errors.New("rtp: not a DTMF digit")
	// ErrDTMFConfig reports an invalid DTMFSenderConfig or DTMFReceiverConfig.
	ErrDTMFConfig = errors.New("rtp: invalid DTMF configuration")
)

// dtmfDigits maps event codes 0-15 to digits (RFC 4733 §3.2, table 7).
const dtmfDigits = "0123456789*#ABCD"

// DTMFEventForDigit returns the RFC 4733 event code of a DTMF digit: '0'-'9'
// are 0-9, '*' is 10, '#' is 11 and 'A'-'D' (or 'a'-'d') are 12-15
// (RFC 4733 §3.2). Other characters give an error wrapping ErrDTMFDigit.
func DTMFEventForDigit(d rune) (uint8, error) {
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
	return 0, fmt.Errorf("%w: %q", ErrDTMFDigit, d)
}

// DTMFDigitForEvent returns the digit of event code 0-15 (RFC 4733 §3.2);
// other codes give an error wrapping ErrDTMFDigit.
func DTMFDigitForEvent(event uint8) (rune, error) {
	if int(event) >= len(dtmfDigits) {
		return 0, fmt.Errorf("%w: event %d", ErrDTMFDigit, event)
	}
	return rune(dtmfDigits[event]), nil
}

// DTMFEvent is the telephone-event payload (RFC 4733 §2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The R bit is reserved: it is sent as zero and ignored on receipt
// (RFC 4733 §2.3.3).
type DTMFEvent struct {
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
func (e DTMFEvent) AppendTo(dst []byte) []byte {
	b1 := min(e.Volume, DTMFMaxVolume)
	if e.End {
		b1 |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(dst, e.Event, b1), e.Duration)
}

// Unmarshal parses the first DTMFPayloadSize bytes of b into e. A shorter b
// gives an error wrapping ErrDTMFShortPayload; bytes after the first event are
// ignored.
func (e *DTMFEvent) Unmarshal(b []byte) error {
	if len(b) < DTMFPayloadSize {
		return fmt.Errorf("%w: %d bytes", ErrDTMFShortPayload, len(b))
	}
	e.Event = b[0]
	e.End = b[1]&0x80 != 0
	e.Volume = b[1] & 0x3F
	e.Duration = binary.BigEndian.Uint16(b[2:])
	return nil
}

// DTMFSenderConfig configures a DTMFSender. The zero value of each field
// selects its documented default.
type DTMFSenderConfig struct {
	// ClockRate of the telephone-event payload in Hz; 0 means 8000.
	ClockRate uint32
	// Interval between packets of an event, normally the audio ptime;
	// 0 means AudioFrameDuration (20 ms). Between DTMFMinInterval and
	// DTMFMaxInterval.
	Interval time.Duration
	// Duration of each tone; 0 means DTMFDefaultDuration, and it may not be
	// shorter than DTMFMinDuration. It must fit the 16-bit duration field
	// (8.19 s at 8 kHz): long-event segmentation (§2.5.1.3) is not done.
	Duration time.Duration
	// Pause between the end of one digit and the start of the next in
	// AppendDigits; 0 means DTMFDefaultPause, minimum DTMFMinPause.
	Pause time.Duration
	// Volume in -dBm0 (0-63); 0 means DTMFDefaultVolume. A level of
	// 0 dBm0 cannot be requested.
	Volume uint8
}

// DTMFPacket is one RTP packet of an event as a DTMFSender plans it. The
// caller sends it at At with the session's SSRC, the telephone-event payload
// type and the next sequence number of the stream it shares with audio
// (RFC 4733 §2.1).
type DTMFPacket struct {
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
	Event DTMFEvent
}

// DTMFSender plans the RTP packets of DTMF digits per RFC 4733 §2.5.1: the
// first packet of an event carries the marker bit, all packets of an event
// share its start timestamp, the duration grows by the interval with every
// update, and the final packet, with the E bit and the full duration, is sent
// DTMFEndRepeats times one interval apart. It does no I/O and reads no clock;
// it is safe for concurrent use once created.
type DTMFSender struct {
	clock    uint32
	interval time.Duration
	duration time.Duration
	pause    time.Duration
	volume   uint8
}

// NewDTMFSender validates cfg, fills its defaults and returns a sender.
// Invalid settings give an error wrapping ErrDTMFConfig.
func NewDTMFSender(cfg DTMFSenderConfig) (*DTMFSender, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = AudioSampleRate
	}
	if cfg.Interval == 0 {
		cfg.Interval = AudioFrameDuration
	}
	if cfg.Duration == 0 {
		cfg.Duration = DTMFDefaultDuration
	}
	if cfg.Pause == 0 {
		cfg.Pause = DTMFDefaultPause
	}
	if cfg.Volume == 0 {
		cfg.Volume = DTMFDefaultVolume
	}
	s := &DTMFSender{clock: cfg.ClockRate, interval: cfg.Interval, duration: cfg.Duration, pause: cfg.Pause, volume: cfg.Volume}
	switch {
	case cfg.Interval < DTMFMinInterval || cfg.Interval > DTMFMaxInterval:
		return nil, fmt.Errorf("%w: interval %v", ErrDTMFConfig, cfg.Interval)
	case cfg.Duration < DTMFMinDuration || s.units(cfg.Duration) > 0xFFFF:
		return nil, fmt.Errorf("%w: duration %v outside [%v, 65535 timestamp units]", ErrDTMFConfig, cfg.Duration, DTMFMinDuration)
	case cfg.Pause < DTMFMinPause:
		return nil, fmt.Errorf("%w: pause %v below %v", ErrDTMFConfig, cfg.Pause, DTMFMinPause)
	case cfg.Volume > DTMFMaxVolume:
		return nil, fmt.Errorf("%w: volume %d above %d", ErrDTMFConfig, cfg.Volume, DTMFMaxVolume)
	}
	return s, nil
}

// units converts d to RTP timestamp units at the sender's clock rate.
func (s *DTMFSender) units(d time.Duration) uint64 {
	return uint64(d) * uint64(s.clock) / uint64(time.Second)
}

// Span returns the time one digit occupies in AppendDigits: its tone
// duration plus the pause after it.
func (s *DTMFSender) Span() time.Duration { return s.duration + s.pause }

// AppendDigit appends the packets of one digit that starts at RTP timestamp
// ts and at time at (the At of its first update is at plus one interval) to
// dst and returns the extended slice. An invalid digit gives an error wrapping
// ErrDTMFDigit and leaves dst unchanged.
func (s *DTMFSender) AppendDigit(dst []DTMFPacket, digit rune, ts uint32, at time.Duration) ([]DTMFPacket, error) {
	ev, err := DTMFEventForDigit(digit)
	if err != nil {
		return dst, err
	}
	total := uint16(s.units(s.duration))
	first := true
	// Updates while the tone lasts, one per interval (§2.5.1.2).
	for t := s.interval; t < s.duration; t += s.interval {
		dst = append(dst, DTMFPacket{
			At: at + t, Marker: first, Timestamp: ts,
			Event: DTMFEvent{Event: ev, Volume: s.volume, Duration: uint16(s.units(t))},
		})
		first = false
	}
	// The final packet, repeated (§2.5.1.4).
	for i := range DTMFEndRepeats {
		dst = append(dst, DTMFPacket{
			At: at + s.duration + time.Duration(i)*s.interval, Marker: first, Timestamp: ts,
			Event: DTMFEvent{Event: ev, End: true, Volume: s.volume, Duration: total},
		})
		first = false
	}
	return dst, nil
}

// AppendDigits appends the packets of every digit of digits, the first
// starting at RTP timestamp ts and time 0, each next one Span later, to dst
// and returns the extended slice. The packets come in send order. An invalid
// digit gives an error wrapping ErrDTMFDigit and leaves dst unchanged.
func (s *DTMFSender) AppendDigits(dst []DTMFPacket, digits string, ts uint32) ([]DTMFPacket, error) {
	for _, d := range digits {
		if _, err := DTMFEventForDigit(d); err != nil {
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

// DTMFReceiverConfig configures a DTMFReceiver. The zero value of each field
// selects its documented default.
type DTMFReceiverConfig struct {
	// ClockRate of the telephone-event payload in Hz; 0 means 8000.
	ClockRate uint32
	// EndTimeout: an event whose last packet is older than this, and that
	// has seen no packet with the E bit, is reported as ended;
	// 0 means DTMFDefaultEndTimeout.
	EndTimeout time.Duration
}

// DTMFDigit is one digit a DTMFReceiver recognized.
type DTMFDigit struct {
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

// DTMFReceiver turns a stream of telephone-event payloads into digits, each
// reported exactly once, when it ends (RFC 4733 §2.5.2). Events are keyed by
// their RTP timestamp: retransmitted and duplicated packets of an event,
// including its three final packets, are merged, and packets of an event
// already reported are ignored. An event ends with its first E-bit packet,
// when a packet with a newer timestamp arrives, or EndTimeout after its last
// packet. Event codes above 15 (non-DTMF events) are ignored.
//
// Time is an argument; the receiver reads no clock and starts no goroutine.
// It is not safe for concurrent use.
type DTMFReceiver struct {
	clock   uint32
	timeout time.Duration
	stale   uint32 // DTMFStaleWindow in timestamp units

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

// NewDTMFReceiver validates cfg, fills its defaults and returns a receiver.
func NewDTMFReceiver(cfg DTMFReceiverConfig) (*DTMFReceiver, error) {
	if cfg.ClockRate == 0 {
		cfg.ClockRate = AudioSampleRate
	}
	if cfg.EndTimeout == 0 {
		cfg.EndTimeout = DTMFDefaultEndTimeout
	}
	if cfg.EndTimeout < 0 {
		return nil, fmt.Errorf("%w: end timeout %v", ErrDTMFConfig, cfg.EndTimeout)
	}
	return &DTMFReceiver{
		clock:   cfg.ClockRate,
		timeout: cfg.EndTimeout,
		stale:   uint32(uint64(DTMFStaleWindow/time.Millisecond) * uint64(cfg.ClockRate) / 1000),
	}, nil
}

// Push processes one telephone-event payload received at now in an RTP
// packet with timestamp ts. It appends the digits that ended to dst (at most
// two: an unfinished earlier event and this one) and returns the extended
// slice. A malformed payload gives an error wrapping ErrDTMFShortPayload and
// changes nothing, apart from expiring a timed-out event.
func (r *DTMFReceiver) Push(dst []DTMFDigit, now time.Time, ts uint32, payload []byte) ([]DTMFDigit, error) {
	dst = r.Expire(dst, now)
	var ev DTMFEvent
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
func (r *DTMFReceiver) Expire(dst []DTMFDigit, now time.Time) []DTMFDigit {
	if r.active && now.Sub(r.cur.last) >= r.timeout {
		dst = r.finish(dst, true)
	}
	return dst
}

// Deadline returns when Expire would end the current event, and false when
// no event is in progress.
func (r *DTMFReceiver) Deadline() (time.Time, bool) {
	if !r.active {
		return time.Time{}, false
	}
	return r.cur.last.Add(r.timeout), true
}

// Reset forgets the event in progress and the events already reported, as
// needed when the sender's SSRC changes.
func (r *DTMFReceiver) Reset() {
	r.active = false
	r.haveEnded = false
}

// isEnded reports whether ts belongs to an event already reported, or to an
// older one within the stale window.
func (r *DTMFReceiver) isEnded(ts uint32) bool {
	if !r.haveEnded {
		return false
	}
	back := r.lastEnded - ts
	return back <= r.stale && int32(back) >= 0
}

func (r *DTMFReceiver) finish(dst []DTMFDigit, endLost bool) []DTMFDigit {
	r.active = false
	if !r.haveEnded || int32(r.cur.ts-r.lastEnded) > 0 {
		r.lastEnded = r.cur.ts
	}
	r.haveEnded = true
	return append(dst, DTMFDigit{
		Digit:     rune(dtmfDigits[r.cur.event]),
		Event:     r.cur.event,
		Timestamp: r.cur.ts,
		Duration:  time.Duration(r.cur.duration) * time.Second / time.Duration(r.clock),
		Volume:    r.cur.volume,
		EndLost:   endLost,
	})
}
