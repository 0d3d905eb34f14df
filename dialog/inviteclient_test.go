package dialog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// TestInviteClient walks the UAC half of the INVITE session through a
// forked call: early dialogs, the first 2xx (the owner ACKs it, with the
// answer in the body, and records that ACK), the same ACK for every
// retransmission, ACK and BYE for a surplus fork and the same ACK for its
// retransmissions (RFC 3261 §13.2.2.4, RFC 6026 §8.4).
func TestInviteClient(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	s := dialog.NewInviteClient(inv, 0)
	require.Same(t, inv, s.Invite())
	resp := func(code int, tag, contact string) *sip.Response {
		return newResponse(t, inv, code, respOpts{tag: tag, contact: contact})
	}
	step := func(res *sip.Response) dialog.InviteStep {
		t.Helper()
		st, err := s.Receive(res)
		require.NoError(t, err)
		return st
	}

	require.Equal(t, dialog.InviteIgnore, step(resp(100, "", "")).Action)
	require.Equal(t, dialog.InviteProgress, step(resp(180, "tagA", "<sip:bob@192.0.2.10>")).Action)
	require.Equal(t, dialog.InviteProgress, step(resp(183, "tagB", "<sip:bob@192.0.2.11>")).Action)
	require.Nil(t, s.Answered())

	okA := resp(200, "tagA", "<sip:bob@192.0.2.10>")
	st := step(okA)
	require.Equal(t, dialog.InviteAnswer, st.Action)
	require.Equal(t, "tagA", st.Dialog.ID().RemoteTag)
	require.Nil(t, st.Ack, "the owner builds the call's ACK: it may carry the answer")
	require.Same(t, st.Dialog, s.Answered())

	// A retransmission before the owner recorded its ACK: that ACK is on
	// its way, nothing is sent twice.
	require.Equal(t, dialog.InviteIgnore, step(okA).Action)

	ack, err := st.Dialog.NewAck(inv, okA)
	require.NoError(t, err)
	ack.SetBody([]byte("v=0\r\n"), "application/sdp")
	s.Acked(st.Dialog, ack)
	for range 3 {
		re := step(okA)
		require.Equal(t, dialog.InviteResendAck, re.Action)
		require.Same(t, ack, re.Ack, "the same ACK, body and all, for every copy of the 2xx")
	}

	okB := resp(200, "tagB", "<sip:bob@192.0.2.11>")
	sur := step(okB)
	require.Equal(t, dialog.InviteAckAndBye, sur.Action)
	require.Equal(t, "tagB", sur.Dialog.ID().RemoteTag)
	require.Equal(t, sip.ACK, sur.Ack.Method)
	require.Equal(t, sip.BYE, sur.Bye.Method)
	require.Equal(t, "sip:bob@192.0.2.11", sur.Ack.URI.String(), "the surplus fork's own target")
	toAck, _ := sur.Ack.To()
	toBye, _ := sur.Bye.To()
	require.Equal(t, "tagB", toAck.Tag())
	require.Equal(t, "tagB", toBye.Tag())
	reB := step(okB)
	require.Equal(t, dialog.InviteResendAck, reB.Action, "the surplus 2xx retransmitted: ACK again, no second BYE")
	require.Same(t, sur.Ack, reB.Ack)
	require.Nil(t, reB.Bye)

	require.Equal(t, dialog.InviteIgnore, step(resp(486, "tagC", "")).Action, "a failure after the answer changes nothing")
	require.Empty(t, s.Finish(), "no early dialog left")
	require.Equal(t, dialog.InviteResendAck, step(okA).Action, "Finish keeps the ACKs until the owner drops the session")
}

// TestInviteClientFailure: a final failure before any 2xx ends the early
// dialogs, and the owner learns which.
func TestInviteClientFailure(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	s := dialog.NewInviteClient(inv, 2)
	resp := func(code int, tag string) *sip.Response {
		return newResponse(t, inv, code, respOpts{tag: tag, contact: "<sip:bob@192.0.2.10>"})
	}
	for _, tag := range []string{"a", "b"} {
		st, err := s.Receive(resp(180, tag))
		require.NoError(t, err)
		require.Equal(t, dialog.InviteProgress, st.Action)
	}
	st, err := s.Receive(resp(180, "c"))
	require.ErrorIs(t, err, dialog.ErrTooManyForks)
	require.Equal(t, dialog.InviteIgnore, st.Action)

	st, err = s.Receive(resp(486, "a"))
	require.NoError(t, err)
	require.Equal(t, dialog.InviteFail, st.Action)
	require.Len(t, st.Terminated, 2)
	for _, d := range st.Terminated {
		require.Equal(t, dialog.StateTerminated, d.State())
	}
	require.Nil(t, s.Answered())
}

// TestInviteClientMalformed: a 2xx without a usable To is refused with an
// error and changes nothing.
func TestInviteClientMalformed(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	s := dialog.NewInviteClient(inv, 0)
	bad := newResponse(t, inv, 200, respOpts{tag: "x", contact: "<sip:bob@192.0.2.10>"})
	bad.Set("To", "<<<")
	_, err := s.Receive(bad)
	require.Error(t, err)
	require.Nil(t, s.Answered())
}

// TestInviteClientInit: Init makes a session in place over one in use
// (its forks and ACKs dropped), as NewInviteClient makes a new one.
func TestInviteClientInit(t *testing.T) {
	old := newInvite(t, inviteOpts{})
	var s dialog.InviteClient
	s.Init(old, 0)
	st, err := s.Receive(newResponse(t, old, 200, respOpts{tag: "a", contact: "<sip:bob@192.0.2.10>"}))
	require.NoError(t, err)
	require.Equal(t, dialog.InviteAnswer, st.Action)
	require.NotNil(t, s.Answered())

	inv := newInvite(t, inviteOpts{})
	s.Init(inv, 1)
	require.Same(t, inv, s.Invite())
	require.Nil(t, s.Answered(), "the old session's dialog is gone")
	resp := func(code int, tag string) *sip.Response {
		return newResponse(t, inv, code, respOpts{tag: tag, contact: "<sip:bob@192.0.2.10>"})
	}
	st, err = s.Receive(resp(180, "b"))
	require.NoError(t, err)
	require.Equal(t, dialog.InviteProgress, st.Action)
	_, err = s.Receive(resp(180, "c"))
	require.ErrorIs(t, err, dialog.ErrTooManyForks, "maxForks is the new one's")
	st, err = s.Receive(resp(200, "b"))
	require.NoError(t, err)
	require.Equal(t, dialog.InviteAnswer, st.Action)
	require.Equal(t, "b", st.Dialog.ID().RemoteTag)
}

func TestInviteActionString(t *testing.T) {
	for a, want := range map[dialog.InviteAction]string{
		dialog.InviteIgnore: "ignore", dialog.InviteProgress: "progress", dialog.InviteAnswer: "answer",
		dialog.InviteResendAck: "resend-ack", dialog.InviteAckAndBye: "ack-and-bye", dialog.InviteFail: "fail",
		dialog.InviteAction(99): "action(?)",
	} {
		require.Equal(t, want, a.String())
	}
}
