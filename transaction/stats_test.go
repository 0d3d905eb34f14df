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

// TestStatsCountRetransmissions: Timer E's copies are counted where they
// are sent and where they are absorbed; a late copy reaching a finished
// transaction counts too.
func TestStatsCountRetransmissions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			require.NoError(t, w.Respond(sip.NewResponse(req, 202, "")))
		})
		p := newPair(t, loss{}, h, nil)
		req := newReq(sip.MESSAGE)
		tx, err := p.client.Request(t.Context(), req, udp())
		require.NoError(t, err)
		require.Equal(t, 1, p.client.Stats().Live)
		// Timer E: copies at 0.5, 1.5 and 3.5 s (no provisional, so the
		// interval doubles up to T2).
		time.Sleep(4 * time.Second)
		synctest.Wait()
		require.Equal(t, uint64(3), p.client.Stats().RetransmitsSent)
		require.Equal(t, uint64(3), p.server.Stats().RetransmitsReceived)
		close(release)
		synctest.Wait()
		inject(p.server, clientAddr, req)
		synctest.Wait()
		require.Equal(t, uint64(4), p.server.Stats().RetransmitsReceived)
		require.Zero(t, p.server.Stats().RetransmitsSent)
		require.Equal(t, []int{202}, collect(tx))
	})
}

// TestStatsTimerG: an INVITE refused 486 whose ACK never comes is sent
// again by Timer G, and each copy is counted; the 100 Trying the layer
// sends on its own after 200 ms is not a retransmission.
func TestStatsTimerG(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			time.Sleep(time.Second) // the layer answers 100 meanwhile
			_ = w.Respond(sip.NewResponse(req, 486, ""))
		})
		p := newPair(t, loss{}, h, nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), udp())
		require.NoError(t, err)
		p.w.mu.Lock()
		p.w.blackhole[serverAddr] = true // from now on the ACKs are lost
		p.w.mu.Unlock()
		require.Equal(t, 100, (<-tx.Responses()).StatusCode)
		require.Zero(t, p.server.Stats().RetransmitsSent, "the 100 Trying is none")
		require.Equal(t, 486, (<-tx.Responses()).StatusCode)
		// Timer G: 0.5, 1.5, 3.5 s after the 486.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		require.Equal(t, uint64(3), p.server.Stats().RetransmitsSent)
	})
}
