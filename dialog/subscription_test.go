package dialog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

func TestParseSubscriptionState(t *testing.T) {
	tests := []struct {
		in      string
		want    dialog.SubscriptionState
		wantErr bool
		out     string
	}{
		{"active;expires=3599", dialog.SubscriptionState{State: dialog.SubActive, Expires: 3599 * time.Second}, false, "active;expires=3599"},
		{"Pending ; EXPIRES = 60", dialog.SubscriptionState{State: dialog.SubPending, Expires: time.Minute}, false, "pending;expires=60"},
		{"terminated;reason=timeout", dialog.SubscriptionState{State: dialog.SubTerminated, Reason: "timeout"}, false, "terminated;reason=timeout"},
		{"terminated;reason=Probation;retry-after=30", dialog.SubscriptionState{State: dialog.SubTerminated, Reason: "probation", RetryAfter: 30 * time.Second}, false, "terminated;reason=probation;retry-after=30"},
		{"terminated", dialog.SubscriptionState{State: dialog.SubTerminated}, false, "terminated"},
		{"x-extension;expires=5", dialog.SubscriptionState{State: dialog.SubPending, Expires: 5 * time.Second}, false, "pending;expires=5"},
		{"active;expires=-1", dialog.SubscriptionState{}, true, ""},
		{"active;expires=soon", dialog.SubscriptionState{}, true, ""},
		{"", dialog.SubscriptionState{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dialog.ParseSubscriptionState(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, dialog.ErrBadSubscriptionState)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.out, got.String())
		})
	}
}

func TestResubscribe(t *testing.T) {
	tests := []struct {
		reason string
		retry  time.Duration
		ok     bool
		after  time.Duration
	}{
		{"deactivated", 0, true, 0},
		{"timeout", 0, true, 0},
		{"probation", 20 * time.Second, true, 20 * time.Second},
		{"giveup", 0, true, 0},
		{"rejected", 0, false, 0},
		{"noresource", 0, false, 0},
		{"invariant", 0, false, 0},
		{"", 0, false, 0},
	}
	for _, tt := range tests {
		ok, after := dialog.SubscriptionState{State: dialog.SubTerminated, Reason: tt.reason, RetryAfter: tt.retry}.Resubscribe()
		require.Equal(t, tt.ok, ok, tt.reason)
		require.Equal(t, tt.after, after, tt.reason)
	}
}

func TestEventPackage(t *testing.T) {
	tests := []struct{ in, pkg, id string }{
		{"message-summary", "message-summary", ""},
		{"Dialog;id=7", "dialog", "7"},
		{" refer ; ID = 93809824", "refer", "93809824"},
		{"presence;foo=bar", "presence", ""},
	}
	for _, tt := range tests {
		pkg, id := dialog.EventPackage(tt.in)
		require.Equal(t, tt.pkg, pkg, tt.in)
		require.Equal(t, tt.id, id, tt.in)
	}
}

func subscribeAndNotify(t *testing.T, notifyTo string) (*sip.Request, *sip.Request) {
	t.Helper()
	sub, err := sip.Parse([]byte("SUBSCRIBE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKsub1\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:bob@biloxi.example.com>\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=" + aliceTag + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 7 SUBSCRIBE\r\n" +
		"Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
		"Event: message-summary\r\n" +
		"Expires: 600\r\n" +
		"Content-Length: 0\r\n\r\n"))
	require.NoError(t, err)
	notify, err := sip.Parse([]byte("NOTIFY sip:alice@pc33.atlanta.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKn1\r\n" +
		"Record-Route: <sip:p1.example.com;lr>\r\n" +
		"Max-Forwards: 69\r\n" +
		"To: Alice <sip:alice@atlanta.example.com>;tag=" + notifyTo + "\r\n" +
		"From: <sip:bob@biloxi.example.com>;tag=" + bobTag + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 NOTIFY\r\n" +
		"Contact: " + bobContact + "\r\n" +
		"Event: message-summary\r\n" +
		"Subscription-State: active;expires=600\r\n" +
		"Content-Length: 0\r\n\r\n"))
	require.NoError(t, err)
	return sub.(*sip.Request), notify.(*sip.Request)
}

// A NOTIFY makes the subscriber's dialog: its ID, route set and target
// come from the NOTIFY, its local sequence from the SUBSCRIBE, so that a
// refresh continues our CSeq and goes through the notifier's proxies.
func TestNewNotified(t *testing.T) {
	sub, notify := subscribeAndNotify(t, aliceTag)
	d, err := dialog.NewNotified(sub, notify)
	require.NoError(t, err)
	require.Equal(t, dialog.ID{CallID: callID, LocalTag: aliceTag, RemoteTag: bobTag}, d.ID())
	require.Equal(t, dialog.StateConfirmed, d.State())
	require.True(t, d.OwnsCallID())
	require.Equal(t, bobTarget, d.RemoteTarget().String())
	require.NoError(t, d.ReceiveRequest(notify), "the NOTIFY that made it is accepted")
	seq, ok := d.RemoteSeq()
	require.True(t, ok)
	require.Equal(t, uint32(1), seq)

	refresh, err := d.NewRequest(sip.SUBSCRIBE, nil, "")
	require.NoError(t, err)
	cs, err := refresh.CSeq()
	require.NoError(t, err)
	require.Equal(t, uint32(8), cs.Seq)
	require.Equal(t, bobTarget, refresh.URI.String())
	require.Equal(t, "<sip:p1.example.com;lr>", refresh.Header("Route"))
	to, err := refresh.To()
	require.NoError(t, err)
	require.Equal(t, bobTag, to.Tag())
	require.Equal(t, "<sip:alice@pc33.atlanta.example.com>", refresh.Header("Contact"))
}

func TestNewNotifiedRefusesOtherDialog(t *testing.T) {
	sub, notify := subscribeAndNotify(t, "other-tag")
	_, err := dialog.NewNotified(sub, notify)
	require.ErrorIs(t, err, dialog.ErrWrongDialog)

	sub, notify = subscribeAndNotify(t, aliceTag)
	notify.Set("From", "<sip:bob@biloxi.example.com>")
	_, err = dialog.NewNotified(sub, notify)
	require.ErrorIs(t, err, dialog.ErrNotDialogResponse)
}
