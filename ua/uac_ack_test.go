package ua_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestUACAcksEvery2xx: the UA core ACKs the first 2xx and each of its
// retransmissions (RFC 3261 §13.2.2.4), and once Dial has returned no
// goroutine of ours waits on the answered INVITE for the rest of Timer M.
func TestUACAcksEvery2xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		var mu sync.Mutex
		var acks int
		var w transaction.ResponseWriter
		var ok *sip.Response
		peer := newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, rw transaction.ResponseWriter, req *sip.Request) {
			res := sip.NewResponse(req, 200, "")
			if req.Method == sip.INVITE {
				res.Add("Contact", "<sip:peer@192.0.2.7:5060>")
				res.SetBody([]byte(testSDP), "application/sdp")
				mu.Lock()
				w, ok = rw, res
				mu.Unlock()
			}
			_ = rw.Respond(res)
		}, func(in transport.Incoming) {
			if req, isReq := in.Msg.(*sip.Request); isReq && req.Method == sip.ACK {
				mu.Lock()
				acks++
				mu.Unlock()
			}
		})
		synctest.Wait()
		g0 := runtime.NumGoroutine()
		call, err := a.Dial(t.Context(), "sip:peer@192.0.2.7:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		synctest.Wait()
		for range 2 { // the UAS core retransmits its 2xx until the ACK (§13.3.1.4)
			time.Sleep(500 * time.Millisecond)
			mu.Lock()
			require.NoError(t, w.Respond(ok))
			mu.Unlock()
			synctest.Wait()
		}
		mu.Lock()
		require.Equal(t, 3, acks, "one ACK per 2xx")
		mu.Unlock()
		// Inside Timer M: the call is up and nothing of ours waits on it.
		require.LessOrEqual(t, runtime.NumGoroutine(), g0, "no goroutine per answered outgoing call")
		// After Timer M no transaction matches: a 2xx that still comes is
		// discarded (RFC 6026 §8.9), not acknowledged.
		time.Sleep(40 * time.Second)
		mu.Lock()
		stale := ok
		mu.Unlock()
		require.NoError(t, peer.tp.SendResponse(t.Context(), stale, transport.Flow{Network: transport.UDP, Remote: parseAP("192.0.2.1:5060")}))
		synctest.Wait()
		mu.Lock()
		require.Equal(t, 3, acks, "no ACK for a 2xx after Timer M")
		mu.Unlock()
		require.NoError(t, call.Hangup(t.Context()))
	})
}
