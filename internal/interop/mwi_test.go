//go:build interop

package interop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestMessageWaitingFromSIPp has a line of ours subscribe to its
// voicemail, a SIPp notifier (testdata/uas_mwi_notifier.xml): the host
// sees the counts SIPp notifies (2 new, 8 old), and Close unsubscribes
// (SUBSCRIBE with Expires: 0, answered by SIPp's final NOTIFY).
func TestMessageWaitingFromSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "mwi_notifier", "-sf", scenario(t, "uas_mwi_notifier.xml"))
	got := make(chan ua.MessageSummary, 4)
	w := &wireLog{}
	u, err := ua.New(ua.Config{
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}},
		Transport: ua.TransportConfig{Tracer: w},
		Lines: []ua.LineConfig{{AOR: "sip:alice@" + loopback, MessageWaiting: true, Voicemail: target,
			OnMessageWaiting: func(_ context.Context, _ *ua.Line, s ua.MessageSummary) { got <- s }}},
	})
	require.NoError(t, err)
	defer func() {
		if t.Failed() {
			t.Logf("--- last messages of our UA:\n%s", w.dump(12))
		}
	}()
	select {
	case s := <-got:
		require.True(t, s.Waiting)
		require.Equal(t, ua.MessageCounts{Class: "voice-message", New: 2, Old: 8, OldUrgent: 1}, s.Voice())
	case <-time.After(peerWait):
		t.Fatalf("no message summary within %s", peerWait)
	}
	require.NoError(t, u.Close())
	require.Len(t, w.sent("SUBSCRIBE "), 2, "the subscription and its end")
	wait()
}
