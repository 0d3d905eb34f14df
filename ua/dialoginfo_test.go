package ua_test

// The dialog event package (RFC 4235) as a busy-lamp field watches it.

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

func dialogDoc(version int, state string, dialogs ...string) []byte {
	s := fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="%s" entity="sip:bob@example.com">`, version, state)
	for _, d := range dialogs {
		s += d
	}
	return []byte(s + "</dialog-info>")
}

func dlg(id, state string) string {
	return fmt.Sprintf(`<dialog id="%s" call-id="c%s" local-tag="l%s" remote-tag="r%s" direction="recipient">
  <state event="remote-bye" code="200">%s</state>
  <local><identity>sip:bob@example.com</identity></local>
  <remote><identity display="Alice">sip:alice@example.com</identity></remote>
</dialog>`, id, id, id, id, state)
}

func TestParseDialogInfo(t *testing.T) {
	d, err := ua.ParseDialogInfo(dialogDoc(3, "full", dlg("a", "confirmed"), dlg("b", " Terminated ")))
	require.NoError(t, err)
	require.True(t, d.Full)
	require.Equal(t, uint64(3), d.Version)
	require.Equal(t, "sip:bob@example.com", d.Entity)
	require.Equal(t, []ua.DialogState{
		{ID: "a", CallID: "ca", LocalTag: "la", RemoteTag: "ra", Direction: "recipient", State: "confirmed", Event: "remote-bye", Code: 200,
			Local: "sip:bob@example.com", Remote: "sip:alice@example.com"},
		{ID: "b", CallID: "cb", LocalTag: "lb", RemoteTag: "rb", Direction: "recipient", State: "terminated", Event: "remote-bye", Code: 200,
			Local: "sip:bob@example.com", Remote: "sip:alice@example.com"},
	}, d.Dialogs)
	require.True(t, d.Busy())

	idle, err := ua.ParseDialogInfo(dialogDoc(0, "partial"))
	require.NoError(t, err)
	require.False(t, idle.Full)
	require.False(t, idle.Busy())

	for name, bad := range map[string][]byte{
		"not xml":         []byte("<dialog-info"),
		"no state":        []byte(`<dialog-info version="1" entity="sip:x@y"></dialog-info>`),
		"dialog no id":    dialogDoc(1, "full", `<dialog><state>early</state></dialog>`),
		"dialog no state": dialogDoc(1, "full", `<dialog id="x"></dialog>`),
	} {
		_, err := ua.ParseDialogInfo(bad)
		require.ErrorIs(t, err, ua.ErrBadDialogInfo, name)
	}
	many := make([]string, ua.MaxDialogInfoDialogs+1)
	for i := range many {
		many[i] = dlg(fmt.Sprint(i), "early")
	}
	_, err = ua.ParseDialogInfo(dialogDoc(1, "full", many...))
	require.ErrorIs(t, err, ua.ErrBadDialogInfo, "too many dialogs")
}

// A watch sees the merged set after each NOTIFY: full replaces, partial
// merges by id, terminated removes, an old version is ignored.
func TestWatchDialogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		notifiers := make(chan *ua.Notifier, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnSubscribe: func(_ context.Context, is *ua.IncomingSubscription) {
			if is.Event() != ua.DialogEvent || is.Request().Header("Accept") != ua.DialogInfoType {
				return
			}
			nf, err := is.Accept(ua.DialogInfoType, dialogDoc(0, "full"))
			if err == nil {
				notifiers <- nf
			}
		}})
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		views := make(chan ua.DialogInfo, 8)
		_, err := a.WatchDialogs(t.Context(), "sip:bob@192.0.2.2:5060", ua.WatchOptions{
			OnDialogInfo: func(_ context.Context, _ *ua.Subscription, d ua.DialogInfo) { views <- d },
		})
		require.NoError(t, err)
		nf := recv(t, notifiers, time.Second, "watch accepted")
		v := recv(t, views, time.Second, "first view")
		require.False(t, v.Busy())

		notify := func(doc []byte) {
			require.NoError(t, nf.Notify(t.Context(), ua.DialogInfoType, doc))
		}
		notify(dialogDoc(1, "partial", dlg("a", "early")))
		v = recv(t, views, time.Second, "ringing")
		require.True(t, v.Busy())
		require.Len(t, v.Dialogs, 1)
		notify(dialogDoc(2, "partial", dlg("b", "confirmed")))
		v = recv(t, views, time.Second, "two dialogs")
		require.Len(t, v.Dialogs, 2)
		notify(dialogDoc(3, "partial", dlg("a", "terminated")))
		v = recv(t, views, time.Second, "one left")
		require.Len(t, v.Dialogs, 1)
		require.Equal(t, "b", v.Dialogs[0].ID)
		notify(dialogDoc(3, "partial", dlg("c", "early")))
		synctest.Wait()
		require.Empty(t, views, "a repeated version is ignored")
		notify(dialogDoc(4, "full"))
		v = recv(t, views, time.Second, "full state")
		require.False(t, v.Busy())
		require.Equal(t, uint64(4), v.Version)
	})
}
