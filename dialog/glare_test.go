package dialog_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

func TestGlareBackoff(t *testing.T) {
	tests := []struct {
		name     string
		owner    bool
		min, max time.Duration
	}{
		{"Call-ID owner", true, 2100 * time.Millisecond, 4 * time.Second},
		{"not the owner", false, 0, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			seen := map[time.Duration]bool{}
			for range 20000 {
				d := dialog.GlareBackoff(tt.owner, r)
				require.GreaterOrEqual(t, d, tt.min)
				require.LessOrEqual(t, d, tt.max)
				require.Zero(t, d%(10*time.Millisecond), "10 ms units (§14.1)")
				seen[d] = true
			}
			// Every 10 ms step of the range comes up, ends included.
			require.Len(t, seen, int((tt.max-tt.min)/(10*time.Millisecond))+1)
			require.True(t, seen[tt.min])
			require.True(t, seen[tt.max])
			for range 100 {
				d := dialog.GlareBackoff(tt.owner, nil)
				require.GreaterOrEqual(t, d, tt.min)
				require.LessOrEqual(t, d, tt.max)
				require.Zero(t, d%(10*time.Millisecond))
			}
		})
	}
	t.Run("by dialog role", func(t *testing.T) {
		uac, _, _ := uacDialog(t)
		uas, _ := uasDialog(t)
		r := rand.New(rand.NewPCG(3, 4))
		for range 1000 {
			require.GreaterOrEqual(t, uac.GlareBackoff(r), 2100*time.Millisecond)
			require.LessOrEqual(t, uas.GlareBackoff(r), 2*time.Second)
		}
	})
}

func TestOverlapRetryAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[time.Duration]bool{}
	for range 2000 {
		d := dialog.OverlapRetryAfter(r)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, 10*time.Second)
		require.Zero(t, d%time.Second)
		seen[d] = true
	}
	require.Len(t, seen, 11)
}

func TestNegotiation(t *testing.T) {
	type ev struct {
		out    bool // we sent it
		method sip.Method
		offer  bool
	}
	tests := []struct {
		name     string
		pending  []ev // started, not ended
		ended    []ev // started and ended
		method   sip.Method
		offer    bool
		wantRecv int   // status for a received request
		wantSend error // for sending one
	}{
		{name: "idle INVITE", method: sip.INVITE, offer: true},
		{name: "idle UPDATE", method: sip.UPDATE, offer: true},
		{name: "INVITE crosses ours", pending: []ev{{true, sip.INVITE, true}}, method: sip.INVITE, offer: true, wantRecv: 491, wantSend: dialog.ErrRequestPending},
		{name: "late-offer INVITE crosses ours", pending: []ev{{true, sip.INVITE, false}}, method: sip.INVITE, wantRecv: 491, wantSend: dialog.ErrRequestPending},
		{name: "INVITE while theirs is pending", pending: []ev{{false, sip.INVITE, true}}, method: sip.INVITE, offer: true, wantRecv: 500, wantSend: dialog.ErrRequestPending},
		{name: "UPDATE offer crosses our INVITE offer", pending: []ev{{true, sip.INVITE, true}}, method: sip.UPDATE, offer: true, wantRecv: 491, wantSend: dialog.ErrRequestPending},
		{name: "UPDATE offer crosses our UPDATE offer", pending: []ev{{true, sip.UPDATE, true}}, method: sip.UPDATE, offer: true, wantRecv: 491, wantSend: dialog.ErrRequestPending},
		{name: "UPDATE offer while theirs unanswered", pending: []ev{{false, sip.UPDATE, true}}, method: sip.UPDATE, offer: true, wantRecv: 500, wantSend: dialog.ErrRequestPending},
		{name: "UPDATE offer while our INVITE has none", pending: []ev{{true, sip.INVITE, false}}, method: sip.UPDATE, offer: true},
		{name: "UPDATE without offer", pending: []ev{{true, sip.UPDATE, true}}, method: sip.UPDATE},
		{name: "INFO never collides", pending: []ev{{true, sip.INVITE, true}, {false, sip.UPDATE, true}}, method: sip.INFO, offer: true},
		{name: "INVITE after ours ended", ended: []ev{{true, sip.INVITE, true}}, method: sip.INVITE, offer: true},
		{name: "INVITE after theirs ended", ended: []ev{{false, sip.INVITE, true}}, method: sip.INVITE, offer: true},
		{name: "UPDATE after our UPDATE ended", ended: []ev{{true, sip.UPDATE, true}}, method: sip.UPDATE, offer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n dialog.Negotiation
			seq := uint32(10)
			start := func(e ev) {
				seq++
				if e.out {
					n.StartClient(e.method, seq, e.offer)
				} else {
					n.StartServer(e.method, seq, e.offer)
				}
			}
			for _, e := range tt.ended {
				start(e)
				if e.out {
					n.EndClient(e.method, seq)
				} else {
					n.EndServer(e.method, seq)
				}
			}
			for _, e := range tt.pending {
				start(e)
				// The end of an older request of that method changes nothing.
				if e.out {
					n.EndClient(e.method, seq-1)
				} else {
					n.EndServer(e.method, seq-1)
				}
			}
			require.Equal(t, tt.wantRecv, n.CheckReceive(tt.method, tt.offer))
			require.ErrorIs(t, n.CheckSend(tt.method, tt.offer), tt.wantSend)
		})
	}
}

// TestGlareInDialog plays a re-INVITE glare through Dialog: both sides
// send a re-INVITE, both get 491, and once ours ends theirs goes through.
func TestGlareInDialog(t *testing.T) {
	d, _, _ := uacDialog(t)
	ours, err := d.NewRequest(sip.INVITE, []byte(sdpOffer), "application/sdp")
	require.NoError(t, err)
	out, in := d.Negotiation().Pending()
	require.True(t, out)
	require.False(t, in)

	theirs := fromBob(t, sip.INVITE, 1, "Contact: <sip:bob@198.51.100.1>\r\n")
	theirs.SetBody([]byte(sdpOffer), "application/sdp")
	err = d.ReceiveRequest(theirs)
	require.ErrorIs(t, err, dialog.ErrRequestPending)
	require.Equal(t, 491, dialog.StatusCode(err))
	target := d.RemoteTarget()
	require.Equal(t, bobTarget, target.String(), "a refused re-INVITE refreshes nothing")

	// Our re-INVITE gets 491 too; we back off and the peer retries.
	require.NoError(t, d.ReceiveResponse(ours, newResponse(t, wire(t, ours), 491, respOpts{tag: bobTag})))
	require.Equal(t, dialog.StateConfirmed, d.State())
	retry := fromBob(t, sip.INVITE, 2, "Contact: <sip:bob@198.51.100.1>\r\n")
	retry.SetBody([]byte(sdpOffer), "application/sdp")
	require.NoError(t, d.ReceiveRequest(retry))
	target = d.RemoteTarget()
	require.Equal(t, "sip:bob@198.51.100.1", target.String())

	// While theirs is pending we may not start one, and a second one of
	// theirs gets 500.
	_, err = d.NewRequest(sip.INVITE, nil, "")
	require.ErrorIs(t, err, dialog.ErrRequestPending)
	third := fromBob(t, sip.INVITE, 3, "")
	err = d.ReceiveRequest(third)
	require.ErrorIs(t, err, dialog.ErrOverlap)
	require.Equal(t, 500, dialog.StatusCode(err))

	// Our 200 ends it.
	ok := d.NewResponse(retry, 200, "")
	require.Equal(t, "<sip:alice@pc33.atlanta.example.com>", ok.Header("Contact"), "a 2xx to a target refresh carries our Contact")
	_, err = d.NewRequest(sip.INVITE, nil, "")
	require.NoError(t, err)
}

func TestGlareUpdate(t *testing.T) {
	d, _ := uasDialog(t)
	ours, err := d.NewRequest(sip.UPDATE, []byte(sdpOffer), "application/sdp")
	require.NoError(t, err)
	theirs := inDialog(t, sip.UPDATE, inviteSeq+1, "")
	theirs.SetBody([]byte(sdpOffer), "application/sdp")
	require.Equal(t, 491, dialog.StatusCode(d.ReceiveRequest(theirs)))
	// An UPDATE without offer (a session refresh) passes.
	require.NoError(t, d.ReceiveRequest(inDialog(t, sip.UPDATE, inviteSeq+2, "")))
	require.NoError(t, d.ReceiveResponse(ours, newResponse(t, wire(t, ours), 200, respOpts{tag: aliceTag})))
	again := inDialog(t, sip.UPDATE, inviteSeq+3, "")
	again.SetBody([]byte(sdpOffer), "application/sdp")
	require.NoError(t, d.ReceiveRequest(again))
}

func TestNegotiationOfferAnswered(t *testing.T) {
	for _, ours := range []bool{true, false} {
		var n dialog.Negotiation
		if ours {
			n.StartClient(sip.INVITE, 1, true)
		} else {
			n.StartServer(sip.INVITE, 1, true)
		}
		out, in := n.OfferPending()
		require.Equal(t, ours, out)
		require.Equal(t, !ours, in)
		require.NotZero(t, n.CheckReceive(sip.UPDATE, true))
		// A reliable 183 carried the answer: UPDATE offers may flow, but the
		// INVITE is still in progress.
		n.OfferAnswered(ours)
		out, in = n.OfferPending()
		require.False(t, out)
		require.False(t, in)
		require.Zero(t, n.CheckReceive(sip.UPDATE, true))
		require.NoError(t, n.CheckSend(sip.UPDATE, true))
		require.ErrorIs(t, n.CheckSend(sip.INVITE, false), dialog.ErrRequestPending)
	}
}

// TestGlareRefusalKeepsThePendingINVITE answers an overlapping INVITE with
// 500 and checks that the first one stays in progress.
func TestGlareRefusalKeepsThePendingINVITE(t *testing.T) {
	d, _, _ := uacDialog(t)
	first := fromBob(t, sip.INVITE, 1, "")
	require.NoError(t, d.ReceiveRequest(first))
	second := fromBob(t, sip.INVITE, 2, "")
	err := d.ReceiveRequest(second)
	require.Equal(t, 500, dialog.StatusCode(err))
	d.NewResponse(second, 500, "")
	_, in := d.Negotiation().Pending()
	require.True(t, in, "the 500 to the second INVITE does not end the first")
	_, err = d.NewRequest(sip.INVITE, nil, "")
	require.ErrorIs(t, err, dialog.ErrRequestPending)
	d.NewResponse(first, 200, "")
	_, in = d.Negotiation().Pending()
	require.False(t, in)

	// A late 2xx retransmission of an old re-INVITE does not end a new one.
	old, err := d.NewRequest(sip.INVITE, nil, "")
	require.NoError(t, err)
	oldOK := newResponse(t, wire(t, old), 200, respOpts{tag: bobTag, contact: bobContact})
	require.NoError(t, d.ReceiveResponse(old, oldOK))
	_, err = d.NewRequest(sip.INVITE, nil, "")
	require.NoError(t, err)
	require.NoError(t, d.ReceiveResponse(old, oldOK))
	out, _ := d.Negotiation().Pending()
	require.True(t, out)
}
