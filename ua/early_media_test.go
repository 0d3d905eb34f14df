package ua_test

// Early media (RFC 3261 §13.3.1.1, RFC 3264): IncomingCall.Progress(nil)
// answers the offer in a 183 from a session the callee can play into
// before it answers; the caller applies that answer and hears it. Two UAs
// on 127.0.0.1 with real RTP sockets, outside synctest, like media_test.go.

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// Bounds of the waits on real sockets.
const (
	mediaWait = 10 * time.Second
	mediaTick = 10 * time.Millisecond
)

// recvReal waits up to mediaWait of real time for a value on ch.
func recvReal[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(mediaWait):
		t.Fatalf("%s: nothing within %v", what, mediaWait)
	}
	var zero T
	return zero
}

// earlyCallee is a UA on 127.0.0.1 that meets each call with
// Progress(nil), a 183 from the call's session, and answers it with
// Answer(nil) only once the test calls answer.
type earlyCallee struct {
	u          *ua.UA
	progressed chan *ua.IncomingCall
	answerNow  chan struct{}
	answered   chan *ua.Call
	errs       chan error
	// mediaBeforeProgress is set if a call had a session before Progress.
	mediaBeforeProgress atomic.Bool
}

// newEarlyCallee starts an earlyCallee from cfg; its Listen, Resolver,
// Media.IP and OnCall are set here.
func newEarlyCallee(t *testing.T, cfg ua.Config) *earlyCallee {
	t.Helper()
	p := &earlyCallee{
		progressed: make(chan *ua.IncomingCall, 1),
		answerNow:  make(chan struct{}),
		answered:   make(chan *ua.Call, 1),
		errs:       make(chan error, 4),
	}
	cfg.Media.IP = netip.MustParseAddr("127.0.0.1")
	cfg.OnCall = func(cctx context.Context, ic *ua.IncomingCall) {
		if ic.Media() != nil {
			p.mediaBeforeProgress.Store(true)
		}
		if err := ic.Progress(nil); err != nil {
			p.errs <- err
			return
		}
		p.progressed <- ic
		select {
		case <-p.answerNow:
		case <-cctx.Done():
			return
		}
		c, err := ic.Answer(nil)
		if err != nil {
			p.errs <- err
			return
		}
		p.answered <- c
	}
	p.u = newLoopbackUA(t, cfg)
	return p
}

// dial has a call p with opts in the background and returns p's
// IncomingCall once p has sent its 183; Dial's call arrives on dialed.
func (p *earlyCallee) dial(ctx context.Context, t *testing.T, a *ua.UA, opts ua.DialOptions) (ic *ua.IncomingCall, dialed <-chan *ua.Call) {
	t.Helper()
	d := make(chan *ua.Call, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@"+p.u.Addrs()[0].String(), opts)
		if err != nil {
			p.errs <- err
		}
		d <- c
	}()
	select {
	case ic = <-p.progressed:
	case err := <-p.errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no 183")
	}
	return ic, d
}

// answer lets p answer the call and returns p's end of it.
func (p *earlyCallee) answer(ctx context.Context, t *testing.T) *ua.Call {
	t.Helper()
	close(p.answerNow)
	select {
	case in := <-p.answered:
		return in
	case err := <-p.errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("not answered")
	}
	return nil
}

func TestEarlyMediaProgress(t *testing.T) {
	ctx := mediaCtx(t)
	b := newEarlyCallee(t, ua.Config{})

	var mu sync.Mutex
	var early []ua.Event
	a := newLoopbackUA(t, ua.Config{
		Media: ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				mu.Lock()
				early = append(early, e)
				mu.Unlock()
			}
		},
	})

	ic, dialed := b.dial(ctx, t, a, ua.DialOptions{})
	require.False(t, b.mediaBeforeProgress.Load(), "no session before Progress")
	callee := ic.Media()
	require.NotNil(t, callee, "Progress(nil) opened the call's session")

	// The caller got the 183 with our answer and applied it.
	var e183 ua.Event
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range early {
			if e.Response.StatusCode == 183 {
				e183 = e
				return true
			}
		}
		return false
	}, mediaWait, mediaTick)
	sd, err := sdp.Parse(e183.SDP)
	require.NoError(t, err, "the 183 carries SDP")
	require.Len(t, sd.Media, 1)
	require.Equal(t, callee.LocalAddr().Port(), sd.Media[0].Port, "the answer names the callee's session")
	out := e183.Call
	require.Equal(t, ua.CallRinging, out.State())
	params, ok := out.MediaParams()
	require.True(t, ok, "the early answer applied before the 200")
	require.Equal(t, callee.LocalAddr().Port(), params.RemoteRTP.Port())

	// Early media flows from callee to caller before the answer.
	got := playAndRecord(ctx, t, callee, out.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the caller hears the early media")

	in := b.answer(ctx, t)
	require.Same(t, callee, in.Media(), "Answer(nil) keeps the early session")
	c := recvReal(t, dialed, "Dial's return")
	require.Same(t, out, c)
	require.Equal(t, ua.CallEstablished, c.State())
	require.Equal(t, string(e183.SDP), string(in.LocalSDP()), "the 200 repeats the 183's answer")
	require.NoError(t, c.Hangup(ctx))
}
