package jitter

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// jbPkt is one packet of a virtual-time jitter buffer scenario.
type jbPkt struct {
	seq    uint16
	ts     uint32
	at     int // arrival, ms after t0
	marker bool
	ssrc   uint32
	skip   bool // not audio: Skip, not Push (an RFC 4733 event)
}

var jbT0 = time.Unix(1_700_000_000, 0)

// jbDecode is a test decoder: the 2-byte payload is the sequence number, and
// the frame is 160 samples of int16(seq), so played frames identify the packet.
func jbDecode(dst []int16, _ uint8, payload []byte) ([]int16, error) {
	if len(payload) != 2 {
		return dst, fmt.Errorf("test payload of %d bytes", len(payload))
	}
	v := int16(binary.BigEndian.Uint16(payload))
	for range audio.FrameSamples {
		dst = append(dst, v)
	}
	return dst, nil
}

// jbSteady returns n packets from seq0 with continuous timestamps, one every
// 20 ms from at0.
func jbSteady(seq0 uint16, ts0 uint32, at0, n int) []jbPkt {
	var p []jbPkt
	for i := range n {
		p = append(p, jbPkt{seq: seq0 + uint16(i), ts: ts0 + uint32(i)*audio.FrameSamples, at: at0 + 20*i})
	}
	return p
}

// jbRun pushes the packets in arrival order and pops every 20 ms from t0,
// pushing before popping at equal times. It returns one token per pop:
// "E" empty, "C" concealed, "P<seq>" played.
func jbRun(t *testing.T, cfg Config, pkts []jbPkt, pops int) ([]string, *Buffer) {
	t.Helper()
	if cfg.Decode == nil {
		cfg.Decode = jbDecode
	}
	jb, err := New(cfg)
	require.NoError(t, err)
	pkts = slices.Clone(pkts)
	slices.SortStableFunc(pkts, func(a, b jbPkt) int { return a.at - b.at })
	var out []string
	frame := make([]int16, 0, audio.FrameSamples)
	for k := range pops {
		now := 20 * k
		for len(pkts) > 0 && pkts[0].at <= now {
			p := pkts[0]
			pkts = pkts[1:]
			h := &pionrtp.Header{SequenceNumber: p.seq, Timestamp: p.ts, Marker: p.marker, SSRC: p.ssrc}
			if p.skip {
				jb.Skip(h, jbT0.Add(time.Duration(p.at)*time.Millisecond))
				continue
			}
			require.NoError(t, jb.Push(h, binary.BigEndian.AppendUint16(nil, p.seq), jbT0.Add(time.Duration(p.at)*time.Millisecond)))
		}
		var st Status
		frame, st = jb.Pop(jbT0.Add(time.Duration(now)*time.Millisecond), frame[:0])
		switch st {
		case Empty:
			require.Empty(t, frame)
			out = append(out, "E")
		case Concealed:
			require.Len(t, frame, audio.FrameSamples)
			out = append(out, "C")
		case Played:
			require.Len(t, frame, audio.FrameSamples)
			// The last sample: a frame after concealment starts with a
			// cross-fade.
			out = append(out, fmt.Sprint("P", uint16(frame[len(frame)-1])))
		}
	}
	return out, jb
}

func jbTokens(s string) []string { return strings.Fields(s) }

func TestJitterScenarios(t *testing.T) {
	steady := jbSteady(0, 1000, 0, 10)
	tests := []struct {
		name  string
		cfg   Config
		pkts  []jbPkt
		pops  int
		want  string
		stats Stats // counters compared; gauges ignored
	}{
		{
			name: "in order: 40 ms initial delay, then underrun",
			pkts: steady, pops: 15,
			want:  "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C C E",
			stats: Stats{Received: 10, Played: 10, Underruns: 1, Concealed: 2},
		},
		{
			name: "reordered pair",
			pkts: func() []jbPkt {
				p := slices.Clone(steady)
				p[3].at, p[4].at = 81, 79
				p[6].at = 139 // arrives after 7, before its playout
				p[7].at = 138
				return p
			}(),
			pops:  13,
			want:  "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 10, Played: 10, Concealed: 1},
		},
		{
			name: "first packets reordered before playout starts",
			pkts: func() []jbPkt {
				p := slices.Clone(steady)
				p[0].at, p[1].at = 5, 0
				return p
			}(),
			pops:  13,
			want:  "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 10, Played: 10, Concealed: 1},
		},
		{
			name:  "single loss is concealed",
			pkts:  slices.Delete(slices.Clone(steady), 4, 5),
			pops:  13,
			want:  "E E P0 P1 P2 P3 C P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 9, Played: 9, Lost: 1, Concealed: 2},
		},
		{
			name: "burst loss longer than the buffer",
			// Nothing follows 2 until 8 arrives at 160 ms: the buffer runs
			// dry, and restarts 40 ms after 8 arrives.
			pkts:  slices.Delete(slices.Clone(steady), 3, 8),
			pops:  13,
			want:  "E E P0 P1 P2 C C E E E P8 P9 C",
			stats: Stats{Received: 5, Played: 5, Lost: 5, Underruns: 1, Concealed: 3},
		},
		{
			name: "duplicates are dropped",
			pkts: append(slices.Clone(steady),
				jbPkt{seq: 2, ts: 1000 + 2*160, at: 45}, jbPkt{seq: 9, ts: 1000 + 9*160, at: 190}),
			pops:  13,
			want:  "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 12, Duplicate: 2, Played: 10, Concealed: 1},
		},
		{
			name: "late packet is concealed, then dropped",
			pkts: func() []jbPkt {
				p := slices.Clone(steady)
				p[5].at = 175 // due at 140
				return p
			}(),
			pops:  13,
			want:  "E E P0 P1 P2 P3 P4 C P6 P7 P8 P9 C",
			stats: Stats{Received: 10, Late: 1, Played: 9, Lost: 1, Concealed: 2},
		},
		{
			name: "delay spike: underrun, then playout resumes later",
			pkts: func() []jbPkt {
				p := slices.Clone(steady)
				for i := 4; i < 10; i++ {
					p[i].at = 200 + 2*i // 4..9 held up, arrive in a burst
				}
				return p
			}(),
			pops:  20,
			want:  "E E P0 P1 P2 P3 C C E E E E E P4 P5 P6 P7 P8 P9 C", // 4 plays 40 ms after its arrival
			stats: Stats{Received: 10, Played: 10, Underruns: 1, Concealed: 3},
		},
		{
			name:  "sequence number wrap-around",
			pkts:  jbSteady(65533, 0xFFFFFE00, 0, 6),
			pops:  9,
			want:  "E E P65533 P65534 P65535 P0 P1 P2 C",
			stats: Stats{Received: 6, Played: 6, Concealed: 1},
		},
		{
			name: "new talkspurt after silence waits the target delay",
			pkts: append(jbSteady(0, 1000, 0, 4),
				// 1 s of silence (DTX): timestamps jump, marker set.
				jbPkt{seq: 4, ts: 1000 + 4*160 + 8000, at: 1080, marker: true},
				jbPkt{seq: 5, ts: 1000 + 5*160 + 8000, at: 1100}),
			pops:  62,
			want:  "E E P0 P1 P2 P3 C C " + strings.Repeat("E ", 48) + "P4 P5 C C E E", // 4 plays at 1120 ms
			stats: Stats{Received: 6, Played: 6, Underruns: 2, Concealed: 4},
		},
		{
			name: "short silence still buffered keeps its gap",
			pkts: append(jbSteady(0, 1000, 0, 5),
				jbPkt{seq: 5, ts: 1000 + 6*160, at: 120, marker: true},
				jbPkt{seq: 6, ts: 1000 + 7*160, at: 140}),
			pops:  11,
			want:  "E E P0 P1 P2 P3 P4 E P5 P6 C",
			stats: Stats{Received: 7, Played: 7, Concealed: 1},
		},
		{
			name: "marker on every packet does not break playout",
			pkts: func() []jbPkt {
				p := slices.Clone(steady)
				for i := range p {
					p[i].marker = true
				}
				return p
			}(),
			pops:  13,
			want:  "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 10, Played: 10, Concealed: 1},
		},
		{
			name: "timestamp jump without silence plays on",
			pkts: append(jbSteady(0, 1000, 0, 5), jbSteady(5, 9_000_000, 100, 5)...),
			pops: 13,
			want: "E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C",
			// The jump does not count as jitter (checked below).
			stats: Stats{Received: 10, Played: 10, Concealed: 1},
		},
		{
			name: "sequence jump beyond capacity restarts",
			pkts: append(jbSteady(0, 1000, 0, 4), jbSteady(30000, 50000, 80, 4)...),
			pops: 12,
			// 2 and 3 were still buffered when 30000 arrived and are discarded.
			want:  "E E P0 P1 E E P30000 P30001 P30002 P30003 C C",
			stats: Stats{Received: 8, Played: 6, Discarded: 2, Resyncs: 1, Concealed: 2},
		},
		{
			name: "SSRC change restarts",
			pkts: func() []jbPkt {
				p := append(jbSteady(0, 1000, 0, 4), jbSteady(500, 7, 80, 4)...)
				for i := 4; i < 8; i++ {
					p[i].ssrc = 99
				}
				return p
			}(),
			pops:  12,
			want:  "E E P0 P1 E E P500 P501 P502 P503 C C",
			stats: Stats{Received: 8, Played: 6, Discarded: 2, Resyncs: 1, Concealed: 2},
		},
		{
			name: "late frame awaited while the buffer is shallow, then given up",
			cfg:  Config{MinDepth: 100 * time.Millisecond},
			pkts: []jbPkt{{seq: 0, ts: 0, at: 0}, {seq: 1, ts: 160, at: 20}, {seq: 3, ts: 480, at: 60}},
			pops: 15,
			// 2 never comes and nothing follows 3: five fill-ins (the
			// target holds five frames), then 2 is lost.
			want:  "E E E E E P0 P1 C C C C C C P3 C",
			stats: Stats{Received: 3, Played: 3, Lost: 1, Concealed: 7},
		},
		{
			name:  "late frame arrives during the fill-ins and is played",
			cfg:   Config{MinDepth: 100 * time.Millisecond},
			pkts:  []jbPkt{{seq: 0, ts: 0, at: 0}, {seq: 1, ts: 160, at: 20}, {seq: 3, ts: 480, at: 60}, {seq: 2, ts: 320, at: 170}},
			pops:  10,
			want:  "E E E E E P0 P1 C C P2",
			stats: Stats{Received: 4, Played: 3, Concealed: 2},
		},
		{
			name:  "larger minimum depth",
			cfg:   Config{MinDepth: 80 * time.Millisecond},
			pkts:  steady,
			pops:  16,
			want:  "E E E E P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 C C",
			stats: Stats{Received: 10, Played: 10, Concealed: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, jb := jbRun(t, tc.cfg, tc.pkts, tc.pops)
			require.Equal(t, jbTokens(tc.want), got)
			st := jb.Stats()
			st.Depth, st.Target, st.Jitter, st.JitterUnits = 0, 0, 0, 0
			require.Equal(t, tc.stats, st)
		})
	}
}

func TestJitterTimestampJumpNotJitter(t *testing.T) {
	_, jb := jbRun(t, Config{}, append(jbSteady(0, 1000, 0, 5), jbSteady(5, 9_000_000, 100, 5)...), 13)
	require.Zero(t, jb.Stats().JitterUnits)
}

// Concealment of a steady signal, then audio again.
func TestJitterConcealmentFades(t *testing.T) {
	jb, err := New(Config{})
	require.NoError(t, err)
	frame := make([]int16, audio.FrameSamples)
	for i := range frame {
		frame[i] = 3000
	}
	payload := g711.EncodeULaw(nil, frame)
	level := g711.DecodeULawSample(payload[0])
	push := func(seq uint16, at int) {
		h := &pionrtp.Header{SequenceNumber: seq, Timestamp: uint32(seq) * 160, PayloadType: audio.PayloadTypePCMU}
		require.NoError(t, jb.Push(h, payload, jbT0.Add(time.Duration(at)*time.Millisecond)))
	}
	push(0, 0)
	push(1, 20)
	push(8, 25) // 2..7 lost
	var got []int16
	var statuses []Status
	var last []int16
	for k := 2; k < 11; k++ {
		var st Status
		var out []int16
		out, st = jb.Pop(jbT0.Add(time.Duration(20*k)*time.Millisecond), nil)
		statuses = append(statuses, st)
		if len(out) > 0 {
			got = append(got, out[0])
			require.Len(t, out, audio.FrameSamples)
			last = out
		}
	}
	require.Equal(t, []Status{Played, Played,
		Concealed, Concealed, Concealed, Concealed, Concealed, Concealed,
		Played}, statuses)
	// Full level for 10 ms, then 20 % less every 10 ms, silent from
	// 60 ms; the audio that resumes fades in from the concealment.
	faded := func(e int32) int16 { return int16(int32(level) * (480 - e) / 400) }
	require.Equal(t, []int16{level, level, level, faded(160), faded(320), 0, 0, 0}, got[:8])
	require.Less(t, got[8], level/4, "cross-faded from the silent concealment")
	require.Equal(t, level, last[len(last)-1])
	require.Equal(t, "concealed", Concealed.String())
}

// Depth adaptation: alternating network delays raise the RFC 3550 jitter
// estimate and the target delay (never above MaxDepth); when the network
// calms down, the estimate decays and the buffer discards frames to shrink
// back toward MinDepth, in the pauses: every frame of speech after the
// jittery phase is played.
func TestJitterDepthAdaptation(t *testing.T) {
	const maxDepth = 160 * time.Millisecond
	// Speech is 1000+seq, the last 20 of every 100 packets a pause (0).
	decode := func(dst []int16, pt uint8, payload []byte) ([]int16, error) {
		dst, err := jbDecode(dst, pt, payload)
		seq := binary.BigEndian.Uint16(payload)
		for i := len(dst) - audio.FrameSamples; i < len(dst); i++ {
			if seq%100 >= 80 {
				dst[i] = 0
			} else {
				dst[i] = int16(1000 + seq)
			}
		}
		return dst, err
	}
	playedSpeech := map[int16]bool{}
	jb, err := New(Config{Decode: decode, MaxDepth: maxDepth})
	require.NoError(t, err)
	var frame []int16
	seq := uint16(0)
	delay := func(i int) int { // jittery phase: 0 or 70 ms extra
		if i < 300 && i%2 == 1 {
			return 70
		}
		return 0
	}
	var targets []time.Duration
	var jitterAt299 time.Duration
	pending := map[int]uint16{} // arrival ms → seq
	counts := map[Status]int{}
	for i := range 900 {
		pending[20*i+delay(i)] = seq
		seq++
		now := 20 * i
		// Deliver everything that arrived by now, in arrival order.
		var due []int
		for at := range pending {
			if at <= now {
				due = append(due, at)
			}
		}
		slices.Sort(due)
		for _, at := range due {
			s := pending[at]
			delete(pending, at)
			h := &pionrtp.Header{SequenceNumber: s, Timestamp: uint32(s) * 160}
			require.NoError(t, jb.Push(h, binary.BigEndian.AppendUint16(nil, s), jbT0.Add(time.Duration(at)*time.Millisecond)))
		}
		var st Status
		frame, st = jb.Pop(jbT0.Add(time.Duration(now)*time.Millisecond), frame[:0])
		counts[st]++
		if st == Played {
			playedSpeech[frame[len(frame)-1]] = true
		}
		targets = append(targets, jb.Stats().Target)
		if i == 299 {
			jitterAt299 = jb.Stats().Jitter
		}
		require.LessOrEqual(t, jb.Stats().Target, maxDepth)
		require.LessOrEqual(t, jb.Stats().Depth, time.Duration(DefaultCapacity)*audio.FrameDuration)
	}
	st := jb.Stats()
	require.Equal(t, DefaultMinDepth, targets[0])
	require.Equal(t, maxDepth, targets[299], "jittery phase drives the target to MaxDepth")
	require.Greater(t, jitterAt299, 30*time.Millisecond)
	require.Less(t, st.Jitter, time.Millisecond)
	require.Equal(t, DefaultMinDepth, st.Target, "calm phase brings it back")
	require.Positive(t, st.Discarded, "the buffer shrank by discarding frames")
	for s := 300; s < 880; s++ {
		if s%100 < 80 {
			require.True(t, playedSpeech[int16(1000+s)], "speech frame %d played, not discarded", s)
		}
	}
	require.Less(t, st.Late, uint64(10), "the buffer grew to absorb 70 ms of jitter")
	require.Zero(t, st.Underruns)
	require.LessOrEqual(t, st.Depth, DefaultMinDepth+audio.FrameDuration)
	require.Equal(t, uint64(900), st.Received)
	require.Zero(t, st.Duplicate)
	// Every frame is accounted for once.
	require.Equal(t, st.Received-st.Late, st.Played+st.Discarded+uint64(st.Depth/audio.FrameDuration))
	require.Greater(t, counts[Played], 800)
}

// RFC 3550 §6.4.1: with constant transit time J stays zero; with every other
// packet 40 ms late, |D| = 320 timestamp units, so J converges to 320.
func TestJitterEstimate(t *testing.T) {
	jb, err := New(Config{Decode: jbDecode})
	require.NoError(t, err)
	for i := range 400 {
		at := 20 * i
		if i%2 == 1 {
			at += 40
		}
		h := &pionrtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i) * 160}
		require.NoError(t, jb.Push(h, []byte{0, byte(i)}, jbT0.Add(time.Duration(at)*time.Millisecond)))
		if i == 0 {
			require.Zero(t, jb.Stats().JitterUnits)
		}
		if i%2 == 0 {
			jb.Pop(jbT0.Add(time.Duration(at)*time.Millisecond), nil)
			jb.Pop(jbT0.Add(time.Duration(at)*time.Millisecond), nil)
		}
	}
	st := jb.Stats()
	require.InDelta(t, 320, float64(st.JitterUnits), 1)
	require.InDelta(t, float64(40*time.Millisecond), float64(st.Jitter), float64(time.Millisecond))
	require.InDelta(t, float64(DepthFactor*40*time.Millisecond), float64(st.Target), float64(time.Millisecond))
}

func TestJitterPayloadErrors(t *testing.T) {
	jb, err := New(Config{MaxFrameSamples: 160})
	require.NoError(t, err)
	h := &pionrtp.Header{SequenceNumber: 1, PayloadType: audio.PayloadTypePCMA}
	tests := []struct {
		name    string
		pt      uint8
		payload []byte
	}{
		{"empty", audio.PayloadTypePCMA, nil},
		{"unknown payload type", 96, make([]byte, 160)},
		{"too many samples", audio.PayloadTypePCMA, make([]byte, 161)},
	}
	for _, tc := range tests {
		h.PayloadType = tc.pt
		err := jb.Push(h, tc.payload, jbT0)
		require.ErrorIsf(t, err, ErrPayload, tc.name)
	}
	require.Zero(t, jb.Stats().Received)
	// A good packet after the errors still works.
	h.PayloadType = audio.PayloadTypePCMA
	require.NoError(t, jb.Push(h, make([]byte, 160), jbT0))
	_, st := jb.Pop(jbT0.Add(time.Second), nil)
	require.Equal(t, Played, st)
}

func TestJitterConfigErrors(t *testing.T) {
	tests := []Config{
		{FrameDuration: time.Microsecond},
		{MinDepth: -1},
		{MinDepth: 100 * time.Millisecond, MaxDepth: 50 * time.Millisecond},
		{Capacity: 5},
		{Capacity: MaxCapacity + 1},
		{MaxFrameSamples: -1},
	}
	for _, cfg := range tests {
		_, err := New(cfg)
		require.ErrorIsf(t, err, ErrConfig, "%+v", cfg)
	}
	jb, err := New(Config{MinDepth: 300 * time.Millisecond})
	require.NoError(t, err, "MaxDepth defaults to at least MinDepth")
	require.Equal(t, 300*time.Millisecond, jb.Stats().Target)
}

func TestJitterReset(t *testing.T) {
	got, jb := jbRun(t, Config{}, jbSteady(0, 0, 0, 5), 4)
	require.Equal(t, jbTokens("E E P0 P1"), got)
	jb.Reset()
	require.Equal(t, Stats{Target: DefaultMinDepth}, jb.Stats())
	_, st := jb.Pop(jbT0.Add(time.Hour), nil)
	require.Equal(t, Empty, st)
}

// Steady state: Push (with G.711 decoding) and Pop allocate nothing once the
// slots have held a packet.
func TestJitterZeroAllocs(t *testing.T) {
	jb, err := New(Config{})
	require.NoError(t, err)
	payload := g711.EncodeULaw(nil, make([]int16, audio.FrameSamples))
	frame := make([]int16, 0, audio.FrameSamples)
	h := pionrtp.Header{PayloadType: audio.PayloadTypePCMU}
	now := jbT0
	step := func() {
		h.SequenceNumber++
		h.Timestamp += audio.FrameSamples
		now = now.Add(audio.FrameDuration)
		if err := jb.Push(&h, payload, now); err != nil {
			panic(err)
		}
		frame, _ = jb.Pop(now, frame[:0])
	}
	for range 2 * DefaultCapacity {
		step()
	}
	require.Zero(t, testing.AllocsPerRun(200, step))
	require.Positive(t, jb.Stats().Played)
}

func BenchmarkJitterPushPop(b *testing.B) {
	jb, err := New(Config{})
	require.NoError(b, err)
	payload := g711.EncodeULaw(nil, make([]int16, audio.FrameSamples))
	frame := make([]int16, 0, audio.FrameSamples)
	h := pionrtp.Header{PayloadType: audio.PayloadTypePCMU}
	now := jbT0
	b.ReportAllocs()
	for b.Loop() {
		h.SequenceNumber++
		h.Timestamp += audio.FrameSamples
		now = now.Add(audio.FrameDuration)
		_ = jb.Push(&h, payload, now)
		frame, _ = jb.Pop(now, frame[:0])
	}
}

// RFC 4733 events in the audio stream take sequence numbers the buffer
// skips: they are not lost audio, not concealed, not received frames.
func TestJitterSkipEvents(t *testing.T) {
	// events returns n event packets of one digit from seq0: timestamp ts,
	// one per 20 ms from at0, the last three (the end packet and its two
	// retransmissions, RFC 4733 §2.5.1.4) at once, each with its own
	// sequence number.
	events := func(seq0 uint16, ts uint32, at0, n int) []jbPkt {
		var p []jbPkt
		for i := range n {
			p = append(p, jbPkt{seq: seq0 + uint16(i), ts: ts, at: at0 + 20*min(i, n-3), skip: true})
		}
		return p
	}
	tests := []struct {
		name  string
		pkts  []jbPkt
		pops  int
		want  string
		stats Stats
	}{
		{
			name: "digit between talkspurts",
			pkts: slices.Concat(jbSteady(0, 1000, 0, 5), events(5, 1800, 100, 6),
				jbSteady(11, 1000+14*audio.FrameSamples, 180, 5)),
			pops:  17,
			want:  "E E P0 P1 P2 P3 P4 E E E E P11 P12 P13 P14 P15 C",
			stats: Stats{Received: 10, Played: 10, Underruns: 1, Concealed: 1},
		},
		{
			name:  "call starts with a digit",
			pkts:  slices.Concat(events(0, 500, 0, 5), jbSteady(5, 500+8*audio.FrameSamples, 60, 5)),
			pops:  11,
			want:  "E E E E E P5 P6 P7 P8 P9 C",
			stats: Stats{Received: 5, Played: 5, Concealed: 1},
		},
		{
			name: "digit while audio is buffered, events out of order",
			pkts: func() []jbPkt {
				p := slices.Concat(jbSteady(0, 1000, 0, 4), events(4, 1640, 80, 4), jbSteady(8, 1000+8*audio.FrameSamples, 140, 4))
				p[5].at, p[6].at = 101, 100
				return p
			}(),
			pops:  14,
			want:  "E E P0 P1 P2 P3 E E E P8 P9 P10 P11 C",
			stats: Stats{Received: 8, Played: 8, Underruns: 1, Concealed: 1},
		},
		{
			name: "a lost event packet is lost, the others are not",
			pkts: func() []jbPkt {
				p := slices.Concat(jbSteady(0, 1000, 0, 4), events(4, 1640, 80, 5), jbSteady(9, 1000+9*audio.FrameSamples, 160, 4))
				return slices.Delete(p, 5, 6) // seq 5
			}(),
			pops:  15,
			want:  "E E P0 P1 P2 P3 E E E E P9 P10 P11 P12 C",
			stats: Stats{Received: 8, Played: 8, Lost: 1, Underruns: 1, Concealed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, jb := jbRun(t, Config{}, tt.pkts, tt.pops)
			require.Equal(t, jbTokens(tt.want), got)
			st := jb.Stats()
			st.Depth, st.Target, st.Jitter, st.JitterUnits = 0, 0, 0, 0
			require.Equal(t, tt.stats, st)
		})
	}
}
