package transaction_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// TestContextCancelsEveryInvite: INVITEs started with one context share
// the layer's watch of it; when it ends every one of them that has no
// final response yet is canceled (487), and the INVITEs of another
// context are not.
func TestContextCancelsEveryInvite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			require.NoError(t, w.Respond(sip.NewResponse(req, 180, "")))
			<-ctx.Done() // the layer answers 487 after the CANCEL
		})
		p := newPair(t, loss{}, h, nil)
		shared, cancelShared := context.WithCancel(t.Context())
		other, cancelOther := context.WithCancel(t.Context())
		defer cancelOther()
		start := func(ctx context.Context) *transaction.ClientTx {
			tx, err := p.client.Request(ctx, newReq(sip.INVITE), udp())
			require.NoError(t, err)
			require.Equal(t, 180, (<-tx.Responses()).StatusCode)
			return tx
		}
		var txs []*transaction.ClientTx
		for range 3 {
			txs = append(txs, start(shared))
		}
		lone := start(other)
		time.Sleep(time.Second)
		cancelShared()
		for _, tx := range txs {
			require.Equal(t, 487, (<-tx.Responses()).StatusCode)
		}
		synctest.Wait()
		select {
		case r := <-lone.Responses():
			t.Fatalf("the other context's INVITE got %d", r.StatusCode)
		default:
		}
		// A new INVITE with the ended context is canceled as soon as it
		// has rung.
		require.Equal(t, 487, (<-start(shared).Responses()).StatusCode)
		cancelOther()
		require.Equal(t, 487, (<-lone.Responses()).StatusCode)
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, 0, p.client.Len())
		require.Equal(t, 0, p.server.Len())
	})
}
