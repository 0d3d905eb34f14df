package ua_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// wire is a transport.Tracer that keeps, parsed, every message its layer
// received: what a peer saw on the wire, retransmissions included.
type wire struct {
	mu   sync.Mutex
	msgs []sip.Message
}

func newWire() *wire {
	return &wire{}
}

func (w *wire) lock()   { w.mu.Lock() }
func (w *wire) unlock() { w.mu.Unlock() }

// Trace implements transport.Tracer.
func (w *wire) Trace(ev transport.TraceEvent) {
	if ev.Direction != transport.In {
		return
	}
	m, err := sip.Parse(append([]byte(nil), ev.Data...))
	if err != nil {
		return
	}
	w.lock()
	w.msgs = append(w.msgs, m)
	w.unlock()
}

// requests returns the requests of method m received, in order.
func (w *wire) requests(m sip.Method) []*sip.Request {
	w.lock()
	defer w.unlock()
	var out []*sip.Request
	for _, x := range w.msgs {
		if r, ok := x.(*sip.Request); ok && r.Method == m {
			out = append(out, r)
		}
	}
	return out
}

// responses returns the responses to method m received (by CSeq), in
// order.
func (w *wire) responses(m sip.Method) []*sip.Response {
	w.lock()
	defer w.unlock()
	var out []*sip.Response
	for _, x := range w.msgs {
		if r, ok := x.(*sip.Response); ok {
			if cs, err := r.CSeq(); err == nil && cs.Method == m {
				out = append(out, r)
			}
		}
	}
	return out
}

// newTracedPeer is newRawPeer whose received messages a wire keeps.
func newTracedPeer(t *testing.T, n *memnet.Network, addr string, h transaction.HandlerFunc, stray func(transport.Incoming)) (*rawPeer, *wire) {
	t.Helper()
	w := newWire()
	tp, err := transport.New(transport.Config{Net: n, Tracer: w})
	require.NoError(t, err)
	tx, err := transaction.New(tp, transaction.Config{Handler: transaction.Go(peerTU{h: h, stray: stray})})
	require.NoError(t, err)
	_, err = tp.Listen(context.Background(), transport.UDP, addr)
	require.NoError(t, err)
	p := &rawPeer{tp: tp, tx: tx}
	t.Cleanup(p.close)
	return p, w
}

// recv waits up to d for a value on ch; the test fails if none comes.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
	}
	var zero T
	return zero
}

// toTag returns the To tag of a response.
func toTag(res *sip.Response) string {
	a, _ := res.To()
	return a.Tag()
}
