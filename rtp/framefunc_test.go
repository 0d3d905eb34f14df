package rtp_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
)

// A host on the media clock: b echoes what it plays out from its frame
// function, which may call b's own methods (it runs without the lock), and
// a hears its tone come back. After b's Close the function is not called
// again, and a new one is refused.
func TestSessionFrameFunc(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPMux: true})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPMux: true})
	connect(t, a, b, true)

	var calls, echoed atomic.Int64
	buf := make([]int16, 0, audio.FrameSamples)
	require.NoError(t, b.SetFrameFunc(func() {
		calls.Add(1)
		_ = b.Stats() // would deadlock if the function ran under b's lock
		for {
			f, waiting, err := b.PollFrame(buf[:0])
			if err != nil || waiting == 0 {
				return
			}
			if _, err := b.PushFrame(f); err == nil {
				echoed.Add(1)
			}
		}
	}))

	stop := playTone(t, ctx, a)
	heard := heardTone(t, ctx, a, 150, 25)
	stop()
	require.GreaterOrEqual(t, heard, 25, "frames of a's tone echoed by b's frame function")
	require.Positive(t, calls.Load())
	require.GreaterOrEqual(t, echoed.Load(), int64(25))

	require.NoError(t, b.Close())
	after := calls.Load()
	elapse(ctx, t, a, 5) // b would have had 5 more turns
	require.Equal(t, after, calls.Load(), "frame function called after Close")
	require.ErrorIs(t, b.SetFrameFunc(func() {}), rtp.ErrSessionClosed)
}

// Removing the frame function gives the frames back to ReadFrame.
func TestSessionFrameFuncRemoved(t *testing.T) {
	ctx := testCtx(t)
	s := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t)})
	var calls atomic.Int64
	turns := make(chan struct{}, 1)
	played := make([]int16, 0, audio.FrameSamples)
	require.NoError(t, s.SetFrameFunc(func() {
		calls.Add(1)
		select {
		case turns <- struct{}{}:
		default:
		}
		for {
			if _, waiting, err := s.PollFrame(played[:0]); err != nil || waiting == 0 {
				return
			}
		}
	}))
	for range 3 {
		select {
		case <-turns:
		case <-ctx.Done():
			t.Fatal("the frame function was not called")
		}
	}
	require.NoError(t, s.SetFrameFunc(nil))
	n := calls.Load()
	readFrames(ctx, t, s, 5) // frames reach ReadFrame again
	require.LessOrEqual(t, calls.Load(), n+1, "a turn in progress may finish; none after")
}
