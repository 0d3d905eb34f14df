package rtp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/wav"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// pathHarness drives a session's send and receive paths without sockets or
// goroutines: frames go through WriteFrame, the tick (queue, encode,
// packetize, playout) and ReadFrame; received packets through handleRTP.
type pathHarness struct {
	s      *Session
	now    time.Time
	frame  []int16
	out    []int16
	pkts   [][]byte // a second of packets from a peer, replayed with new numbers
	h      pionrtp.Header
	from   netip.AddrPort
	seq    uint16
	ts     uint32
	digits []dtmf.Digit
	// pace, when its period is set, makes receive run the session's
	// engine turn (wake: the due tick, RTCP, the sends and the signals to
	// the host's goroutines) instead of the bare tick.
	pace pacer
}

func newPathHarness(t testing.TB) *pathHarness {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	s := testSession(t, peer)
	hs := &pathHarness{s: s, now: time.Now(), from: peer, out: make([]int16, 0, audio.FrameSamples)}
	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	hs.frame, _ = tone.ReadFrame(nil)
	for range 50 {
		f, _ := tone.ReadFrame(nil)
		p, err := g711.AppendPacket(nil, &pionrtp.Header{PayloadType: audio.PayloadTypePCMU, SSRC: 0xfeed}, g711.ULaw, f)
		require.NoError(t, err)
		hs.pkts = append(hs.pkts, p)
	}
	return hs
}

// send pushes one frame through the send path: queue, tick (encode,
// packetize and the playout of one frame), and drops the packet.
func (hs *pathHarness) send(ctx context.Context) {
	s := hs.s
	_ = s.WriteFrame(ctx, hs.frame)
	s.mu.Lock()
	s.tickLocked(hs.now, hs.now, true)
	n := len(s.tx.out)
	s.tx.out = s.tx.out[:0]
	s.mu.Unlock()
	if n != 1 {
		panic("no packet")
	}
	hs.now = hs.now.Add(audio.FrameDuration)
}

// receive pushes one packet through the receive path: header parsing,
// statistics, jitter buffer (decode), and reads the frame the tick played.
func (hs *pathHarness) receive(ctx context.Context) {
	s := hs.s
	p := hs.pkts[int(hs.seq)%len(hs.pkts)]
	// Renumber in place: sequence number and timestamp.
	p[2], p[3] = byte(hs.seq>>8), byte(hs.seq)
	p[4], p[5], p[6], p[7] = byte(hs.ts>>24), byte(hs.ts>>16), byte(hs.ts>>8), byte(hs.ts)
	hs.seq++
	hs.ts += audio.FrameSamples
	hs.digits = s.handleRTP(&hs.h, p, hs.from, hs.now, hs.digits[:0])
	if hs.pace.period > 0 {
		s.wake(hs.now, &hs.pace, nil)
	} else {
		s.mu.Lock()
		s.tickLocked(hs.now, hs.now, true)
		s.tx.out = s.tx.out[:0]
		s.mu.Unlock()
	}
	hs.out, _ = s.ReadFrame(ctx, hs.out[:0])
	hs.now = hs.now.Add(audio.FrameDuration)
}

// The send and receive paths allocate nothing in steady state.
func TestSessionPathAllocs(t *testing.T) {
	ctx := context.Background()
	hs := newPathHarness(t)
	for range 200 { // warm up: every jitter slot and buffer used once
		hs.send(ctx)
		hs.receive(ctx)
	}
	require.Zero(t, testing.AllocsPerRun(500, func() { hs.send(ctx) }), "send path")
	require.Zero(t, testing.AllocsPerRun(500, func() { hs.receive(ctx) }), "receive path")
	require.Positive(t, hs.s.Stats().Playout.Played)
	require.Greater(t, wav.ToneLevel(hs.out, 1000, audio.SampleRate), 0.03)
}

// BenchmarkSessionSendPath: one 20 ms frame from WriteFrame to a packet
// ready for the socket (queue, μ-law encode, RTP header), per op.
func BenchmarkSessionSendPath(b *testing.B) {
	ctx := context.Background()
	hs := newPathHarness(b)
	for range 200 {
		hs.send(ctx)
	}
	b.ReportAllocs()
	for b.Loop() {
		hs.send(ctx)
	}
}

// BenchmarkSessionReceivePath: one received 20 ms packet from the datagram
// to ReadFrame (header parse, RFC 3550 statistics, jitter buffer with μ-law
// decode, playout), per op.
func BenchmarkSessionReceivePath(b *testing.B) {
	ctx := context.Background()
	hs := newPathHarness(b)
	for range 200 {
		hs.receive(ctx)
	}
	b.ReportAllocs()
	for b.Loop() {
		hs.receive(ctx)
	}
}
