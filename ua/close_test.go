package ua_test

// Close, Shutdown and Hangup as the peer sees them: the BYE of an
// established call, the CANCEL (and 487) of a ringing one.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

// stopKind is how a test stops a UA.
type stopKind struct {
	name string
	stop func(t *testing.T, u *ua.UA) error
}

var stopKinds = []stopKind{
	{"Close", func(_ *testing.T, u *ua.UA) error { return u.Close() }},
	{"Shutdown", func(t *testing.T, u *ua.UA) error {
		// Long enough for Timer M of the answered INVITE (64·T1) and
		// Timer K of the BYE: every transaction drains.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		return u.Shutdown(ctx)
	}},
}

// Close and Shutdown hang up an established call: the peer gets a BYE
// (RFC 3261 §15.1.1) and ends its side as a remote hang-up.
func TestCloseByesEstablishedCall(t *testing.T) {
	for _, sk := range stopKinds {
		t.Run(sk.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				bw := newWire()
				a, b, out, in, _, _ := established(t, n, ua.Config{}, ua.Config{Transport: ua.TransportConfig{Tracer: bw}})
				require.Equal(t, ua.CallEstablished, in.State())
				require.Empty(t, bw.requests(sip.BYE))

				require.NoError(t, sk.stop(t, a))
				recv(t, in.Done(), time.Minute, "callee's call end")
				require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup, "the peer got a BYE")
				byes := bw.requests(sip.BYE)
				require.Len(t, byes, 1)
				require.Equal(t, out.CallID(), byes[0].CallID())
				require.ErrorIs(t, out.Err(), ua.ErrLocalHangup)
				require.Zero(t, a.Calls())
				require.Zero(t, b.Calls())
				require.NoError(t, a.Close(), "idempotent")
			})
		})
	}
}

// Shutdown returns its context's error when what it waits for does not
// come in time: here the peer never answers the BYE. The BYE still went
// out, and Shutdown returned at ctx's deadline.
func TestShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, w := newTracedPeer(t, n, "192.0.2.8:5060", func(ctx context.Context, rw transaction.ResponseWriter, req *sip.Request) {
			switch req.Method {
			case sip.INVITE:
				ok := sip.NewResponse(req, sip.StatusOK, "")
				ok.SetToTag(sip.NewTag())
				ok.Set("Contact", "<sip:peer@192.0.2.8:5060>")
				ok.SetBody([]byte(testSDP), "application/sdp")
				_ = rw.Respond(ok)
			case sip.BYE:
				<-ctx.Done() // never answered
			}
		}, nil)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		t0 := time.Now()
		require.ErrorIs(t, a.Shutdown(ctx), context.DeadlineExceeded)
		elapsed := time.Since(t0)
		require.GreaterOrEqual(t, elapsed, 2*time.Second)
		require.Less(t, elapsed, 3*time.Second, "bounded by ctx")
		byes := w.requests(sip.BYE)
		require.NotEmpty(t, byes, "the BYE went out")
		require.Equal(t, c.CallID(), byes[0].CallID())
		require.Equal(t, ua.CallEnded, c.State())
		require.ErrorIs(t, a.Shutdown(ctx), context.DeadlineExceeded, "idempotent: the first outcome")
	})
}

// ringingPeer is a raw peer that answers INVITE 180 and, once its context
// ends, 487 with the same To tag; causes gets why the context ended.
func ringingPeer(t *testing.T, n *memnet.Network, addr string) (*wire, <-chan error) {
	causes := make(chan error, 4)
	_, w := newTracedPeer(t, n, addr, func(ctx context.Context, rw transaction.ResponseWriter, req *sip.Request) {
		if req.Method != sip.INVITE {
			_ = rw.Respond(sip.NewResponse(req, sip.StatusOK, ""))
			return
		}
		tag := sip.NewTag()
		_ = rw.Respond(sip.NewResponseTag(req, sip.StatusRinging, "", tag))
		<-ctx.Done()
		causes <- context.Cause(ctx)
		_ = rw.Respond(sip.NewResponseTag(req, sip.StatusRequestTerminated, "", tag))
	}, nil)
	return w, causes
}

// dialRinging starts a Dial from u to the ringing peer at target and
// returns the call once it rings, and the channel Dial's error arrives on.
func dialRinging(t *testing.T, u *ua.UA, rings <-chan *ua.Call, target string) (*ua.Call, <-chan error) {
	t.Helper()
	dialed := make(chan error, 1)
	go func() {
		_, err := u.Dial(context.Background(), target, ua.DialOptions{SDP: []byte(testSDP)})
		dialed <- err
	}()
	return recv(t, rings, 10*time.Second, "180 Ringing"), dialed
}

// onRing is an OnEvent sending the call of each EventCallProgress.
func onRing(rings chan<- *ua.Call) func(ua.Event) {
	return func(e ua.Event) {
		if e.Kind == ua.EventCallProgress {
			select {
			case rings <- e.Call:
			default:
			}
		}
	}
}

// requireCanceled checks that the peer saw a CANCEL for the INVITE and
// that the INVITE ended 487 (RFC 3261 §9.1, §9.2).
func requireCanceled(t *testing.T, w *wire, causes <-chan error, dialed <-chan error) {
	t.Helper()
	require.ErrorIs(t, recv(t, causes, time.Minute, "INVITE context end"), transaction.ErrCanceled, "the peer got a CANCEL")
	cancels := w.requests(sip.CANCEL)
	require.Len(t, cancels, 1)
	inv := w.requests(sip.INVITE)[0]
	require.Equal(t, inv.CallID(), cancels[0].CallID())
	cs, _ := cancels[0].CSeq()
	ics, _ := inv.CSeq()
	require.Equal(t, ics.Seq, cs.Seq, "CANCEL has the INVITE's CSeq number (§9.1)")
	err := recv(t, dialed, time.Minute, "Dial's return")
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, sip.StatusRequestTerminated, se.Code(), "the INVITE ended 487")
}

// Close and Shutdown cancel an outgoing call that rings.
func TestCloseCancelsRingingCall(t *testing.T) {
	for _, sk := range stopKinds {
		t.Run(sk.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				w, causes := ringingPeer(t, n, "192.0.2.8:5060")
				rings := make(chan *ua.Call, 1)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{OnEvent: onRing(rings)})
				c, dialed := dialRinging(t, a, rings, "sip:bob@192.0.2.8:5060")
				require.Equal(t, ua.CallRinging, c.State())
				require.Equal(t, 1, a.Calls())
				require.Empty(t, w.requests(sip.CANCEL))

				err := sk.stop(t, a)
				if err != nil {
					require.ErrorIs(t, err, context.DeadlineExceeded)
				}
				requireCanceled(t, w, causes, dialed)
				require.Equal(t, ua.CallEnded, c.State())
				require.Zero(t, a.Calls())
			})
		})
	}
}

// Hangup of an outgoing call that rings sends CANCEL (RFC 3261 §15: the
// caller "SHOULD" cancel a call not answered yet); the INVITE ends 487 and
// Dial fails with it.
func TestHangupRingingCallCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		w, causes := ringingPeer(t, n, "192.0.2.8:5060")
		rings := make(chan *ua.Call, 1)
		a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{OnEvent: onRing(rings)})
		c, dialed := dialRinging(t, a, rings, "sip:bob@192.0.2.8:5060")
		require.Equal(t, ua.Outgoing, c.Direction())
		require.Equal(t, ua.CallRinging, c.State())
		require.Equal(t, dialog.ID{}, c.DialogID(), "no dialog before an answer")

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.Hangup(ctx))
		requireCanceled(t, w, causes, dialed)
		require.Equal(t, ua.CallEnded, c.State())
		recv(t, c.Done(), time.Second, "call end")
		var se *ua.StatusError
		require.ErrorAs(t, c.Err(), &se)
		require.Equal(t, 487, se.Code())
		e, ok := ra.find(ua.EventCallEnded)
		require.True(t, ok)
		require.Same(t, c, e.Call)
		require.Zero(t, a.Calls())
		require.NoError(t, c.Hangup(ctx), "hanging up an ended call does nothing")
		require.Len(t, w.requests(sip.CANCEL), 1)
	})
}

// Close refuses an incoming call still ringing (no final response yet):
// the caller gets a final response instead of waiting for Timer C.
func TestCloseRefusesRingingIncomingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		ringing := make(chan *ua.IncomingCall, 1)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			ringing <- ic
		}})
		dialed := make(chan error, 1)
		go func() {
			_, err := a.Dial(context.Background(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
			dialed <- err
		}()
		ic := recv(t, ringing, 10*time.Second, "incoming call")
		require.NoError(t, b.Close())
		require.Error(t, ic.Context().Err(), "the call's context ends with the UA")
		err := recv(t, dialed, time.Minute, "Dial's return")
		var se *ua.StatusError
		require.True(t, errors.As(err, &se), "a final response, not %v", err)
		require.Equal(t, sip.StatusTemporarilyUnavailable, se.Code())
	})
}

// Close is bounded by Limits.CloseTimeout: a peer that never ends its
// INVITE (no 487 after the CANCEL) does not hold it up, and the call ends.
func TestCloseBoundedByCloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, w := newTracedPeer(t, n, "192.0.2.8:5060", func(ctx context.Context, rw transaction.ResponseWriter, req *sip.Request) {
			_ = rw.Respond(sip.NewResponseTag(req, sip.StatusRinging, "", sip.NewTag()))
			<-ctx.Done()
			time.Sleep(time.Hour) // and never a final response
		}, nil)
		rings := make(chan *ua.Call, 1)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{OnEvent: onRing(rings), Limits: ua.Limits{CloseTimeout: 3 * time.Second}})
		c, dialed := dialRinging(t, a, rings, "sip:bob@192.0.2.8:5060")
		t0 := time.Now()
		require.NoError(t, a.Close())
		elapsed := time.Since(t0)
		require.GreaterOrEqual(t, elapsed, 3*time.Second, "waited for the INVITE's end")
		require.Less(t, elapsed, 4*time.Second, "no longer than CloseTimeout")
		require.Len(t, w.requests(sip.CANCEL), 1)
		require.Error(t, recv(t, dialed, time.Second, "Dial's return"))
		require.Equal(t, ua.CallEnded, c.State())
		require.Zero(t, a.Calls())
	})
}
