package ua_test

// Early media (RFC 3261 §13.3.1.1, RFC 3264): IncomingCall.Progress(nil)
// answers the offer in a 183 from a session the callee can play into
// before it answers; the caller applies that answer and hears it. Two UAs
// on 127.0.0.1 with real RTP sockets, outside synctest, like media_test.go.

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
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

func TestEarlyMediaProgress(t *testing.T) {
	ctx := mediaCtx(t)
	loopback := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	progressed := make(chan *ua.IncomingCall, 1)
	answerNow := make(chan struct{})
	answered := make(chan *ua.Call, 1)
	errs := make(chan error, 4)
	b, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		OnCall: func(cctx context.Context, ic *ua.IncomingCall) {
			if ic.Media() != nil {
				errs <- context.Canceled // no session before Progress
			}
			if err := ic.Progress(nil); err != nil {
				errs <- err
				return
			}
			progressed <- ic
			select {
			case <-answerNow:
			case <-cctx.Done():
				return
			}
			c, err := ic.Answer(nil)
			if err != nil {
				errs <- err
				return
			}
			answered <- c
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	var mu sync.Mutex
	var early []ua.Event
	a, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				mu.Lock()
				early = append(early, e)
				mu.Unlock()
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

	dialed := make(chan *ua.Call, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{})
		if err != nil {
			errs <- err
		}
		dialed <- c
	}()
	var ic *ua.IncomingCall
	select {
	case ic = <-progressed:
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no 183")
	}
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

	close(answerNow)
	var in *ua.Call
	select {
	case in = <-answered:
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("not answered")
	}
	require.Same(t, callee, in.Media(), "Answer(nil) keeps the early session")
	c := recvReal(t, dialed, "Dial's return")
	require.Same(t, out, c)
	require.Equal(t, ua.CallEstablished, c.State())
	require.Equal(t, string(e183.SDP), string(in.LocalSDP()), "the 200 repeats the 183's answer")
	require.NoError(t, c.Hangup(ctx))
}
