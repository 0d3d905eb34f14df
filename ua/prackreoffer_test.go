package ua_test

// RFC 3262 §5 as the caller, in virtual time against a raw UAS: a new
// offer of the host's in the PRACK of a reliable 183 that answered the
// INVITE (DialOptions.PrackOffer), its answer in the PRACK's 200, the
// session left as it was when the PRACK is refused, and a 2xx to the
// INVITE that overtakes the PRACK's 200 waiting for it.

import (
	"context"
	"slices"
	"strings"
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

// The SDP of TestPrackOfferHostSDP: our new offer (sendonly, o= version
// 2) and the UAS's answer to it (recvonly, another port).
var (
	prackNewOffer = strings.NewReplacer("o=- 1 1", "o=- 1 2", "a=sendrecv", "a=sendonly").Replace(testSDP)
	prackAnswer   = strings.NewReplacer("o=- 2 2", "o=- 2 3", "5000", "5002", "a=sendrecv", "a=recvonly").Replace(peerSDP)
)

func TestPrackOfferHostSDP(t *testing.T) {
	tests := []struct {
		name     string
		reliable bool   // the 183 is sent reliably
		offer    bool   // PrackOffer gives an offer
		reply    int    // the UAS's status to the PRACK
		answer   string // the SDP of that reply
		overtake bool   // the UAS sends the INVITE's 200 before it answers the PRACK
		asked    int    // times PrackOffer is asked
		updated  bool   // EventCallUpdated with the answer
		refused  bool   // EventCallUpdated with ErrPrackOfferRefused
		local    string // Call.LocalSDP at the end
		remote   string // Call.RemoteSDP at the end
	}{
		{"answered in the PRACK's 200", true, true, 200, prackAnswer, false, 1, true, false, prackNewOffer, prackAnswer},
		{"the INVITE's 200 overtakes the PRACK's", true, true, 200, prackAnswer, true, 1, true, false, prackNewOffer, prackAnswer},
		{"PRACK refused with 488", true, true, 488, "", false, 1, false, true, testSDP, peerSDP},
		{"PRACK's 200 without SDP", true, true, 200, "", false, 1, false, true, testSDP, peerSDP},
		{"the host offers nothing", true, false, 200, "", false, 1, false, false, testSDP, peerSDP},
		{"an unreliable 183 is not PRACKed", false, true, 0, "", false, 0, false, false, testSDP, peerSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				var pracks []*sip.Request
				prackIn := make(chan struct{}, 1)
				okSent := make(chan struct{}, 1)
				const tag = "uas1"
				final := func(req *sip.Request) *sip.Response {
					res := sip.NewResponseTag(req, sip.StatusOK, "", tag)
					res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
					body := peerSDP
					if tt.updated {
						body = tt.remote // the 2xx repeats the latest answer
					}
					res.SetBody([]byte(body), "application/sdp")
					return res
				}
				var invite *sip.Request
				var inviteW transaction.ResponseWriter
				newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					switch req.Method {
					case sip.PRACK:
						mu.Lock()
						pracks = append(pracks, req)
						mu.Unlock()
						if tt.overtake {
							_ = inviteW.Respond(final(invite))
							time.Sleep(time.Second)
						}
						res := sip.NewResponse(req, tt.reply, "")
						if tt.answer != "" {
							res.SetBody([]byte(tt.answer), "application/sdp")
						}
						_ = w.Respond(res)
						prackIn <- struct{}{}
					case sip.INVITE:
						invite, inviteW = req, w
						res := sip.NewResponseTag(req, sip.StatusSessionProgress, "", tag)
						res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
						if tt.reliable {
							res.Set("Require", "100rel")
							res.Set("RSeq", "1")
						}
						res.SetBody([]byte(peerSDP), "application/sdp")
						_ = w.Respond(res)
						if tt.reliable {
							<-prackIn
						}
						if !tt.overtake {
							time.Sleep(time.Second)
							_ = w.Respond(final(req))
						}
						okSent <- struct{}{}
					default:
						_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
					}
				}, nil)
				a, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				asked := 0
				c, err := a.Dial(t.Context(), "sip:bob@192.0.2.7:5060", ua.DialOptions{
					SDP: []byte(testSDP),
					PrackOffer: func(early *ua.Call, res *sip.Response) *ua.MediaChange {
						asked++
						require.Equal(t, ua.CallRinging, early.State())
						require.Equal(t, peerSDP, string(res.Body()), "asked with the 183 that answered")
						if !tt.offer {
							return nil
						}
						return &ua.MediaChange{SDP: []byte(prackNewOffer)}
					},
				})
				require.NoError(t, err)
				<-okSent
				synctest.Wait()
				require.Equal(t, tt.asked, asked, "PrackOffer asked")
				mu.Lock()
				if tt.reliable {
					require.Len(t, pracks, 1)
					want := ""
					if tt.offer {
						want = prackNewOffer
					}
					require.Equal(t, want, string(pracks[0].Body()), "the PRACK's SDP")
				} else {
					require.Empty(t, pracks)
				}
				mu.Unlock()
				e, found := rec.find(ua.EventCallUpdated)
				require.Equal(t, tt.updated || tt.refused, found, "EventCallUpdated")
				if found {
					if tt.refused {
						require.ErrorIs(t, e.Err, ua.ErrPrackOfferRefused)
					} else {
						require.NoError(t, e.Err)
						require.Equal(t, prackAnswer, string(e.SDP))
					}
					kinds := rec.kinds()
					require.Less(t, slices.Index(kinds, ua.EventCallUpdated), slices.Index(kinds, ua.EventCallAnswered),
						"the exchange ends before the 2xx is taken: %v", kinds)
				}
				require.Equal(t, tt.local, string(c.LocalSDP()))
				require.Equal(t, tt.remote, string(c.RemoteSDP()))
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}
