package ua_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// Drain (issue 21, scale-out): new calls and OPTIONS probes get 503 with
// Retry-After, the call in progress goes on and its in-dialog requests are
// served, and Drain returns when that call ends.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 2)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls),
			Limits: ua.Limits{DrainRetryAfter: 20 * time.Second}})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)

		out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		in := recv(t, calls, time.Second, "the call at b")
		res := rawSend(t, peer, rawRequest(sip.OPTIONS, "sip:bob@192.0.2.2:5060"))
		require.Equal(t, sip.StatusOK, res.StatusCode, "before the drain")
		require.False(t, b.Draining())

		drained := make(chan error, 1)
		go func() { drained <- b.Drain(t.Context()) }()
		synctest.Wait()
		require.True(t, b.Draining())
		select {
		case err := <-drained:
			t.Fatalf("Drain returned with a call in progress: %v", err)
		default:
		}

		res = rawSend(t, peer, rawRequest(sip.OPTIONS, "sip:bob@192.0.2.2:5060"))
		require.Equal(t, sip.StatusServiceUnavailable, res.StatusCode, "the balancer's probe sees the instance down")
		require.Equal(t, "20", res.Header("Retry-After"))

		_, err = a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		var se *ua.StatusError
		require.True(t, errors.As(err, &se), "a new call is refused: %v", err)
		require.Equal(t, sip.StatusServiceUnavailable, se.Response.StatusCode)
		require.Equal(t, "20", se.Response.Header("Retry-After"))

		// The call in progress goes on: an in-dialog request is served.
		info, err := out.Request(t.Context(), sip.INFO, nil, "")
		require.NoError(t, err)
		require.Equal(t, sip.StatusOK, info.StatusCode)
		require.Equal(t, 1, b.Calls())

		require.NoError(t, in.Hangup(t.Context()))
		require.NoError(t, recv(t, drained, time.Second, "Drain's return after the last call"))
		require.Zero(t, b.Calls())
	})
}

// Drain returns ctx's error when calls outlast it, and the UA goes on
// draining.
func TestDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		_, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		recv(t, calls, time.Second, "the call at b")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		require.ErrorIs(t, b.Drain(ctx), context.DeadlineExceeded)
		require.Equal(t, 10*time.Second, time.Since(start))
		require.True(t, b.Draining())
		require.Equal(t, 1, b.Calls())
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		res := rawSend(t, peer, rawRequest(sip.OPTIONS, "sip:bob@192.0.2.2:5060"))
		require.Equal(t, sip.StatusServiceUnavailable, res.StatusCode)
		require.Equal(t, "30", res.Header("Retry-After"), "DefaultDrainRetryAfter")
	})
}

// Drain with no call returns at once.
func TestDrainIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{})
		require.NoError(t, b.Drain(t.Context()))
	})
}

// TestDrainWithEndedContext: a Drain whose context has ended returns at
// once and leaves the UA draining, so that a host can begin the stop
// before it says so and wait for it afterwards.
func TestDrainWithEndedContext(t *testing.T) {
	u := newUDPUA(t, ua.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.False(t, u.Draining())
	_ = u.Drain(ctx) // nil (no call in progress) or ctx's error: both mean begun
	require.True(t, u.Draining())
}
