package transaction_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Abandon ends a silent non-INVITE client transaction at once: no more
// retransmissions, Err is ErrAbandoned. It leaves alone a transaction
// that has had a response, and an INVITE.
func TestClientAbandon(t *testing.T) {
	tests := []struct {
		name     string
		method   sip.Method
		answer   int // the server's provisional, 0: silent
		abandons bool
	}{
		{"silent OPTIONS", sip.OPTIONS, 0, true},
		{"OPTIONS after 100", sip.OPTIONS, 100, false},
		{"silent INVITE", sip.INVITE, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
					if tt.answer != 0 {
						_ = w.Respond(sip.NewResponse(req, tt.answer, ""))
					}
					<-ctx.Done()
				})
				p := newPair(t, loss{}, h, nil)
				if tt.answer == 0 {
					p.w.mu.Lock()
					p.w.blackhole = map[netip.AddrPort]bool{serverAddr: true}
					p.w.mu.Unlock()
				}
				t0 := time.Now()
				tx, err := p.client.Request(t.Context(), newReq(tt.method), udp())
				require.NoError(t, err)
				time.Sleep(2 * time.Second)
				synctest.Wait()
				tx.Abandon()
				synctest.Wait()
				before := len(p.w.sentBy(clientAddr, t0, isRequest))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				after := len(p.w.sentBy(clientAddr, t0, isRequest))
				if !tt.abandons {
					require.Greater(t, after, before, "still retransmitting")
					require.NotErrorIs(t, tx.Err(), transaction.ErrAbandoned)
					return
				}
				_, open := <-tx.Responses()
				require.False(t, open, "Responses closed")
				require.ErrorIs(t, tx.Err(), transaction.ErrAbandoned)
				require.Equal(t, before, after, "no retransmission after Abandon")
				require.Equal(t, 3, before, "sent at 0, 0.5 and 1.5 s")
			})
		})
	}
}

func isRequest(m sip.Message) bool { _, ok := m.(*sip.Request); return ok }
