package ua_test

// Reliable provisional responses (RFC 3262) as the caller: each reliable
// 1xx PRACKed once in its early dialog, retransmissions not.

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

func TestPrackReliableProvisionals(t *testing.T) {
	tests := []struct {
		name    string
		policy  ua.ReliablePolicy
		pracks  []string // RAck values expected
		require string   // Require of our INVITE
	}{
		{"supported", ua.ReliableSupported, []string{"1 1 INVITE", "2 1 INVITE"}, ""},
		{"required", ua.ReliableRequired, []string{"1 1 INVITE", "2 1 INVITE"}, "100rel"},
		{"off", ua.ReliableOff, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				var racks []string
				var prackTags []string
				var invite *sip.Request
				const tag = "uas1"
				peer := newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					switch req.Method {
					case sip.PRACK:
						to, _ := req.To()
						mu.Lock()
						racks = append(racks, req.Header("RAck"))
						prackTags = append(prackTags, to.Tag())
						mu.Unlock()
						_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
					case sip.INVITE:
						mu.Lock()
						invite = req
						mu.Unlock()
						rel := func(code int, rseq string) {
							res := sip.NewResponseTag(req, code, "", tag)
							res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
							res.Set("Require", "100rel")
							res.Set("RSeq", rseq)
							_ = w.Respond(res)
						}
						rel(180, "1")
						time.Sleep(500 * time.Millisecond)
						rel(180, "1") // a retransmission
						time.Sleep(500 * time.Millisecond)
						rel(183, "2")
						time.Sleep(time.Second)
						res := sip.NewResponseTag(req, sip.StatusOK, "", tag)
						res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
						res.SetBody([]byte(testSDP), "application/sdp")
						_ = w.Respond(res)
					default:
						_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
					}
				}, nil)
				_ = peer
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Reliable: tt.policy})
				c, err := a.Dial(t.Context(), "sip:bob@192.0.2.7:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				require.Equal(t, tt.pracks, racks)
				for _, tg := range prackTags {
					require.Equal(t, tag, tg, "the PRACK is in the early dialog")
				}
				sup := invite.Header("Supported")
				if tt.policy != ua.ReliableOff {
					require.Contains(t, sup, "100rel")
				} else {
					require.NotContains(t, sup, "100rel")
				}
				require.Equal(t, tt.require, invite.Header("Require"))
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}

// With reliable provisionals off, an INVITE that requires 100rel gets
// 420, and OPTIONS does not say 100rel.
func TestRequire100relRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(nil), Reliable: ua.ReliableOff})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.Set("Require", "100rel")
		res := rawSend(t, peer, req)
		require.Equal(t, sip.StatusBadExtension, res.StatusCode)
		require.Equal(t, "100rel", res.Header("Unsupported"))
		res = rawSend(t, peer, rawRequest(sip.OPTIONS, "sip:bob@192.0.2.2:5060"))
		require.NotContains(t, res.Header("Supported"), "100rel")
		require.NotContains(t, res.Header("Allow"), "PRACK")
	})
}

// As the callee: to an INVITE requiring 100rel, Ring goes reliably
// (Require, RSeq 1), is retransmitted from T1 doubling until the PRACK, a
// second one waits for it (ErrProvisionalPending) and then takes RSeq 2.
func TestReliableRingUntilPrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		pending := make(chan *ua.IncomingCall, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: pendingCalls(pending)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.Set("Require", "100rel")
		req.SetBody([]byte(testSDP), "application/sdp")
		start := time.Now()
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		ic := recv(t, pending, time.Second, "incoming call")
		require.NoError(t, ic.Ring())
		require.ErrorIs(t, ic.Ring(), ua.ErrProvisionalPending)
		require.True(t, ic.ProvisionalPending())
		var rings []time.Duration
		var first *sip.Response
		for len(rings) < 4 {
			res := recv(t, tx.Responses(), 10*time.Second, "180")
			if res.StatusCode != sip.StatusRinging {
				continue
			}
			require.Equal(t, "100rel", res.Header("Require"))
			require.Equal(t, "1", res.Header("RSeq"))
			rings = append(rings, time.Since(start).Round(100*time.Millisecond))
			first = res
		}
		require.Equal(t, []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond}, rings)
		d, err := dialog.NewUAC(req, first)
		require.NoError(t, err)
		prack, err := d.NewRequest(sip.PRACK, nil, "")
		require.NoError(t, err)
		prack.Set("RAck", "2 1 INVITE")
		require.Equal(t, 481, rawSend(t, peer, prack).StatusCode, "RAck of no pending 1xx")
		prack, err = d.NewRequest(sip.PRACK, nil, "")
		require.NoError(t, err)
		prack.Set("RAck", "1 1 INVITE")
		require.Equal(t, 200, rawSend(t, peer, prack).StatusCode)
		require.False(t, ic.ProvisionalPending())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for len(tx.Responses()) > 0 {
			res := <-tx.Responses()
			require.NotEqual(t, sip.StatusRinging, res.StatusCode, "no retransmission after the PRACK")
		}
		require.NoError(t, ic.Ring())
		res := recv(t, tx.Responses(), time.Second, "second 180")
		require.Equal(t, "2", res.Header("RSeq"))
		_, err = ic.Answer([]byte(testSDP))
		require.NoError(t, err)
		final, err := tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, 200, final.StatusCode)
		ackRaw(t, peer, req, final)
	})
}

// Without a PRACK within 64·T1 the INVITE is refused with 500.
func TestReliableWithoutPrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		pending := make(chan *ua.IncomingCall, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: pendingCalls(pending)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.Set("Require", "100rel")
		start := time.Now()
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		ic := recv(t, pending, time.Second, "incoming call")
		require.NoError(t, ic.Ring())
		final, err := tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, sip.StatusServerInternalError, final.StatusCode)
		require.Equal(t, 32*time.Second, time.Since(start).Round(time.Second))
		_, err = ic.Answer(nil)
		require.ErrorIs(t, err, ua.ErrAnswered)
	})
}

// A line's policy overrides the UA's for its calls: Required adds
// Require: 100rel, Off takes 100rel out of the INVITE's Supported.
func TestReliablePolicyPerLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		invites := make(chan *sip.Request, 4)
		newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			if req.Method == sip.INVITE {
				invites <- req
				_ = w.Respond(sip.NewResponse(req, sip.StatusBusyHere, ""))
				return
			}
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
		}, nil)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{
			{AOR: "sip:req@192.0.2.1", Reliable: ua.ReliableRequired},
			{AOR: "sip:off@192.0.2.1", Reliable: ua.ReliableOff},
			{AOR: "sip:ua@192.0.2.1"},
		}})
		for i, want := range []struct{ require, supported string }{
			{"100rel", "100rel, replaces, timer"},
			{"", "replaces, timer"},
			{"", "100rel, replaces, timer"},
		} {
			_, err := a.Dial(t.Context(), "sip:bob@192.0.2.7:5060", ua.DialOptions{SDP: []byte(testSDP), Line: a.Lines()[i]})
			require.Error(t, err)
			inv := recv(t, invites, time.Second, "INVITE")
			require.Equal(t, want.require, inv.Header("Require"), "line %d", i)
			require.Equal(t, want.supported, inv.Header("Supported"), "line %d", i)
		}
	})
}
