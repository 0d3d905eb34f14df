//go:build interop

package interop

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestMessageWaitingToBaresip has our UA notify message waiting to a
// phone: baresip (its mwi module) registers at Kamailio and subscribes to
// message-summary for its AOR, which Kamailio routes to our UA
// (MWI_SERVER). Our OnSubscribe accepts with a summary, a later NOTIFY
// with new counts is answered 200 by baresip through Kamailio's
// Record-Route, and Close ends the subscription with a final NOTIFY.
func TestMessageWaitingToBaresip(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	subs := make(chan *ua.Notifier, 2)
	w := &wireLog{}
	first := ua.MessageSummary{Waiting: true, Classes: []ua.MessageCounts{{Class: "voice-message", New: 3, Old: 5}}}
	u, err := ua.New(ua.Config{
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}},
		Transport: ua.TransportConfig{Tracer: w},
		UserAgent: "dialtone-interop",
		OnSubscribe: func(_ context.Context, is *ua.IncomingSubscription) {
			if is.Event() != ua.MessageSummaryEvent {
				return // 489
			}
			if n, err := is.Accept(ua.MessageSummaryType, first.Marshal()); err == nil {
				subs <- n
			}
		},
	})
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = u.Close()
		}
		if t.Failed() {
			t.Logf("--- last messages of our UA:\n%s", w.dump(12))
		}
	}()
	k := startKamailio(t, ctx, kamailioOptions{mwiServer: "sip:" + u.Addrs()[0].String()})
	b := startBaresipOpts(t, ctx, k, "carol", baresipOptions{outbound: true, mwi: true})

	var n *ua.Notifier
	select {
	case n = <-subs:
	case <-time.After(peerWait):
		t.Fatalf("baresip did not subscribe to message-summary within %s", peerWait)
	}
	sub := w.received("SUBSCRIBE ")
	require.NotEmpty(t, sub)
	require.Equal(t, ua.MessageSummaryType, headerValue(sub[0], "Accept"))
	require.Contains(t, headerValue(sub[0], "From"), "sip:carol@", "baresip subscribes for its AOR")

	later := ua.MessageSummary{Waiting: true, Classes: []ua.MessageCounts{{Class: "voice-message", New: 4, Old: 5, NewUrgent: 1}}}
	nctx, ncancel := context.WithTimeout(ctx, peerWait)
	defer ncancel()
	require.NoError(t, n.Notify(nctx, ua.MessageSummaryType, later.Marshal()), "baresip answers the NOTIFY 2xx")
	notifies := w.sent("NOTIFY ")
	require.GreaterOrEqual(t, len(notifies), 2, "the first NOTIFY and the new counts")
	require.Contains(t, notifies[len(notifies)-1], "Voice-Message: 4/5 (1/0)")
	require.NotEmpty(t, headerValue(notifies[0], "Route"), "NOTIFYs follow Kamailio's Record-Route")
	oks := 0
	for _, r := range w.received("SIP/2.0 200") {
		if strings.Contains(headerValue(r, "CSeq"), "NOTIFY") {
			oks++
		}
	}
	require.GreaterOrEqual(t, oks, 2, "baresip answered both NOTIFYs")
	// baresip prints each summary it is notified ("----- MWI for <aor>").
	require.NotEmpty(t, b.logLines("Voice-Message: 3/5"), "baresip shows the first counts")
	require.NotEmpty(t, b.logLines("Voice-Message: 4/5 (1/0)"), "baresip shows the new counts")

	require.NoError(t, u.Close())
	closed = true
	select {
	case <-n.Done():
	default:
		t.Fatal("Close ends the subscription to us")
	}
	require.NoError(t, n.Err(), "terminated by Close")
	last := w.sent("NOTIFY ")
	require.Equal(t, "terminated;reason=deactivated", headerValue(last[len(last)-1], "Subscription-State"))
}
