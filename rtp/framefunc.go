package rtp

// SetFrameFunc has fn called on the session's engine worker after each
// turn of the session that played out audio (once per ptime; once for
// several periods when a late worker catches up), as the alternative to a
// goroutine that waits in ReadFrame and WriteFrame: fn takes the frames
// waiting with PollFrame and queues frames to send with PushFrame, the way
// a host on the media clock does (an echo, a tone or prompt player, a
// recorder filling a buffer). A frame pushed there leaves at the next frame
// period, as one written by a goroutine woken for the frame would. It
// saves that goroutine's wake-up and sleep at every frame, the larger part
// of the host's cost with many calls.
//
// fn runs without the session's lock, so it may call the session's
// non-blocking methods (PollFrame, PushFrame, Stats, FrameSamples), but it
// runs on the worker that drives a share of the engine's sessions, which
// wait while it runs: it must return within a small part of a frame period
// and must not block (no ReadFrame, WriteFrame, Play, Record, Close or I/O
// of its own). A panic in fn is not recovered. Frames not taken stay in the
// receive queue (SessionConfig.RecvQueueFrames) for ReadFrame as before;
// the two ways may be mixed, but only one should take the frames.
//
// nil removes the function. Once Close has returned, fn is not called
// again. SetFrameFunc returns ErrSessionClosed after Close.
func (s *Session) SetFrameFunc(fn func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	s.frameFn = fn
	return nil
}
