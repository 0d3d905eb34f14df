//go:build interop

package interop

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// TestWatchDialogsFromSIPp watches an extension's dialogs (RFC 4235) at a
// SIPp notifier (testdata/uas_dialog_notifier.xml): the full state shows
// one confirmed call (busy), the partial update that ends it idle; then
// Unsubscribe ends the watch with SIPp's final NOTIFY.
func TestWatchDialogsFromSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "dialog_notifier", "-sf", scenario(t, "uas_dialog_notifier.xml"))
	u, _ := tracedUA(t, ua.Config{})
	views := make(chan ua.DialogInfo, 4)
	s, err := u.WatchDialogs(ctx, target, ua.WatchOptions{
		OnDialogInfo: func(_ context.Context, _ *ua.Subscription, d ua.DialogInfo) { views <- d },
	})
	require.NoError(t, err)
	next := func(what string) ua.DialogInfo {
		select {
		case v := <-views:
			return v
		case <-time.After(peerWait):
			t.Fatalf("no dialog-info (%s) within %s", what, peerWait)
		}
		return ua.DialogInfo{}
	}
	v := next("full state")
	require.True(t, v.Busy(), "one confirmed call")
	require.Equal(t, "call1", v.Dialogs[0].CallID)
	require.Equal(t, "sip:alice@example.com", v.Dialogs[0].Remote)
	v = next("the call ended")
	require.False(t, v.Busy())
	require.Equal(t, uint64(1), v.Version)
	require.NoError(t, s.Unsubscribe(ctx))
	require.ErrorIs(t, s.Err(), ua.ErrUnsubscribed)
	wait()
}
