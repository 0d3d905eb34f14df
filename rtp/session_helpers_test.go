package rtp_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/jitter"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testPorts returns an allocator over a range of its own per test, so that
// parallel test binaries rarely collide (collisions are retried anyway).
func testPorts(t testing.TB) *rtp.PortAllocator {
	t.Helper()
	a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 21000, Max: 29000})
	require.NoError(t, err)
	return a
}

// newTestSession opens a session on loopback and closes it at the end of
// the test.
func newTestSession(t testing.TB, cfg rtp.SessionConfig) *rtp.Session {
	t.Helper()
	if !cfg.LocalAddr.IsValid() {
		cfg.LocalAddr = loopback
	}
	if cfg.RecvQueueFrames == 0 {
		cfg.RecvQueueFrames = testRecvQueue // reads pace the tests: see elapse
	}
	s, err := rtp.NewSession(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// negotiate runs an offer/answer exchange between a and b through two
// Negotiators, as package ua does, and returns each side's MediaParams.
func negotiate(t testing.TB, a, b *rtp.Session, mux bool) (pa, pb sdp.MediaParams) {
	t.Helper()
	na, err := sdp.NewNegotiator(sdp.Config{Addr: loopback, Port: a.LocalAddr().Port(), RTCPMux: mux})
	require.NoError(t, err)
	nb, err := sdp.NewNegotiator(sdp.Config{Addr: loopback, Port: b.LocalAddr().Port(), RTCPMux: mux})
	require.NoError(t, err)
	offer, err := na.CreateOffer()
	require.NoError(t, err)
	answer, pb, err := nb.Answer(offer)
	require.NoError(t, err)
	pa, err = na.ApplyAnswer(answer)
	require.NoError(t, err)
	return pa, pb
}

// connect negotiates and applies the result to both sessions.
func connect(t testing.TB, a, b *rtp.Session, mux bool) (pa, pb sdp.MediaParams) {
	t.Helper()
	pa, pb = negotiate(t, a, b, mux)
	require.NoError(t, a.SetRemote(pa))
	require.NoError(t, b.SetRemote(pb))
	return pa, pb
}

// testCtx returns a context that bounds a test's waits on real sockets.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor reads frames from s (one per ptime, so it paces the loop in real
// time without sleeping) until cond holds; it fails the test when ctx ends
// first.
func waitFor(ctx context.Context, t testing.TB, s *rtp.Session, what string, cond func() bool) {
	t.Helper()
	buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
	for !cond() {
		_, err := s.ReadFrame(ctx, buf[:0])
		require.NoError(t, err, "waiting for %s", what)
	}
}

// testRecvQueue is the playout queue of test sessions: short, so that
// reading frames takes real time.
const testRecvQueue = 2

// elapse returns after at least n frame periods of s have passed, by reading
// frames from it: at most testRecvQueue of them were already waiting.
func elapse(ctx context.Context, t testing.TB, s *rtp.Session, n int) {
	t.Helper()
	readFrames(ctx, t, s, n+testRecvQueue)
}

// readFrames reads n frames from s and returns their samples.
func readFrames(ctx context.Context, t testing.TB, s *rtp.Session, n int) []int16 {
	t.Helper()
	var out []int16
	for range n {
		var err error
		out, err = s.ReadFrame(ctx, out)
		require.NoError(t, err)
	}
	return out
}
