package ua_test

// Our subscriptions against a scripted notifier: NOTIFY before the 2xx,
// a forked SUBSCRIBE, failed refreshes, a missing NOTIFY, bad NOTIFYs.

import (
	"context"
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

// served is a request the scripted peer got, answered by the test.
type served struct {
	w   transaction.ResponseWriter
	req *sip.Request
}

// scripted is a raw peer at 192.0.2.7 that hands each request to the
// test, which answers it with w.
func scripted(t *testing.T, n *memnet.Network) (*rawPeer, chan served) {
	t.Helper()
	ch := make(chan served, 8)
	p := newRawPeer(t, n, "192.0.2.7:5060", func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
		ch <- served{w, req}
		<-ctx.Done() // the transaction ends once answered
	}, nil)
	return p, ch
}

// notifierDialog answers a SUBSCRIBE 200 with tag (when send is set) and
// returns the notifier's dialog for that tag.
func notifierDialog(t *testing.T, s served, tag string, expires string, send bool) *dialog.Dialog {
	t.Helper()
	res := sip.NewResponseTag(s.req, sip.StatusOK, "", tag)
	ct, _ := sip.ParseAddress("<sip:notifier@192.0.2.7:5060>")
	dialog.PrepareResponse(s.req, res, tag, ct)
	res.Set("Expires", expires)
	d, err := dialog.NewUAS(s.req, res)
	require.NoError(t, err)
	if send {
		require.NoError(t, s.w.Respond(res))
	}
	return d
}

// sendNotify sends a NOTIFY in d with state and body and returns the
// status it got.
func sendNotify(t *testing.T, p *rawPeer, d *dialog.Dialog, event, state, body string) int {
	t.Helper()
	req, err := d.NewRequest(sip.NOTIFY, []byte(body), "text/plain")
	require.NoError(t, err)
	req.Set("Event", event)
	if state != "" {
		req.Set("Subscription-State", state)
	}
	return rawSend(t, p, req).StatusCode
}

// subscribeAsync starts a subscription from ua a to the scripted peer.
func subscribeAsync(t *testing.T, a *ua.UA, opts ua.SubscribeOptions) (func() (*ua.Subscription, error), chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	var s *ua.Subscription
	var err error
	go func() {
		defer close(done)
		s, err = a.Subscribe(context.Background(), "sip:carol@192.0.2.7:5060", opts)
	}()
	return func() (*ua.Subscription, error) {
		recv(t, done, 10*time.Second, "Subscribe returns")
		return s, err
	}, done
}

func TestSubscriberNotifyBefore2xxAndForks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{})
		peer, reqs := scripted(t, n)
		var got notes
		result, _ := subscribeAsync(t, a, ua.SubscribeOptions{Event: "x-test", Expires: time.Hour, OnNotify: got.on})
		sub := recv(t, reqs, time.Second, "SUBSCRIBE")
		d1 := notifierDialog(t, sub, "n1", "600", false)
		require.Equal(t, 200, sendNotify(t, peer, d1, "x-test", "active;expires=600", "one"), "NOTIFY before the 2xx")
		notifierDialog(t, sub, "n1", "600", true)
		s, err := result()
		require.NoError(t, err)
		require.Equal(t, dialog.SubActive, s.State())

		d2 := notifierDialog(t, sub, "n2", "600", false)
		require.Equal(t, 200, sendNotify(t, peer, d2, "x-test", "pending;expires=600", "two"), "another branch of the fork")
		synctest.Wait() // OnNotify runs once the NOTIFY is answered
		all := got.all()
		require.Len(t, all, 2)
		require.Equal(t, "n1", all[0].Notifier)
		require.Equal(t, "n2", all[1].Notifier)

		require.Equal(t, 200, sendNotify(t, peer, d1, "x-test", "terminated;reason=noresource", ""))
		synctest.Wait()
		require.Nil(t, s.Err(), "one notifier is left")
		require.Equal(t, dialog.SubPending, s.State())
		require.Equal(t, 200, sendNotify(t, peer, d2, "x-test", "terminated;reason=rejected", ""))
		synctest.Wait()
		var te *ua.TerminatedError
		require.ErrorAs(t, s.Err(), &te)
		require.Equal(t, dialog.ReasonRejected, te.State.Reason)
		require.Equal(t, 481, sendNotify(t, peer, d2, "x-test", "active;expires=60", ""), "the dialog is gone")
	})
}

// NOTIFYs that cannot be taken: another package (489), no
// Subscription-State (400), no subscription at all (481).
func TestSubscriberRefusesBadNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{})
		peer, reqs := scripted(t, n)
		result, _ := subscribeAsync(t, a, ua.SubscribeOptions{Event: "x-test;id=4"})
		sub := recv(t, reqs, time.Second, "SUBSCRIBE")
		require.Equal(t, "x-test;id=4", sub.req.Header("Event"))
		d := notifierDialog(t, sub, "n1", "600", true)
		s, err := result()
		require.NoError(t, err)
		require.Equal(t, 489, sendNotify(t, peer, d, "x-test", "active;expires=60", ""), "id differs")
		require.Equal(t, 489, sendNotify(t, peer, d, "presence;id=4", "active;expires=60", ""))
		require.Equal(t, 400, sendNotify(t, peer, d, "x-test;id=4", "", ""))
		require.Equal(t, 200, sendNotify(t, peer, d, "X-Test;id=4", "active;expires=60", ""))
		require.Equal(t, dialog.SubActive, s.State())

		stray := rawRequest(sip.NOTIFY, "sip:bob@192.0.2.2:5060")
		stray.SetTo(sip.Address{URI: stray.URI, Params: ";tag=nobody"})
		stray.Set("Event", "x-test")
		stray.Set("Subscription-State", "active")
		require.Equal(t, 481, rawSend(t, peer, stray).StatusCode)
	})
}

// Refreshes at half the lease; a refresh refused (500) leaves the lease to
// run out, a 481 ends the subscription at once; no NOTIFY within 64·T1
// ends it too.
func TestSubscriberLease(t *testing.T) {
	tests := []struct {
		name    string
		notify  bool
		refresh int // status of the refresh; 0: not answered
		at      time.Duration
		want    error
	}{
		{"refresh refused", true, 500, 60 * time.Second, ua.ErrSubscriptionExpired},
		{"refresh 481", true, 481, 30 * time.Second, ua.ErrDialogTerminated},
		{"no NOTIFY", false, 0, 32 * time.Second, ua.ErrNoNotify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				a, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{})
				peer, reqs := scripted(t, n)
				start := time.Now()
				result, _ := subscribeAsync(t, a, ua.SubscribeOptions{Event: "x-test", Expires: time.Hour})
				sub := recv(t, reqs, time.Second, "SUBSCRIBE")
				d := notifierDialog(t, sub, "n1", "60", true)
				s, err := result()
				require.NoError(t, err)
				if tt.notify {
					require.Equal(t, 200, sendNotify(t, peer, d, "x-test", "active;expires=60", ""))
				}
				if tt.refresh != 0 {
					r := recv(t, reqs, time.Minute, "refresh")
					require.Equal(t, 30*time.Second, time.Since(start).Round(time.Second), "refresh at half the lease")
					require.Equal(t, "3600", r.req.Header("Expires"))
					require.NoError(t, r.w.Respond(sip.NewResponseTag(r.req, tt.refresh, "", "n1")))
				}
				recv(t, doneOf(s.Done()), 2*time.Minute, "end")
				require.ErrorIs(t, s.Err(), tt.want)
				require.Equal(t, tt.at, time.Since(start).Round(time.Second))
			})
		})
	}
}

// A SUBSCRIBE refused ends at once with the response.
func TestSubscribeRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{})
		_, reqs := scripted(t, n)
		result, _ := subscribeAsync(t, a, ua.SubscribeOptions{Event: "x-test"})
		sub := recv(t, reqs, time.Second, "SUBSCRIBE")
		require.NoError(t, sub.w.Respond(sip.NewResponse(sub.req, sip.StatusBadEvent, "")))
		_, err := result()
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 489, se.Code())

		_, err = a.Subscribe(t.Context(), "sip:carol@192.0.2.7:5060", ua.SubscribeOptions{})
		require.ErrorIs(t, err, ua.ErrBadEvent)
	})
}
