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
				if tt.policy == ua.ReliableSupported {
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

// As the callee the UA sends no reliable provisional: an INVITE that
// requires 100rel gets 420, and OPTIONS does not say 100rel.
func TestRequire100relRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(nil)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.Set("Require", "100rel")
		res := rawSend(t, peer, req)
		require.Equal(t, sip.StatusBadExtension, res.StatusCode)
		require.Equal(t, "100rel", res.Header("Unsupported"))
		res = rawSend(t, peer, rawRequest(sip.OPTIONS, "sip:bob@192.0.2.2:5060"))
		require.NotContains(t, res.Header("Supported"), "100rel")
	})
}
