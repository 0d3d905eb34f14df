package ua_test

// Transfer (RFC 3515, 3891, 3892, 4488) among three UAs: A the transferor,
// B the transferee, C the transfer target.

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// transferee accepts every REFER and hands the new call (or the error) to
// the test.
func transferee(calls chan<- *ua.Call, errs chan<- error, refers chan<- *ua.IncomingRefer) func(context.Context, *ua.IncomingRefer) {
	return func(ctx context.Context, r *ua.IncomingRefer) {
		if refers != nil {
			refers <- r
		}
		c, err := r.Accept(ctx, ua.DialOptions{SDP: []byte(testSDP)})
		if err != nil {
			errs <- err
			return
		}
		calls <- c
	}
}

type trio struct {
	a, b, c     *ua.UA
	wc          *wire
	atC         chan *ua.Call // calls C answered
	atB         chan *ua.Call // calls B answered
	bNew        chan *ua.Call // calls B placed for a REFER
	bErr        chan error
	refers      chan *ua.IncomingRefer
	incomingAtC chan *ua.IncomingCall
	ab          *ua.Call // A's call to B
}

func newTrio(t *testing.T, n *memnet.Network, cReject int) *trio {
	t.Helper()
	tr := &trio{wc: newWire(), atC: make(chan *ua.Call, 4), atB: make(chan *ua.Call, 4), bNew: make(chan *ua.Call, 4),
		bErr: make(chan error, 4), refers: make(chan *ua.IncomingRefer, 4), incomingAtC: make(chan *ua.IncomingCall, 4)}
	tr.a, _ = newUA(t, n, "192.0.2.1:5060", ua.Config{OnCall: answerer(nil)})
	tr.b, _ = newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(tr.atB), OnRefer: transferee(tr.bNew, tr.bErr, tr.refers)})
	tr.c, _ = newUA(t, n, "192.0.2.3:5060", ua.Config{Transport: ua.TransportConfig{Tracer: tr.wc}, OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
		tr.incomingAtC <- ic
		if cReject != 0 {
			_ = ic.Reject(cReject, "")
			return
		}
		answerer(tr.atC)(ctx, ic)
	}})
	var err error
	tr.ab, err = tr.a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
	require.NoError(t, err)
	recv(t, tr.atB, time.Second, "B answers A")
	synctest.Wait()
	return tr
}

func TestBlindTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		tr := newTrio(t, n, 0)
		require.NoError(t, tr.ab.Transfer(t.Context(), "sip:carol@192.0.2.3:5060"))
		r := recv(t, tr.refers, time.Second, "REFER at B")
		require.Equal(t, "sip:carol@192.0.2.3:5060", r.Target().String())
		require.Empty(t, r.Replaces())
		require.Equal(t, tr.ab.DialogID().CallID, r.Call().CallID())
		bc := recv(t, tr.bNew, time.Second, "B's new call")
		cb := recv(t, tr.atC, time.Second, "C answered B")
		require.Equal(t, bc.CallID(), cb.CallID())
		invites := tr.wc.requests(sip.INVITE)
		require.Len(t, invites, 1)
		require.Equal(t, "<sip:dialtone@192.0.2.1:5060>", invites[0].Header("Referred-By"), "Referred-By names A")
		require.NoError(t, tr.ab.Hangup(t.Context()))
		require.NoError(t, bc.Hangup(t.Context()))
	})
}

func TestBlindTransferFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		tr := newTrio(t, n, sip.StatusBusyHere)
		err := tr.ab.Transfer(t.Context(), "sip:carol@192.0.2.3:5060")
		var te *ua.TransferError
		require.ErrorAs(t, err, &te)
		require.Equal(t, sip.StatusBusyHere, te.Code)
		var se *ua.StatusError
		require.ErrorAs(t, recv(t, tr.bErr, time.Second, "B's failed call"), &se)
		require.Equal(t, ua.CallEstablished, tr.ab.State(), "the call goes on")
	})
}

// An attended transfer: A has B and C; TransferTo makes B call C with
// Replaces, C takes it in place of its call with A, which C ends.
func TestAttendedTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		tr := newTrio(t, n, 0)
		ac, err := tr.a.Dial(t.Context(), "sip:carol@192.0.2.3:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		ca := recv(t, tr.atC, time.Second, "C answers A")
		recv(t, tr.incomingAtC, time.Second, "A's INVITE at C")
		synctest.Wait()

		require.NoError(t, tr.ab.TransferTo(t.Context(), ac))
		r := recv(t, tr.refers, time.Second, "REFER at B")
		id := ac.DialogID()
		require.Equal(t, id.CallID+";to-tag="+id.RemoteTag+";from-tag="+id.LocalTag, r.Replaces())
		ic := recv(t, tr.incomingAtC, time.Second, "B's INVITE at C")
		require.Same(t, ca, ic.Replaces(), "C sees the call it replaces")
		recv(t, tr.bNew, time.Second, "B's new call")
		recv(t, doneOf(ac.Done()), time.Second, "C ends its call with A")
		require.ErrorIs(t, ac.Err(), ua.ErrRemoteHangup)
		require.ErrorIs(t, ca.Err(), ua.ErrLocalHangup)
		require.NoError(t, tr.ab.Hangup(t.Context()))
	})
}

// A REFER is refused without OnRefer (405, REFER not in Allow) and when
// the host rejects it.
func TestReferRefused(t *testing.T) {
	tests := []struct {
		name string
		cfg  ua.Config
		want int
	}{
		{"no OnRefer", ua.Config{}, 405},
		{"rejected", ua.Config{OnRefer: func(_ context.Context, r *ua.IncomingRefer) { _ = r.Reject(403, "") }}, 403},
		{"left unanswered", ua.Config{OnRefer: func(context.Context, *ua.IncomingRefer) {}}, 603},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				_, _, out, _, _, _ := established(t, n, ua.Config{}, tt.cfg)
				err := out.Transfer(t.Context(), "sip:carol@192.0.2.3:5060")
				var se *ua.StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.want, se.Code())
				if tt.want == 405 {
					require.NotContains(t, se.Response.Header("Allow"), "REFER")
				}
				require.Equal(t, ua.CallEstablished, out.State())
			})
		})
	}
}

// Refer-Sub: false (RFC 4488): the transferee answers 202 with Refer-Sub:
// false and sends no NOTIFY.
func TestReferNoSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 2)
		placed := make(chan *ua.Call, 2)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls), OnRefer: transferee(placed, make(chan error, 1), nil)})
		newUA(t, n, "192.0.2.3:5060", ua.Config{OnCall: answerer(nil)})
		peer, w := newTracedPeer(t, n, "192.0.2.7:5060", answer200, nil)
		d, _ := rawEstablish(t, peer, 1)
		recv(t, calls, time.Second, "answered")
		refer, err := d.NewRequest(sip.REFER, nil, "")
		require.NoError(t, err)
		refer.Set("Refer-To", "<sip:carol@192.0.2.3:5060>")
		refer.Set("Refer-Sub", "false")
		refer.Set("Require", "norefersub")
		res := rawSend(t, peer, refer)
		require.Equal(t, sip.StatusAccepted, res.StatusCode)
		require.Equal(t, "false", res.Header("Refer-Sub"))
		require.Contains(t, res.Header("Supported"), "norefersub")
		recv(t, placed, time.Second, "the transferee called C")
		synctest.Wait()
		require.Empty(t, w.requests(sip.NOTIFY), "no NOTIFY without a subscription")
	})
}

// An INVITE whose Replaces names no call of ours gets 481; one with
// early-only for a confirmed call 486.
func TestReplacesRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 2)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		d, _ := rawEstablish(t, peer, 1)
		recv(t, calls, time.Second, "answered")
		id := d.ID()
		for _, tt := range []struct {
			replaces string
			want     int
		}{
			{"nope;to-tag=a;from-tag=b", 481},
			{id.CallID + ";to-tag=" + id.RemoteTag + ";from-tag=" + id.LocalTag + ";early-only", 486},
			{id.CallID, 400},
		} {
			inv := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
			inv.Set("Replaces", tt.replaces)
			inv.Set("Require", "replaces")
			require.Equal(t, tt.want, rawSend(t, peer, inv).StatusCode, tt.replaces)
		}
	})
}

// As the transferee, B reports the new call's progress to A in NOTIFYs
// of the REFER's subscription (RFC 3515 §2.4.5): 100 Trying, then 180
// Ringing once C rings (active), then 200 OK (terminated), in CSeq order.
func TestReferNotifiesRinging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		wa := newWire()
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Tracer: wa}})
		atB := make(chan *ua.Call, 1)
		bNew := make(chan *ua.Call, 1)
		bErr := make(chan error, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(atB), OnRefer: transferee(bNew, bErr, nil)})
		newUA(t, n, "192.0.2.3:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			time.Sleep(2 * time.Second) // C rings for a while
			_, _ = ic.Answer([]byte(testSDP))
		}})
		ab, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		recv(t, atB, time.Second, "B answers A")
		require.NoError(t, ab.Transfer(t.Context(), "sip:carol@192.0.2.3:5060"))
		bc := recv(t, bNew, 10*time.Second, "B's new call")
		synctest.Wait()
		var frags, states []string
		var seqs []uint32
		for _, req := range wa.requests(sip.NOTIFY) {
			frags = append(frags, strings.TrimSpace(string(req.Body())))
			states = append(states, strings.SplitN(req.Header("Subscription-State"), ";", 2)[0])
			cs, err := req.CSeq()
			require.NoError(t, err)
			seqs = append(seqs, cs.Seq)
		}
		require.Equal(t, []string{"SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"}, frags)
		require.Equal(t, []string{"active", "active", "terminated"}, states)
		require.IsIncreasing(t, seqs)
		require.NoError(t, ab.Hangup(t.Context()))
		require.NoError(t, bc.Hangup(t.Context()))
	})
}
