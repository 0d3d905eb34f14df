package ua_test

// Message waiting (RFC 3842): the message-summary body, a line's
// subscription to its voicemail, and a UA notifying one.

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

func TestParseMessageSummary(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ua.MessageSummary
		wantErr bool
	}{
		{"RFC 3842 example", "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n",
			ua.MessageSummary{Waiting: true, Account: "sip:alice@vmail.example.com",
				Classes: []ua.MessageCounts{{Class: "voice-message", New: 2, Old: 8, OldUrgent: 2}}}, false},
		{"no messages, LF only", "messages-waiting: NO\nvoice-message: 0/0\nfax-message:1/0\n",
			ua.MessageSummary{Classes: []ua.MessageCounts{{Class: "voice-message"}, {Class: "fax-message", New: 1}}}, false},
		{"message headers after a blank line", "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n\r\nTo: <sip:alice@example.com>\r\nSubject: hi\r\n",
			ua.MessageSummary{Waiting: true, Classes: []ua.MessageCounts{{Class: "voice-message", New: 1}}}, false},
		{"unknown line kept out", "Messages-Waiting: yes\r\nX-Whatever: blue\r\n", ua.MessageSummary{Waiting: true}, false},
		{"no Messages-Waiting", "Voice-Message: 1/0\r\n", ua.MessageSummary{}, true},
		{"bad Messages-Waiting", "Messages-Waiting: maybe\r\n", ua.MessageSummary{}, true},
		{"bad urgent counts", "Messages-Waiting: yes\r\nVoice-Message: 1/0 (x/1)\r\n", ua.MessageSummary{}, true},
		{"no colon", "Messages-Waiting yes\r\n", ua.MessageSummary{}, true},
		{"empty", "", ua.MessageSummary{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ua.ParseMessageSummary([]byte(tt.in))
			if tt.wantErr {
				require.ErrorIs(t, err, ua.ErrBadMessageSummary)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := ua.ParseMessageSummary(got.Marshal())
			require.NoError(t, err)
			require.Equal(t, got, again, "Marshal and Parse agree")
		})
	}
	m := ua.MessageSummary{Waiting: true, Classes: []ua.MessageCounts{{Class: "voice-message", New: 2, Old: 8, NewUrgent: 1}}}
	require.Equal(t, "Messages-Waiting: yes\r\nVoice-Message: 2/8 (1/0)\r\n", string(m.Marshal()))
	require.Equal(t, 2, m.Voice().New)
	require.Zero(t, ua.MessageSummary{}.Voice().New)
}

func summary(n, o int) ua.MessageSummary {
	return ua.MessageSummary{Waiting: n > 0, Account: "sip:alice@192.0.2.2",
		Classes: []ua.MessageCounts{{Class: "voice-message", New: n, Old: o}}}
}

// voicemail is a UA at 192.0.2.2 serving message-summary: it accepts each
// subscription with the summary of first and hands the Notifier to the
// test; it refuses other packages with 489.
func voicemail(t *testing.T, n *memnet.Network, first ua.MessageSummary, reject func() int) chan *ua.Notifier {
	t.Helper()
	ch := make(chan *ua.Notifier, 4)
	newUA(t, n, "192.0.2.2:5060", ua.Config{OnSubscribe: func(_ context.Context, is *ua.IncomingSubscription) {
		if is.Event() != ua.MessageSummaryEvent || is.Request().Header("Accept") != ua.MessageSummaryType {
			return
		}
		if reject != nil {
			if code := reject(); code != 0 {
				_ = is.Reject(code, "")
				return
			}
		}
		nf, err := is.Accept(ua.MessageSummaryType, first.Marshal())
		if err == nil {
			ch <- nf
		}
	}})
	return ch
}

func mwiLine(got chan<- ua.MessageSummary) ua.LineConfig {
	return ua.LineConfig{AOR: "sip:alice@192.0.2.1", MessageWaiting: true, Voicemail: "sip:alice@192.0.2.2:5060",
		RetryMin: 10 * time.Second, RetryMax: 40 * time.Second,
		OnMessageWaiting: func(_ context.Context, _ *ua.Line, s ua.MessageSummary) { got <- s }}
}

func TestLineMessageWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		notifiers := voicemail(t, n, summary(2, 8), nil)
		got := make(chan ua.MessageSummary, 8)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{mwiLine(got)}})
		nf := recv(t, notifiers, time.Second, "subscription at the voicemail")
		require.Equal(t, summary(2, 8), recv(t, got, time.Second, "first summary"))
		last, ok := a.Lines()[0].MessageWaiting()
		require.True(t, ok)
		require.Equal(t, 2, last.Voice().New)

		require.NoError(t, nf.Notify(t.Context(), ua.MessageSummaryType, summary(3, 8).Marshal()))
		require.Equal(t, summary(3, 8), recv(t, got, time.Second, "new message"))

		// Deactivated: the line subscribes again at once.
		require.NoError(t, nf.Terminate(t.Context(), dialog.ReasonDeactivated))
		require.Equal(t, summary(3, 8), recv(t, got, time.Second, "the last NOTIFY carries the state"))
		nf = recv(t, notifiers, time.Second, "subscribed again")
		require.Equal(t, summary(2, 8), recv(t, got, time.Second, "summary again"))

		// Rejected: the line gives up.
		require.NoError(t, nf.Terminate(t.Context(), dialog.ReasonRejected))
		time.Sleep(time.Hour)
		synctest.Wait()
		require.Empty(t, notifiers, "no subscription after rejected")
	})
}

// A refused SUBSCRIBE is retried after RetryMin, doubling up to RetryMax.
func TestLineMessageWaitingBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		notifiers := voicemail(t, n, summary(1, 0), func() int {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Since(start).Round(time.Second))
			if len(at) < 5 {
				return 404
			}
			return 0
		})
		got := make(chan ua.MessageSummary, 8)
		newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{mwiLine(got)}})
		recv(t, notifiers, 2*time.Minute, "accepted at last")
		require.Equal(t, summary(1, 0), recv(t, got, time.Second, "summary"))
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second, 110 * time.Second}, at)
	})
}
