package ua_test

// Subscriptions (RFC 6665) between two UAs: subscribe, NOTIFY, refresh,
// unsubscribe, expiry, and Close.

import (
	"context"
	"sync"
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

const pkgType = "application/x-test-state"

// notes collects the NOTIFYs of a subscription.
type notes struct {
	mu  sync.Mutex
	got []*ua.Notify
}

func (n *notes) on(_ context.Context, _ *ua.Subscription, x *ua.Notify) {
	n.mu.Lock()
	n.got = append(n.got, x)
	n.mu.Unlock()
}

func (n *notes) all() []*ua.Notify {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*ua.Notify(nil), n.got...)
}

// acceptor is an OnSubscribe accepting with body "v1" and handing the
// Notifier to the test.
func acceptor(ch chan<- *ua.Notifier) func(context.Context, *ua.IncomingSubscription) {
	return func(_ context.Context, is *ua.IncomingSubscription) {
		n, err := is.Accept(pkgType, []byte("v1"))
		if err == nil {
			ch <- n
		}
	}
}

func TestSubscribeNotifyRefreshUnsubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(memnet.Config{})
		defer net.Close()
		notifiers := make(chan *ua.Notifier, 1)
		wb := newWire()
		a, _ := newUA(t, net, "192.0.2.1:5060", ua.Config{})
		b, _ := newUA(t, net, "192.0.2.2:5060", ua.Config{OnSubscribe: acceptor(notifiers), Transport: ua.TransportConfig{Tracer: wb}})
		var got notes
		s, err := a.Subscribe(t.Context(), "sip:bob@192.0.2.2:5060", ua.SubscribeOptions{
			Event: "x-test", Accept: []string{pkgType}, Expires: time.Minute, OnNotify: got.on,
		})
		require.NoError(t, err)
		n := recv(t, notifiers, time.Second, "notifier")
		synctest.Wait()
		require.Equal(t, dialog.SubActive, s.State())
		require.Len(t, got.all(), 1)
		first := got.all()[0]
		require.Equal(t, "v1", string(first.Body))
		require.Equal(t, pkgType, first.ContentType)
		require.Equal(t, dialog.SubActive, first.State.State)
		require.Equal(t, time.Minute, first.State.Expires)

		subs := wb.requests(sip.SUBSCRIBE)
		require.Len(t, subs, 1)
		require.Equal(t, "x-test", subs[0].Header("Event"))
		require.Equal(t, "60", subs[0].Header("Expires"))
		require.Equal(t, pkgType, subs[0].Header("Accept"))
		require.True(t, hasHeader(subs[0], "Supported"), "SUBSCRIBE creates a dialog: Supported")
		require.Contains(t, subs[0].Header("Allow"), "NOTIFY")

		require.NoError(t, n.Notify(t.Context(), pkgType, []byte("v2")))
		synctest.Wait()
		require.Len(t, got.all(), 2)
		require.Equal(t, "v2", string(s.Last().Body))

		// Refresh at half the lease: a SUBSCRIBE in the dialog, and the
		// notifier sends the current state again.
		time.Sleep(31 * time.Second)
		synctest.Wait()
		subs = wb.requests(sip.SUBSCRIBE)
		require.Len(t, subs, 2, "one refresh at 30 s")
		to, err := subs[1].To()
		require.NoError(t, err)
		require.NotEmpty(t, to.Tag(), "the refresh is in the dialog")
		require.Len(t, got.all(), 3)
		require.Equal(t, "v2", string(got.all()[2].Body))

		// Still alive long after the first lease: refreshed again.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Equal(t, dialog.SubActive, s.State())
		require.Nil(t, s.Err())

		require.NoError(t, s.Unsubscribe(t.Context()))
		require.ErrorIs(t, s.Err(), ua.ErrUnsubscribed)
		recv(t, doneOf(n.Done()), time.Second, "notifier end")
		require.ErrorIs(t, n.Err(), ua.ErrUnsubscribed)
		last := got.all()[len(got.all())-1]
		require.Equal(t, dialog.SubTerminated, last.State.State)
		_ = b
	})
}

func doneOf(ch <-chan struct{}) <-chan struct{} { return ch }

// The notifier ends a subscription that is not refreshed, with a NOTIFY
// terminated;reason=timeout; the subscriber, whose refreshes fail (500),
// ends it too when its lease runs out.
func TestSubscriptionExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(memnet.Config{})
		defer net.Close()
		notifiers := make(chan *ua.Notifier, 1)
		newUA(t, net, "192.0.2.2:5060", ua.Config{OnSubscribe: acceptor(notifiers), MaxSubscriptionExpires: 20 * time.Second})
		var mu sync.Mutex
		var states []string
		peer2 := newRawPeer(t, net, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			mu.Lock()
			states = append(states, req.Header("Subscription-State"))
			mu.Unlock()
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
		}, nil)
		req := rawRequest(sip.SUBSCRIBE, "sip:bob@192.0.2.2:5060")
		req.Set("Contact", "<sip:raw@192.0.2.8:5060>")
		req.Set("Event", "x-test")
		req.Set("Expires", "3600")
		res := rawSend(t, peer2, req)
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, "20", res.Header("Expires"), "bounded by MaxSubscriptionExpires")
		n := recv(t, notifiers, time.Second, "notifier")
		time.Sleep(21 * time.Second)
		synctest.Wait()
		recv(t, doneOf(n.Done()), time.Second, "notifier end")
		require.ErrorIs(t, n.Err(), ua.ErrSubscriptionExpired)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"active;expires=20", "terminated;reason=timeout"}, states)
	})
}

// Without an OnSubscribe, SUBSCRIBE gets 405 and Allow lacks it; an
// OnSubscribe that answers nothing leaves the SUBSCRIBE to 489; Reject
// sends the host's status.
func TestIncomingSubscribeRefusals(t *testing.T) {
	tests := []struct {
		name string
		on   func(context.Context, *ua.IncomingSubscription)
		want int
	}{
		{"no handler", nil, 405},
		{"unanswered", func(context.Context, *ua.IncomingSubscription) {}, 489},
		{"rejected", func(_ context.Context, is *ua.IncomingSubscription) { _ = is.Reject(403, "") }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := memnet.New(memnet.Config{})
				defer net.Close()
				newUA(t, net, "192.0.2.2:5060", ua.Config{OnSubscribe: tt.on})
				peer := newRawPeer(t, net, "192.0.2.7:5060", nil, nil)
				req := rawRequest(sip.SUBSCRIBE, "sip:bob@192.0.2.2:5060")
				req.Set("Event", "x-test")
				res := rawSend(t, peer, req)
				require.Equal(t, tt.want, res.StatusCode)
				if tt.want == 405 {
					require.NotContains(t, res.Header("Allow"), "SUBSCRIBE")
					require.Contains(t, res.Header("Allow"), "NOTIFY")
				}
			})
		})
	}
}

// Close unsubscribes our subscriptions and terminates those to us.
func TestCloseEndsSubscriptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(memnet.Config{})
		defer net.Close()
		notifiers := make(chan *ua.Notifier, 2)
		a, _ := newUA(t, net, "192.0.2.1:5060", ua.Config{OnSubscribe: acceptor(notifiers)})
		b, _ := newUA(t, net, "192.0.2.2:5060", ua.Config{OnSubscribe: acceptor(notifiers)})
		s, err := a.Subscribe(t.Context(), "sip:bob@192.0.2.2:5060", ua.SubscribeOptions{Event: "x-test"})
		require.NoError(t, err)
		toB := recv(t, notifiers, time.Second, "notifier at b")
		var got notes
		s2, err := b.Subscribe(t.Context(), "sip:alice@192.0.2.1:5060", ua.SubscribeOptions{Event: "x-test", OnNotify: got.on})
		require.NoError(t, err)
		recv(t, notifiers, time.Second, "notifier at a")

		require.NoError(t, a.Close())
		require.ErrorIs(t, s.Err(), ua.ErrUnsubscribed)
		synctest.Wait()
		require.ErrorIs(t, toB.Err(), ua.ErrUnsubscribed, "b saw a unsubscribe")
		recv(t, doneOf(s2.Done()), time.Second, "b's subscription to a ends")
		var te *ua.TerminatedError
		require.ErrorAs(t, s2.Err(), &te)
		require.Equal(t, dialog.ReasonDeactivated, te.State.Reason)
		ok, after := te.State.Resubscribe()
		require.True(t, ok)
		require.Zero(t, after)
	})
}

// A Notify right after Accept: the first NOTIFY, sent on a goroutine of
// the UA, does not put the accepted state back after the host's newer one
// (it goes only if no NOTIFY went before it), and the NOTIFYs arrive one at
// a time in CSeq order.
func TestNotifyRightAfterAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(memnet.Config{})
		defer net.Close()
		done := make(chan error, 1)
		a, _ := newUA(t, net, "192.0.2.1:5060", ua.Config{})
		newUA(t, net, "192.0.2.2:5060", ua.Config{OnSubscribe: func(ctx context.Context, is *ua.IncomingSubscription) {
			n, err := is.Accept(pkgType, []byte("v1"))
			if err != nil {
				done <- err
				return
			}
			// The callback's ctx ends with the SUBSCRIBE's transaction.
			done <- n.Notify(context.WithoutCancel(ctx), pkgType, []byte("v2"))
		}})
		var got notes
		s, err := a.Subscribe(t.Context(), "sip:bob@192.0.2.2:5060", ua.SubscribeOptions{
			Event: "x-test", Accept: []string{pkgType}, Expires: time.Minute, OnNotify: got.on})
		require.NoError(t, err)
		require.NoError(t, <-done)
		synctest.Wait()
		all := got.all()
		require.NotEmpty(t, all)
		require.Equal(t, "v2", string(all[len(all)-1].Body), "the host's state is the last")
		require.LessOrEqual(t, len(all), 2, "the first NOTIFY and the host's, at most")
		require.NoError(t, s.Unsubscribe(t.Context()))
	})
}
