package dialog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

func TestForkSet(t *testing.T) {
	inv := newInvite(t, inviteOpts{body: sdpOffer})
	f := dialog.NewForkSet(inv, 0)
	resp := func(code int, tag, contact string) *sip.Response {
		return newResponse(t, inv, code, respOpts{tag: tag, contact: contact})
	}
	steps := []struct {
		name    string
		res     *sip.Response
		want    dialog.ForkOutcome
		wantTag string // of the event's dialog; "-" for none
		wantNew bool
		state   dialog.State
	}{
		{"100 Trying", resp(100, "", ""), dialog.ForkNone, "-", false, 0},
		{"180 without tag", resp(180, "", ""), dialog.ForkNone, "-", false, 0},
		{"180 from phone A", resp(180, "tagA", "<sip:bob@192.0.2.10>"), dialog.ForkEarly, "tagA", true, dialog.StateEarly},
		{"183 from phone B", resp(183, "tagB", "<sip:bob@192.0.2.11>"), dialog.ForkEarly, "tagB", true, dialog.StateEarly},
		{"180 from A again", resp(180, "tagA", "<sip:bob@192.0.2.12>"), dialog.ForkEarly, "tagA", false, dialog.StateEarly},
		{"200 from A: the call", resp(200, "tagA", "<sip:bob@192.0.2.10>"), dialog.ForkConfirmed, "tagA", false, dialog.StateConfirmed},
		{"200 from B: surplus", resp(200, "tagB", "<sip:bob@192.0.2.11>"), dialog.ForkSurplus, "tagB", false, dialog.StateConfirmed},
		{"200 from A retransmitted", resp(200, "tagA", "<sip:bob@192.0.2.10>"), dialog.ForkRetransmit, "tagA", false, dialog.StateConfirmed},
		{"200 from B retransmitted", resp(200, "tagB", "<sip:bob@192.0.2.11>"), dialog.ForkRetransmit, "tagB", false, dialog.StateConfirmed},
		{"200 from C, never early", resp(200, "tagC", "<sip:bob@192.0.2.13>"), dialog.ForkSurplus, "tagC", true, dialog.StateConfirmed},
		{"486 after a 2xx is ignored", resp(486, "tagD", ""), dialog.ForkNone, "-", false, 0},
	}
	for _, s := range steps {
		ev, err := f.Receive(s.res)
		require.NoError(t, err, s.name)
		require.Equal(t, s.want, ev.Outcome, s.name)
		require.Equal(t, s.wantNew, ev.New, s.name)
		if s.wantTag == "-" {
			require.Nil(t, ev.Dialog, s.name)
			continue
		}
		require.NotNil(t, ev.Dialog, s.name)
		require.Equal(t, s.wantTag, ev.Dialog.ID().RemoteTag, s.name)
		require.Equal(t, s.state, ev.Dialog.State(), s.name)
	}
	require.Equal(t, "tagA", f.Confirmed().ID().RemoteTag)
	require.Len(t, f.Dialogs(), 3)
	require.Empty(t, f.Finish(), "no early dialog left")

	// The surplus dialog is acknowledged and ended: its ACK and BYE go to
	// its own target with its own tag.
	b := f.Get("tagB")
	require.NotNil(t, b)
	res := resp(200, "tagB", "<sip:bob@192.0.2.11>")
	ack, err := b.NewAck(inv, res)
	require.NoError(t, err)
	bye, err := b.NewRequest(sip.BYE, nil, "")
	require.NoError(t, err)
	for _, r := range []*sip.Request{ack, bye} {
		got := wire(t, r)
		require.Equal(t, "sip:bob@192.0.2.11", got.URI.String())
		to, err := got.To()
		require.NoError(t, err)
		require.Equal(t, "tagB", to.Tag())
	}
	_, err = f.Confirmed().NewAck(inv, res)
	require.ErrorIs(t, err, dialog.ErrWrongDialog, "the call's dialog does not acknowledge B's 2xx")
	// The call's remote target is the 2xx's Contact.
	target := f.Confirmed().RemoteTarget()
	require.Equal(t, "sip:bob@192.0.2.10", target.String())
}

func TestForkSetFailure(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	f := dialog.NewForkSet(inv, 0)
	for _, tag := range []string{"tagA", "tagB"} {
		ev, err := f.Receive(newResponse(t, inv, 180, respOpts{tag: tag, contact: bobContact}))
		require.NoError(t, err)
		require.Equal(t, dialog.ForkEarly, ev.Outcome)
	}
	ev, err := f.Receive(newResponse(t, inv, 486, respOpts{tag: "proxy"}))
	require.NoError(t, err)
	require.Equal(t, dialog.ForkFailed, ev.Outcome)
	require.Len(t, ev.Terminated, 2)
	for _, d := range ev.Terminated {
		require.Equal(t, dialog.StateTerminated, d.State())
	}
	require.Nil(t, f.Confirmed())
	ev, err = f.Receive(newResponse(t, inv, 486, respOpts{tag: "proxy"}))
	require.NoError(t, err)
	require.Equal(t, dialog.ForkNone, ev.Outcome, "a retransmitted final response changes nothing")
}

func TestForkSetFinish(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	f := dialog.NewForkSet(inv, 0)
	for _, r := range []struct {
		code int
		tag  string
	}{{180, "tagA"}, {180, "tagB"}, {200, "tagB"}} {
		_, err := f.Receive(newResponse(t, inv, r.code, respOpts{tag: r.tag, contact: bobContact}))
		require.NoError(t, err)
	}
	ended := f.Finish()
	require.Len(t, ended, 1)
	require.Equal(t, "tagA", ended[0].ID().RemoteTag)
	require.Equal(t, dialog.StateTerminated, ended[0].State())
	require.Equal(t, dialog.StateConfirmed, f.Confirmed().State())
}

func TestForkSetLimit(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	f := dialog.NewForkSet(inv, 2)
	for _, tag := range []string{"t1", "t2"} {
		_, err := f.Receive(newResponse(t, inv, 180, respOpts{tag: tag, contact: bobContact}))
		require.NoError(t, err)
	}
	ev, err := f.Receive(newResponse(t, inv, 180, respOpts{tag: "t3", contact: bobContact}))
	require.ErrorIs(t, err, dialog.ErrTooManyForks)
	require.Equal(t, dialog.ForkNone, ev.Outcome)
	require.Len(t, f.Dialogs(), 2)

	// A 2xx past the limit still gets a dialog to ACK and BYE: the call if
	// it is the first, kept; a surplus one, reported but not kept.
	ev, err = f.Receive(newResponse(t, inv, 200, respOpts{tag: "t4", contact: bobContact}))
	require.NoError(t, err)
	require.Equal(t, dialog.ForkConfirmed, ev.Outcome)
	ev, err = f.Receive(newResponse(t, inv, 200, respOpts{tag: "t5", contact: bobContact}))
	require.NoError(t, err)
	require.Equal(t, dialog.ForkSurplus, ev.Outcome)
	require.True(t, ev.New)
	require.Len(t, f.Dialogs(), 3)
	require.Nil(t, f.Get("t5"))
}

func TestForkOutcomeString(t *testing.T) {
	names := map[dialog.ForkOutcome]string{
		dialog.ForkNone: "none", dialog.ForkEarly: "early", dialog.ForkConfirmed: "confirmed",
		dialog.ForkRetransmit: "retransmit", dialog.ForkSurplus: "surplus", dialog.ForkFailed: "failed",
	}
	for o, n := range names {
		require.Equal(t, n, o.String())
	}
	require.Equal(t, "outcome(?)", dialog.ForkOutcome(99).String())
}
