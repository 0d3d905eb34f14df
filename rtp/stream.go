package rtp

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dialtone/dialtone/rtp/jitter"
)

// FrameSource produces audio frame by frame: 16-bit linear PCM at
// audio.SampleRate, appended to dst. ToneGenerator, SilenceSource and
// wav.Reader are frame sources. A source signals its end with io.EOF (a
// final short frame may come with a nil error before it).
type FrameSource interface {
	ReadFrame(dst []int16) ([]int16, error)
}

// FrameSink consumes audio: 16-bit linear PCM at audio.SampleRate.
// wav.Writer is a frame sink.
type FrameSink interface {
	WriteSamples(samples []int16) error
}

// Stream errors.
var (
	// ErrFrameSize reports a frame longer than the session's frame size
	// (the negotiated ptime at 8 kHz).
	ErrFrameSize = errors.New("rtp: audio frame larger than the frame size")
)

// frameRing is a fixed-capacity FIFO of audio frames stored in memory
// allocated once, so that queueing and dequeueing frames does not allocate.
// The memory holds frames of the largest size the session may move; resize
// packs the slots at the size of the current frames, so that a ring's
// frames lie together (a 20 ms G.711 frame uses a sixth of a 120 ms slot,
// and a thousand sessions' rings spread over every slot's page cost the
// engine cache and TLB misses at each copy).
type frameRing struct {
	data     []int16
	lens     []int
	slotSize int // samples a slot holds now, at most maxSlot
	head, n  int
}

// newFrameRing makes a ring of slots frames of up to maxSlot samples.
func newFrameRing(slots, maxSlot int) frameRing {
	return frameRing{data: make([]int16, slots*maxSlot), lens: make([]int, slots), slotSize: maxSlot}
}

// maxSlot is the largest slot size the ring's memory allows (0 for the
// zero ring).
func (r *frameRing) maxSlot() int {
	if len(r.lens) == 0 {
		return 0
	}
	return len(r.data) / len(r.lens)
}

// resize empties the ring and packs its slots at size samples, at most
// maxSlot.
func (r *frameRing) resize(size int) {
	r.reset()
	r.slotSize = min(max(size, 1), r.maxSlot())
}

func (r *frameRing) len() int { return r.n }

func (r *frameRing) full() bool { return r.n == len(r.lens) }

func (r *frameRing) reset() { r.head, r.n = 0, 0 }

// push appends a frame, zero-padded to pad samples. When the ring is full it
// fails, or with overwrite drops the oldest frame and reports that it did.
func (r *frameRing) push(samples []int16, pad int, overwrite bool) (ok, dropped bool) {
	if r.full() {
		if !overwrite {
			return false, false
		}
		r.head = (r.head + 1) % len(r.lens)
		r.n--
		dropped = true
	}
	i := (r.head + r.n) % len(r.lens)
	slot := r.data[i*r.slotSize : (i+1)*r.slotSize]
	n := min(len(samples), len(slot))
	if n > 0 && &samples[0] != &slot[0] {
		copy(slot, samples) // a frame built in tail's memory is there already
	}
	l := max(n, min(pad, r.slotSize))
	clear(slot[n:l])
	r.lens[i] = l
	r.n++
	return true, dropped
}

// tail returns the memory of the slot that the next push fills (when the
// ring is full, the oldest frame's, which that push drops), empty with room
// for a slot's samples: a producer builds its frame there, and push then
// finds it in place and copies nothing. A frame built there is lost by any
// pop or push before its own.
func (r *frameRing) tail() []int16 {
	i := (r.head + r.n) % len(r.lens)
	return r.data[i*r.slotSize : i*r.slotSize : (i+1)*r.slotSize]
}

// pop appends the oldest frame to dst.
func (r *frameRing) pop(dst []int16) ([]int16, bool) {
	f, ok := r.popInPlace()
	return append(dst, f...), ok
}

// popInPlace removes the oldest frame and returns it in the ring's memory,
// where it stays unchanged until the next push.
func (r *frameRing) popInPlace() ([]int16, bool) {
	if r.n == 0 {
		return nil, false
	}
	i := r.head
	f := r.data[i*r.slotSize : i*r.slotSize+r.lens[i] : (i+1)*r.slotSize]
	r.head = (r.head + 1) % len(r.lens)
	r.n--
	return f, true
}

// FrameSamples returns the number of samples in one frame: the negotiated
// ptime at SampleRate (160 for 20 ms of G.711, 320 for 20 ms of G.722,
// 960 for 20 ms of Opus, or as SessionConfig.HostSampleRate fixes).
func (s *Session) FrameSamples() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostFrameSamples
}

// SampleRate returns the rate in Hz of the audio WriteFrame takes and
// ReadFrame gives: 8000 for G.711, 16000 for G.722 (whose RTP clock is
// still 8000, RFC 3551 §4.5.2), 48000 for Opus, changing with SetRemote's
// codec; or SessionConfig.HostSampleRate when set, whatever the codec.
func (s *Session) SampleRate() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostRate
}

// WriteFrame queues one frame of audio for the pacing sender, which sends
// one frame per ptime. A frame shorter than FrameSamples is padded with
// silence; a longer one gives ErrFrameSize. When the queue
// (SessionConfig.SendQueueFrames) is full, WriteFrame waits for room, so a
// loop writing frames from a file runs at the pace of the call; ctx bounds
// that wait. Frames queued while the session may not send (no remote, hold,
// a DTMF digit playing) are discarded at their send time, so the queue keeps
// its real-time pace. samples is copied; WriteFrame does not allocate.
// It returns ErrSessionClosed after Close.
func (s *Session) WriteFrame(ctx context.Context, samples []int16) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrSessionClosed
		}
		if fs := s.hostFrameSamples; len(samples) > fs {
			s.mu.Unlock()
			return fmt.Errorf("%w: %d samples, frame is %d", ErrFrameSize, len(samples), fs)
		}
		ok, _ := s.tx.q.push(samples, s.hostFrameSamples, false)
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-s.txSpace:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return ErrSessionClosed
		}
	}
}

// ReadFrame appends the next frame of received audio to dst and returns the
// extended slice. The session plays out one frame per ptime from its jitter
// buffer, whether or not anyone reads: silence while nothing is received,
// concealment for lost packets. Frames wait in a queue of
// SessionConfig.RecvQueueFrames; a reader that falls further behind loses
// the oldest (SessionStats.PlayoutOverruns). ReadFrame waits for the next
// frame; ctx bounds the wait. It does not allocate when dst has room for a
// frame. One goroutine at a time should read. It returns ErrSessionClosed
// after Close.
func (s *Session) ReadFrame(ctx context.Context, dst []int16) ([]int16, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return dst, ErrSessionClosed
		}
		out, ok := s.rx.q.pop(dst)
		s.mu.Unlock()
		if ok {
			return out, nil
		}
		select {
		case <-s.rxReady:
		case <-ctx.Done():
			return dst, ctx.Err()
		case <-s.quit:
			return dst, ErrSessionClosed
		}
	}
}

// Play sends the audio of src, regrouped into frames of FrameSamples (the
// last one padded with silence), and returns once src has ended (io.EOF) and
// the queued frames have been sent, or with the first error of src, of
// WriteFrame or of ctx. A source that returns neither samples nor an error
// twice in a row gives io.ErrNoProgress.
func (s *Session) Play(ctx context.Context, src FrameSource) error {
	acc := make([]int16, 0, 2*jitter.DefaultMaxFrameSamples)
	eof := false
	for {
		fs := s.FrameSamples()
		idle := 0
		for len(acc) < fs && !eof {
			before := len(acc)
			var err error
			acc, err = src.ReadFrame(acc)
			switch {
			case errors.Is(err, io.EOF):
				eof = true
			case err != nil:
				return err
			case len(acc) == before:
				if idle++; idle > 1 {
					return io.ErrNoProgress
				}
			}
		}
		if len(acc) == 0 {
			return s.drain(ctx)
		}
		n := min(fs, len(acc))
		if err := s.WriteFrame(ctx, acc[:n]); err != nil {
			return err
		}
		acc = acc[:copy(acc, acc[n:])]
	}
}

// drain waits until the send queue is empty.
func (s *Session) drain(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, closed := s.tx.q.len(), s.closed
		s.mu.Unlock()
		switch {
		case closed:
			return ErrSessionClosed
		case n == 0:
			return nil
		}
		select {
		case <-s.txSpace:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return ErrSessionClosed
		}
	}
}

// Record writes every received frame to dst, in real time, until ctx ends
// or the session closes, and returns the reason (ctx's error or
// ErrSessionClosed), or the first error of dst. It reads through ReadFrame,
// so it should not run alongside another reader.
func (s *Session) Record(ctx context.Context, dst FrameSink) error {
	buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
	for {
		frame, err := s.ReadFrame(ctx, buf[:0])
		if err != nil {
			return err
		}
		if err := dst.WriteSamples(frame); err != nil {
			return err
		}
	}
}

// PollFrame is ReadFrame without the wait, for a caller on the media clock
// (a Ticker): it appends the oldest played-out frame to dst when one is
// waiting, and returns how many were waiting before it took one (0: none,
// dst unchanged). It returns ErrSessionClosed after Close.
func (s *Session) PollFrame(dst []int16) ([]int16, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dst, 0, ErrSessionClosed
	}
	n := s.rx.q.len()
	out, _ := s.rx.q.pop(dst)
	return out, n, nil
}

// PushFrame is WriteFrame without the wait, for a caller on the media
// clock: when the send queue is full it drops the oldest queued frame
// (the freshest audio goes out) and reports dropped. A frame longer than
// FrameSamples gives ErrFrameSize; after Close, ErrSessionClosed.
func (s *Session) PushFrame(samples []int16) (dropped bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrSessionClosed
	}
	if fs := s.hostFrameSamples; len(samples) > fs {
		return false, fmt.Errorf("%w: %d samples, frame is %d", ErrFrameSize, len(samples), fs)
	}
	_, dropped = s.tx.q.push(samples, s.hostFrameSamples, true)
	return dropped, nil
}
