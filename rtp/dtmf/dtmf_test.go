package dtmf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDTMFEventWireFormat(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		wire []byte
	}{
		{"digit 5 start", Event{Event: 5, Volume: 10, Duration: 160}, []byte{0x05, 0x0A, 0x00, 0xA0}},
		{"digit # end", Event{Event: 11, End: true, Volume: 10, Duration: 800}, []byte{0x0B, 0x8A, 0x03, 0x20}},
		{"max fields", Event{Event: 255, End: true, Volume: 63, Duration: 65535}, []byte{0xFF, 0xBF, 0xFF, 0xFF}},
		{"zero", Event{}, []byte{0, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.wire, tc.ev.AppendTo(nil))
			var got Event
			require.NoError(t, got.Unmarshal(tc.wire))
			require.Equal(t, tc.ev, got)
		})
	}
	// The R bit is ignored on receipt, and volume is clamped when sending.
	var ev Event
	require.NoError(t, ev.Unmarshal([]byte{0x01, 0x40 | 0x0A, 0x00, 0x10, 0xEE}))
	require.Equal(t, Event{Event: 1, Volume: 10, Duration: 16}, ev)
	require.Equal(t, []byte{0x01, 0x3F, 0, 0}, Event{Event: 1, Volume: 64}.AppendTo(nil))
}

func TestDTMFEventShortPayload(t *testing.T) {
	for n := range PayloadSize {
		ev := Event{Event: 9}
		err := ev.Unmarshal(make([]byte, n))
		require.ErrorIs(t, err, ErrShortPayload)
		require.Equal(t, Event{Event: 9}, ev, "unchanged on error")
	}
}

func TestDTMFDigitMapping(t *testing.T) {
	const digits = "0123456789*#ABCD"
	for i, d := range digits {
		ev, err := EventForDigit(d)
		require.NoError(t, err)
		require.Equal(t, uint8(i), ev)
		back, err := DigitForEvent(ev)
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
	for i, d := range "abcd" {
		ev, err := EventForDigit(d)
		require.NoError(t, err)
		require.Equal(t, uint8(12+i), ev)
	}
	for _, d := range []rune{'E', 'e', ' ', '+', 'p', 0, '٣'} {
		_, err := EventForDigit(d)
		require.ErrorIsf(t, err, ErrDigit, "%q", d)
	}
	for _, ev := range []uint8{16, 32, 255} {
		_, err := DigitForEvent(ev)
		require.ErrorIs(t, err, ErrDigit)
	}
}

func dtmfMS(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestDTMFSenderPacketSequence(t *testing.T) {
	s, err := NewSender(SenderConfig{})
	require.NoError(t, err)
	got, err := s.AppendDigit(nil, '7', 1000, 0)
	require.NoError(t, err)
	// 100 ms at 20 ms: updates at 20..80 ms with duration 160..640, then the
	// end packet (duration 800) three times, 20 ms apart (RFC 4733 §2.5.1).
	ev := func(end bool, dur uint16) Event { return Event{Event: 7, End: end, Volume: 10, Duration: dur} }
	want := []Packet{
		{At: dtmfMS(20), Marker: true, Timestamp: 1000, Event: ev(false, 160)},
		{At: dtmfMS(40), Timestamp: 1000, Event: ev(false, 320)},
		{At: dtmfMS(60), Timestamp: 1000, Event: ev(false, 480)},
		{At: dtmfMS(80), Timestamp: 1000, Event: ev(false, 640)},
		{At: dtmfMS(100), Timestamp: 1000, Event: ev(true, 800)},
		{At: dtmfMS(120), Timestamp: 1000, Event: ev(true, 800)},
		{At: dtmfMS(140), Timestamp: 1000, Event: ev(true, 800)},
	}
	require.Equal(t, want, got)
}

func TestDTMFSenderConfigs(t *testing.T) {
	tests := []struct {
		name      string
		cfg       SenderConfig
		durations []uint16 // of all packets
		ends      int
		lastAt    time.Duration
	}{
		{"ptime 30, 100 ms tone", SenderConfig{Interval: dtmfMS(30)}, []uint16{240, 480, 720, 800, 800, 800}, 3, dtmfMS(160)},
		{"minimum 40 ms tone", SenderConfig{Duration: dtmfMS(40)}, []uint16{160, 320, 320, 320}, 3, dtmfMS(80)},
		{"tone shorter than interval", SenderConfig{Duration: dtmfMS(40), Interval: dtmfMS(50)}, []uint16{320, 320, 320}, 3, dtmfMS(140)},
		{"16 kHz clock", SenderConfig{ClockRate: 16000, Duration: dtmfMS(60)}, []uint16{320, 640, 960, 960, 960}, 3, dtmfMS(100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSender(tc.cfg)
			require.NoError(t, err)
			pk, err := s.AppendDigit(nil, '#', 42, 0)
			require.NoError(t, err)
			var durs []uint16
			ends := 0
			for i, p := range pk {
				durs = append(durs, p.Event.Duration)
				require.Equal(t, i == 0, p.Marker, "marker only on the first packet")
				require.Equal(t, uint32(42), p.Timestamp)
				require.Equal(t, uint8(11), p.Event.Event)
				if p.Event.End {
					ends++
				} else {
					require.Zero(t, ends, "no update after an end packet")
				}
				if i > 0 {
					require.Greater(t, p.At, pk[i-1].At)
				}
			}
			require.Equal(t, tc.durations, durs)
			require.Equal(t, tc.ends, ends)
			require.Equal(t, tc.lastAt, pk[len(pk)-1].At)
		})
	}
}

func TestDTMFSenderConfigErrors(t *testing.T) {
	tests := []SenderConfig{
		{Duration: dtmfMS(39)},
		{Duration: 9 * time.Second}, // 72000 units at 8 kHz
		{Pause: dtmfMS(10)},
		{Interval: -dtmfMS(20)},
		{Interval: time.Millisecond},
		{Interval: 2 * time.Second},
		{Volume: 64},
	}
	for _, cfg := range tests {
		_, err := NewSender(cfg)
		require.ErrorIsf(t, err, ErrConfig, "%+v", cfg)
	}
	_, err := NewReceiver(ReceiverConfig{EndTimeout: -1})
	require.ErrorIs(t, err, ErrConfig)
}

func TestDTMFSenderDigits(t *testing.T) {
	s, err := NewSender(SenderConfig{Volume: 20, Pause: dtmfMS(60)})
	require.NoError(t, err)
	require.Equal(t, dtmfMS(160), s.Span())
	pk, err := s.AppendDigits(nil, "1#", 0xFFFFFF00) // second digit wraps the timestamp
	require.NoError(t, err)
	require.Len(t, pk, 14)
	require.Equal(t, uint32(0xFFFFFF00), pk[0].Timestamp)
	require.Equal(t, uint32(1280-0x100), pk[7].Timestamp, "wrapped")
	require.True(t, pk[7].Marker)
	require.Equal(t, dtmfMS(160+20), pk[7].At)
	require.Equal(t, uint8(20), pk[7].Event.Volume)

	_, err = s.AppendDigits(nil, "12x", 0)
	require.ErrorIs(t, err, ErrDigit)
	prev := []Packet{{At: 1}}
	out, err := s.AppendDigit(prev, 'Z', 0, 0)
	require.ErrorIs(t, err, ErrDigit)
	require.Equal(t, prev, out)
}

// dtmfRx is one received packet in a receiver scenario.
type dtmfRx struct {
	at   int // ms since t0
	ts   uint32
	ev   uint8
	end  bool
	dur  uint16
	bad  bool // send a truncated payload
	poll bool // call Expire instead of Push
}

func TestDTMFReceiverScenarios(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		in   []dtmfRx
		want []Digit
	}{
		{
			name: "normal event with three end packets",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 1, dur: 160}, {at: 40, ts: 100, ev: 1, dur: 320},
				{at: 60, ts: 100, ev: 1, end: true, dur: 480}, {at: 80, ts: 100, ev: 1, end: true, dur: 480},
				{at: 100, ts: 100, ev: 1, end: true, dur: 480}, {at: 400, poll: true},
			},
			want: []Digit{{Digit: '1', Event: 1, Timestamp: 100, Duration: dtmfMS(60), Volume: 10}},
		},
		{
			name: "every packet duplicated and reordered",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 2, dur: 160}, {at: 21, ts: 100, ev: 2, dur: 160},
				{at: 60, ts: 100, ev: 2, dur: 480}, {at: 61, ts: 100, ev: 2, dur: 320},
				{at: 62, ts: 100, ev: 2, dur: 320}, {at: 100, ts: 100, ev: 2, end: true, dur: 800},
				{at: 101, ts: 100, ev: 2, end: true, dur: 800}, {at: 102, ts: 100, ev: 2, dur: 640},
				{at: 120, ts: 100, ev: 2, end: true, dur: 800},
			},
			want: []Digit{{Digit: '2', Event: 2, Timestamp: 100, Duration: dtmfMS(100), Volume: 10}},
		},
		{
			name: "all end packets lost: reported after the timeout",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 3, dur: 160}, {at: 40, ts: 100, ev: 3, dur: 320},
				{at: 239, poll: true}, // 199 ms after the last packet: not yet
				{at: 240, poll: true},
				{at: 260, poll: true},
				{at: 300, ts: 100, ev: 3, end: true, dur: 800}, // very late end packet: ignored
			},
			want: []Digit{{Digit: '3', Event: 3, Timestamp: 100, Duration: dtmfMS(40), Volume: 10, EndLost: true}},
		},
		{
			name: "end packets lost, next event starts before the timeout",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 4, dur: 160},
				{at: 120, ts: 1700, ev: 5, dur: 160},
				{at: 140, ts: 100, ev: 4, end: true, dur: 800}, // old event, already reported
				{at: 160, ts: 1700, ev: 5, end: true, dur: 320},
			},
			want: []Digit{
				{Digit: '4', Event: 4, Timestamp: 100, Duration: dtmfMS(20), Volume: 10, EndLost: true},
				{Digit: '5', Event: 5, Timestamp: 1700, Duration: dtmfMS(40), Volume: 10},
			},
		},
		{
			name: "only end packets arrive",
			in: []dtmfRx{
				{at: 100, ts: 100, ev: 10, end: true, dur: 800},
				{at: 120, ts: 100, ev: 10, end: true, dur: 800},
			},
			want: []Digit{{Digit: '*', Event: 10, Timestamp: 100, Duration: dtmfMS(100), Volume: 10}},
		},
		{
			name: "same digit twice is two events",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 9, end: true, dur: 800},
				{at: 220, ts: 1700, ev: 9, end: true, dur: 800},
			},
			want: []Digit{
				{Digit: '9', Event: 9, Timestamp: 100, Duration: dtmfMS(100), Volume: 10},
				{Digit: '9', Event: 9, Timestamp: 1700, Duration: dtmfMS(100), Volume: 10},
			},
		},
		{
			name: "timestamp wrap-around",
			in: []dtmfRx{
				{at: 20, ts: 0xFFFFFF00, ev: 12, end: true, dur: 800},
				{at: 220, ts: 0x00000200, ev: 13, end: true, dur: 800},
				{at: 240, ts: 0xFFFFFF00, ev: 12, end: true, dur: 800},
			},
			want: []Digit{
				{Digit: 'A', Event: 12, Timestamp: 0xFFFFFF00, Duration: dtmfMS(100), Volume: 10},
				{Digit: 'B', Event: 13, Timestamp: 0x200, Duration: dtmfMS(100), Volume: 10},
			},
		},
		{
			name: "sender restarts its timestamps far back",
			in: []dtmfRx{
				{at: 20, ts: 1 << 30, ev: 14, end: true, dur: 800},
				{at: 220, ts: 5000, ev: 15, end: true, dur: 800},
			},
			want: []Digit{
				{Digit: 'C', Event: 14, Timestamp: 1 << 30, Duration: dtmfMS(100), Volume: 10},
				{Digit: 'D', Event: 15, Timestamp: 5000, Duration: dtmfMS(100), Volume: 10},
			},
		},
		{
			name: "non-DTMF events and malformed payloads are ignored",
			in: []dtmfRx{
				{at: 20, ts: 100, ev: 16, end: true, dur: 800},
				{at: 40, ts: 200, bad: true},
				{at: 60, ts: 300, ev: 0, end: true, dur: 800},
			},
			want: []Digit{{Digit: '0', Event: 0, Timestamp: 300, Duration: dtmfMS(100), Volume: 10}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReceiver(ReceiverConfig{})
			require.NoError(t, err)
			var got []Digit
			for _, p := range tc.in {
				now := t0.Add(dtmfMS(p.at))
				if p.poll {
					got = r.Expire(got, now)
					continue
				}
				payload := Event{Event: p.ev, End: p.end, Volume: 10, Duration: p.dur}.AppendTo(nil)
				if p.bad {
					payload = payload[:3]
				}
				got, err = r.Push(got, now, p.ts, payload)
				if p.bad {
					require.ErrorIs(t, err, ErrShortPayload)
				} else {
					require.NoError(t, err)
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDTMFReceiverDeadlineAndReset(t *testing.T) {
	t0 := time.Unix(0, 0)
	r, err := NewReceiver(ReceiverConfig{EndTimeout: dtmfMS(500)})
	require.NoError(t, err)
	_, ok := r.Deadline()
	require.False(t, ok)
	out, err := r.Push(nil, t0, 7, Event{Event: 1, Duration: 160}.AppendTo(nil))
	require.NoError(t, err)
	require.Empty(t, out)
	dl, ok := r.Deadline()
	require.True(t, ok)
	require.Equal(t, t0.Add(dtmfMS(500)), dl)
	require.Empty(t, r.Expire(nil, dl.Add(-1)))
	require.Len(t, r.Expire(nil, dl), 1)
	// After Reset, the same timestamp is a new event (new SSRC).
	r.Reset()
	out, err = r.Push(nil, t0, 7, Event{Event: 1, End: true, Duration: 800}.AppendTo(nil))
	require.NoError(t, err)
	require.Len(t, out, 1)
}

// All sixteen events survive sender → receiver, with every end packet
// delivered and then again with all of them lost.
func TestDTMFSenderToReceiverAllEvents(t *testing.T) {
	const digits = "0123456789*#ABCD"
	for _, loseEnds := range []bool{false, true} {
		s, err := NewSender(SenderConfig{})
		require.NoError(t, err)
		r, err := NewReceiver(ReceiverConfig{})
		require.NoError(t, err)
		pk, err := s.AppendDigits(nil, digits, 12345)
		require.NoError(t, err)
		t0 := time.Unix(0, 0)
		var got []Digit
		for _, p := range pk {
			if loseEnds && p.Event.End {
				continue
			}
			got, err = r.Push(got, t0.Add(p.At), p.Timestamp, p.Event.AppendTo(nil))
			require.NoError(t, err)
		}
		got = r.Expire(got, t0.Add(time.Hour))
		require.Len(t, got, len(digits))
		for i, d := range got {
			require.Equal(t, rune(digits[i]), d.Digit)
			require.Equal(t, uint8(i), d.Event)
			require.Equal(t, uint32(12345)+uint32(i)*1600, d.Timestamp)
			require.Equal(t, loseEnds, d.EndLost)
			if loseEnds {
				require.Equal(t, dtmfMS(80), d.Duration)
			} else {
				require.Equal(t, dtmfMS(100), d.Duration)
			}
		}
	}
}

func TestDTMFZeroAllocs(t *testing.T) {
	s, err := NewSender(SenderConfig{})
	require.NoError(t, err)
	r, err := NewReceiver(ReceiverConfig{})
	require.NoError(t, err)
	pk := make([]Packet, 0, 16)
	digits := make([]Digit, 0, 4)
	payload := make([]byte, 0, PayloadSize)
	now := time.Unix(0, 0)
	ts := uint32(0)
	require.Zero(t, testing.AllocsPerRun(50, func() {
		pk, _ = s.AppendDigit(pk[:0], '5', ts, 0)
		for _, p := range pk {
			payload = p.Event.AppendTo(payload[:0])
			digits, _ = r.Push(digits[:0], now.Add(p.At), p.Timestamp, payload)
		}
		ts += 1600
		now = now.Add(time.Second)
	}))
}
