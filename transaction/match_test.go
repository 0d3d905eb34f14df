package transaction_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// legacyReq builds a request from an RFC 2543 peer: its branch lacks the
// magic cookie (or it has none).
func legacyReq(t *testing.T, m sip.Method, toTag, branch string) *sip.Request {
	t.Helper()
	to := "<sip:bob@10.0.0.2>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	via := "SIP/2.0/UDP 10.0.0.1:5060"
	if branch != "" {
		via += ";branch=" + branch
	}
	raw := fmt.Sprintf("%s sip:bob@10.0.0.2 SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nTo: %s\r\n"+
		"From: <sip:alice@10.0.0.1>;tag=old1\r\nCall-ID: legacy-call@10.0.0.1\r\nCSeq: 5 %s\r\nContent-Length: 0\r\n\r\n",
		m, via, to, m)
	msg, err := sip.Parse([]byte(raw))
	require.NoError(t, err)
	return msg.(*sip.Request)
}

// TestLegacyMatching: RFC 2543 requests match by Request-URI, tags,
// Call-ID, CSeq and top Via (§17.2.3); the ACK by the To tag of the
// response sent.
func TestLegacyMatching(t *testing.T) {
	for _, branch := range []string{"", "oldstyle-1"} {
		t.Run("branch="+branch, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					calls.Add(1)
					r := sip.NewResponse(req, 486, "")
					r.SetToTag("srv")
					require.NoError(t, w.Respond(r))
				})
				p := newPair(t, loss{}, h, nil)
				start := time.Now()
				inject(p.server, clientAddr, legacyReq(t, sip.INVITE, "", branch))
				synctest.Wait()
				time.Sleep(time.Second) // Timer G: 486 again at 0.5 s
				inject(p.server, clientAddr, legacyReq(t, sip.INVITE, "", branch))
				synctest.Wait()
				require.Equal(t, int32(1), calls.Load())
				require.Equal(t, secs(0, 0.5, 1), p.w.sentBy(serverAddr, start, isStatus(486)))
				// An ACK with another To tag is not this transaction's.
				inject(p.server, clientAddr, legacyReq(t, sip.ACK, "other", branch))
				synctest.Wait()
				require.Len(t, p.sStray.list(), 1)
				// The right ACK confirms: Timer G stops.
				inject(p.server, clientAddr, legacyReq(t, sip.ACK, "srv", branch))
				synctest.Wait()
				require.Len(t, p.sStray.list(), 1)
				time.Sleep(10 * time.Second)
				require.Equal(t, secs(0, 0.5, 1), p.w.sentBy(serverAddr, start, isStatus(486)))
				require.Equal(t, 0, p.server.Len())
			})
		})
	}
}

// TestLegacyCancel: a CANCEL from an RFC 2543 peer finds its INVITE.
func TestLegacyCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cause atomic.Value
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
		})
		p := newPair(t, loss{}, h, nil)
		start := time.Now()
		inject(p.server, clientAddr, legacyReq(t, sip.INVITE, "", "b1"))
		synctest.Wait()
		inject(p.server, clientAddr, legacyReq(t, sip.CANCEL, "", "b1"))
		synctest.Wait()
		require.Equal(t, transaction.ErrCanceled, cause.Load())
		require.Len(t, p.w.sentBy(serverAddr, start, isStatus(200)), 1)
		require.Len(t, p.w.sentBy(serverAddr, start, isStatus(487)), 1)
	})
}

// TestLossy is a property test over a lossy network (drop, duplicate,
// delay and so reorder, from seeded sources): every transaction either
// completes with exactly one final response, or times out exactly at
// 64*T1; no handler runs twice for one request; everything ends.
//
// An INVITE that got a provisional response has no timer of its own in
// Proceeding (RFC 3261 §17.1.1.2): if every copy of the final is lost, it
// waits for its TU. So the INVITEs here are bounded the way a UA bounds a
// ringing call, by a context deadline, which sends a CANCEL; with the
// server transaction long gone, that INVITE ends 64*T1 after the CANCEL.
func TestLossy(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				calls := map[string]int{}
				h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					mu.Lock()
					calls[req.CallID()]++
					mu.Unlock()
					code := 200
					if req.Method == sip.INVITE {
						code = 486
					}
					time.Sleep(100 * time.Millisecond)
					_ = w.Respond(sip.NewResponse(req, code, ""))
				})
				drop := 0.3
				if seed > 8 {
					drop = 0.85 // so that some transactions time out
				}
				p := newPair(t, loss{drop: drop, dup: 0.2, maxDelay: 400 * time.Millisecond, seed: seed}, h, nil)
				const n = 16
				const ringTimeout = 3 * time.Minute
				var wg sync.WaitGroup
				var done, timedOut atomic.Int32
				for i := range n {
					m := sip.OPTIONS
					if i%2 == 1 {
						m = sip.INVITE
					}
					wg.Go(func() {
						start := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), ringTimeout)
						defer cancel()
						tx, err := p.client.Request(ctx, newReq(m), udp())
						require.NoError(t, err)
						finals, provisional := 0, false
						for r := range tx.Responses() {
							if r.StatusCode >= 200 {
								finals++
							} else {
								provisional = true
							}
						}
						if err := tx.Err(); err != nil {
							var te *transaction.TimeoutError
							require.ErrorAs(t, err, &te)
							require.Zero(t, finals)
							if te.Timer == "CANCEL" {
								require.True(t, provisional, "a CANCEL goes out only after a provisional response")
								require.Equal(t, ringTimeout+32*time.Second, time.Since(start))
							} else {
								require.Equal(t, 32*time.Second, time.Since(start))
							}
							timedOut.Add(1)
							return
						}
						require.Equal(t, 1, finals, "exactly one final response")
						done.Add(1)
					})
				}
				wg.Wait()
				require.Equal(t, int32(n), done.Load()+timedOut.Load())
				mu.Lock()
				for id, c := range calls {
					require.Equal(t, 1, c, "handler ran %d times for %s", c, id)
				}
				mu.Unlock()
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				require.Equal(t, 0, p.client.Len())
				require.Equal(t, 0, p.server.Len())
				t.Logf("completed %d, timed out %d", done.Load(), timedOut.Load())
			})
		})
	}
}
