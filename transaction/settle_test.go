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

func onlyBye(r *sip.Request) bool { return r.Method == sip.BYE }

// TestSettle: Settle waits for the BYE (chosen by match) to get its final
// response, through retransmissions, and not for the OPTIONS it does not
// choose; it stops nothing.
func TestSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, respondWith(200), nil)
		p.w.mu.Lock()
		p.w.blackhole[serverAddr] = true // every copy lost until lifted
		p.w.mu.Unlock()
		start := time.Now()
		bye, err := p.client.Request(t.Context(), newReq(sip.BYE), udp())
		require.NoError(t, err)
		opts, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		require.ErrorIs(t, p.client.Settle(ctx, onlyBye), context.DeadlineExceeded, "the BYE has no answer yet")

		p.w.mu.Lock()
		delete(p.w.blackhole, serverAddr)
		p.w.mu.Unlock()
		require.NoError(t, p.client.Settle(t.Context(), onlyBye))
		require.Equal(t, 3500*time.Millisecond, time.Since(start), "answered at the third retransmission (0.5, 1.5, 3.5 s)")
		res, err := bye.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, 2, p.client.Len(), "both transactions still run (Timer K, the OPTIONS)")
		require.NoError(t, p.client.Settle(t.Context(), onlyBye), "nothing left: at once")
		require.Equal(t, 3500*time.Millisecond, time.Since(start))
		_, err = opts.Final(t.Context())
		require.NoError(t, err)
	})
}

// TestSettleEnds: a chosen transaction that never gets an answer settles
// at Timer F; Close ends the wait with ErrClosed.
func TestSettleEnds(t *testing.T) {
	tests := []struct {
		name    string
		closeAt time.Duration // 0: never
		want    error
		took    time.Duration
	}{
		{"Timer F", 0, nil, 32 * time.Second},
		{"layer closed", 10 * time.Second, transaction.ErrClosed, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{drop: 1}, respondWith(200), nil)
				start := time.Now()
				tx, err := p.client.Request(t.Context(), newReq(sip.BYE), udp())
				require.NoError(t, err)
				if tt.closeAt > 0 {
					time.AfterFunc(tt.closeAt, func() { p.client.Close() })
				}
				err = p.client.Settle(t.Context(), onlyBye)
				if tt.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tt.want)
				}
				require.Equal(t, tt.took, time.Since(start))
				_, err = tx.Final(t.Context())
				require.Error(t, err)
				if tt.want == nil {
					require.ErrorIs(t, err, transaction.ErrTimeout)
				}
			})
		})
	}
}
