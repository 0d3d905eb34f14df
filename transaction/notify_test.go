package transaction_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// notices records what a NotifyFunc gets: the codes, then the end.
type notices struct {
	mu    sync.Mutex
	codes []int
	ends  []error
	after int // responses that came after the end
}

func (n *notices) fn(res *sip.Response, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if res == nil {
		n.ends = append(n.ends, err)
		return
	}
	if len(n.ends) > 0 {
		n.after++
	}
	n.codes = append(n.codes, res.StatusCode)
}

// TestRequestFunc: a transaction started with RequestFunc gives its
// responses and then its end, once, to the function, and no channel; the
// end carries Err (nil after a final, the timeout otherwise) at the
// instant Responses would have closed.
func TestRequestFunc(t *testing.T) {
	tests := []struct {
		name    string
		method  sip.Method
		handler transaction.Handler
		codes   []int
		end     error         // nil, or what the end matches
		endAt   time.Duration // when the end comes
	}{
		{"invite answered", sip.INVITE, transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			_ = w.Respond(sip.NewResponse(req, 180, ""))
			_ = w.Respond(sip.NewResponse(req, 200, ""))
		}), []int{180, 200}, nil, 32 * time.Second}, // Timer M
		{"options refused", sip.OPTIONS, respondWith(486), []int{486}, nil, 5 * time.Second}, // Timer K
		{"no answer", sip.OPTIONS, nil, nil, transaction.ErrTimeout, 32 * time.Second},       // Timer F
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{}, tt.handler, nil)
				if tt.handler == nil {
					p.w.blackhole[serverAddr] = true
				}
				var n notices
				start := time.Now()
				var ended time.Duration
				tx, err := p.client.RequestFunc(t.Context(), newReq(tt.method), udp(), func(res *sip.Response, err error) {
					if res == nil {
						ended = time.Since(start)
					}
					n.fn(res, err)
				})
				require.NoError(t, err)
				require.Nil(t, tx.Responses(), "no channel: the function gets everything")
				time.Sleep(time.Minute)
				synctest.Wait()
				n.mu.Lock()
				defer n.mu.Unlock()
				require.Equal(t, tt.codes, n.codes)
				require.Len(t, n.ends, 1, "one end")
				require.Zero(t, n.after)
				if tt.end == nil {
					require.NoError(t, n.ends[0])
				} else {
					require.ErrorIs(t, n.ends[0], tt.end)
				}
				require.Equal(t, tt.endAt, ended)
				require.Equal(t, 0, p.client.Len())
			})
		})
	}
}

// TestRequestFuncCallsIntoLayer: the function runs outside the shard's
// lock, so it may call into the layer: here it CANCELs the INVITE when the
// 180 comes (Cancel takes that very shard's lock), and the 487 follows.
func TestRequestFuncCallsIntoLayer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The pair serves every request on a goroutine (transaction.Go).
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			_ = w.Respond(sip.NewResponse(req, 180, ""))
			<-ctx.Done() // the CANCEL; Go answers 487
		})
		p := newPair(t, loss{}, h, nil)
		var n notices
		txc := make(chan *transaction.ClientTx, 1)
		tx, err := p.client.RequestFunc(t.Context(), newReq(sip.INVITE), udp(), func(res *sip.Response, err error) {
			n.fn(res, err)
			if res != nil && res.StatusCode == 180 {
				tx := <-txc
				tx.Cancel()
				txc <- tx
			}
		})
		require.NoError(t, err)
		txc <- tx
		time.Sleep(time.Minute)
		synctest.Wait()
		n.mu.Lock()
		defer n.mu.Unlock()
		require.Equal(t, []int{180, 487}, n.codes)
		require.Equal(t, []error{nil}, n.ends)
	})
}

// TestRequestFuncErrors: no function is refused, and a request the
// transport refuses fails RequestFunc without a call of the function.
func TestRequestFuncErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, nil, nil)
		_, err := p.client.RequestFunc(t.Context(), newReq(sip.OPTIONS), udp(), nil)
		require.ErrorIs(t, err, transaction.ErrInvalidMessage)
		refused := errors.New("refused")
		p.cn.failReq.Store(&refused)
		called := false
		_, err = p.client.RequestFunc(t.Context(), newReq(sip.OPTIONS), udp(), func(*sip.Response, error) { called = true })
		require.ErrorIs(t, err, transaction.ErrTransport)
		synctest.Wait()
		require.False(t, called)
	})
}
