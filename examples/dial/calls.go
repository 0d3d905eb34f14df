package main

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/ua"
)

// caller runs what the flags ask of each answered call, incoming or
// outgoing: recording, playing, DTMF, hold and resume, hang-up. Every
// goroutine it starts belongs to wg and ends with the call or ctx.
type caller struct {
	o      *options
	ctx    context.Context
	wg     *sync.WaitGroup
	printf func(string, ...any)

	mu       sync.Mutex
	recorded bool // one recording: the first call's
}

// answer answers an incoming call and starts its actions.
func (k *caller) answer(ic *ua.IncomingCall) {
	c, err := ic.Answer(k.o.fixedSDP)
	if err != nil {
		k.printf("answer failed call=%s: %v", ic.CallID(), err)
		return
	}
	k.started(c)
}

// started starts the actions of an answered call.
func (k *caller) started(c *ua.Call) {
	o, ctx := k.o, k.ctx
	answeredAt := time.Now()
	k.mu.Lock()
	rec := o.recordTo != "" && !k.recorded
	k.recorded = k.recorded || rec
	k.mu.Unlock()
	if rec {
		k.wg.Go(func() { record(ctx, c, o.recordTo, k.printf) })
	}
	if o.play != "" || o.dtmf != "" {
		k.wg.Go(func() {
			k.send(c, answeredAt)
			if o.hangupAfterPlay {
				k.hangup(c)
			}
		})
	}
	if o.holdAfter > 0 {
		k.wg.Go(func() { k.holdResume(c) })
	}
	if o.hangupAfter > 0 {
		k.wg.Go(func() {
			if k.wait(c, o.hangupAfter) {
				k.hangup(c)
			}
		})
	}
}

// wait waits d; false when the call or the program ended first.
func (k *caller) wait(c *ua.Call, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.Done():
	case <-k.ctx.Done():
	}
	return false
}

// hangup hangs c up and waits for the answer to the BYE, at most
// cli.ShutdownTimeout.
func (k *caller) hangup(c *ua.Call) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(k.ctx), cli.ShutdownTimeout)
	defer cancel()
	if err := c.Hangup(ctx); err != nil && !errors.Is(err, ua.ErrCallEnded) {
		k.printf("hang-up call=%s: %v", c.CallID(), err)
	}
}

// holdResume puts the peer on hold after -hold-after, then off hold
// -resume-after later.
func (k *caller) holdResume(c *ua.Call) {
	if !k.wait(c, k.o.holdAfter) {
		return
	}
	if err := c.Hold(k.ctx); err != nil {
		k.printf("hold failed call=%s: %v", c.CallID(), err)
		return
	}
	k.printf("on hold call=%s: the peer was told to stop sending (a=sendonly)", c.CallID())
	if k.o.resumeAfter <= 0 || !k.wait(c, k.o.resumeAfter) {
		return
	}
	if err := c.Resume(k.ctx); err != nil {
		k.printf("resume failed call=%s: %v", c.CallID(), err)
		return
	}
	k.printf("resumed call=%s (a=sendrecv)", c.CallID())
}

// send plays the -play file (if any), then sends the -dtmf digits (if
// any), not before -dtmf-after has passed since answeredAt.
func (k *caller) send(c *ua.Call, answeredAt time.Time) {
	ctx, o, printf := k.ctx, k.o, k.printf
	s := c.Media()
	if o.play != "" && s != nil {
		f, err := os.Open(o.play)
		if err != nil {
			printf("play failed: %v", err)
			return
		}
		defer f.Close()
		r, err := wav.NewReader(f)
		if err == nil {
			err = r.SetOutputRate(s.SampleRate()) // 16 kHz on a G.722 call
		}
		if err != nil {
			printf("play failed: %v", err)
			return
		}
		start := time.Now()
		err = s.Play(ctx, r)
		if err != nil {
			printf("play stopped file=%s after %.1f s: %s", o.play, time.Since(start).Seconds(), endedWhy(c, err))
			return
		}
		printf("played file=%s seconds=%.1f", o.play, time.Since(start).Seconds())
	}
	if o.dtmf == "" {
		return
	}
	if !k.wait(c, time.Until(answeredAt.Add(o.dtmfAfter))) {
		return
	}
	// One digit at a time, so that a call ended by the last digit (an
	// IVR's #) says which digits went out.
	for i, d := range o.dtmf {
		if i > 0 && !k.wait(c, dtmf.DefaultPause) {
			printf("DTMF %s: %s sent, then %s call=%s", o.dtmf, o.dtmf[:i], endedWhy(c, rtp.ErrSessionClosed), c.CallID())
			return
		}
		err := c.SendDTMF(ctx, string(d))
		switch {
		case err == nil:
			continue
		case !callEnded(err):
			printf("DTMF %s not sent call=%s: %v", o.dtmf[i:], c.CallID(), err)
		case i == 0:
			printf("DTMF %s not sent call=%s: %s", o.dtmf, c.CallID(), endedWhy(c, err))
		default:
			printf("DTMF %s: %s sent, then %s during %c call=%s", o.dtmf, o.dtmf[:i], endedWhy(c, err), d, c.CallID())
		}
		return
	}
	printf("DTMF %s sent call=%s", o.dtmf, c.CallID())
}

// callEnded reports whether err means that the call (or the program)
// ended under a media operation, rather than that the operation failed.
func callEnded(err error) bool {
	return errors.Is(err, rtp.ErrSessionClosed) || errors.Is(err, ua.ErrCallEnded) || errors.Is(err, context.Canceled)
}

// endedWhy says why media stopped: the call's end, in words, or the error.
func endedWhy(c *ua.Call, err error) string {
	if !callEnded(err) {
		return err.Error()
	}
	if cerr := c.Err(); cerr != nil {
		return "the call ended (" + cli.EndReason(ua.Event{Call: c, Err: cerr}) + ")"
	}
	return "the call ended"
}

// record writes the call's received audio to the WAV file name until the
// call ends.
func record(ctx context.Context, c *ua.Call, name string, printf func(string, ...any)) {
	s := c.Media()
	if s == nil {
		return
	}
	f, err := os.Create(name)
	if err != nil {
		printf("record failed: %v", err)
		return
	}
	w, err := wav.NewWriterRate(f, s.SampleRate()) // 16 kHz on a G.722 call
	if err != nil {
		f.Close()
		printf("record failed: %v", err)
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Done():
		case <-rctx.Done():
		}
		cancel()
	}()
	err = s.Record(rctx, w) // ends with the call: ctx's error or rtp.ErrSessionClosed
	if errors.Is(err, rtp.ErrSessionClosed) || errors.Is(err, context.Canceled) {
		err = nil // the call ended: the normal end of a recording
	}
	err = errors.Join(err, w.Close(), f.Close())
	st := s.Stats()
	if err != nil {
		printf("recording failed file=%s: %v", name, err)
		return
	}
	printf("recorded file=%s rx=%d lost=%d jitter=%s", name, st.PacketsReceived, st.PacketsLost, st.Jitter)
}
