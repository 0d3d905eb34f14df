package transaction

import (
	"context"

	"github.com/dialtone/dialtone/sip"
)

// Settle waits until no client transaction whose request match accepts is
// still waiting for its final response: each of them has received one, or
// has ended without one (Timer B or F, a transport error, Close). The
// transactions keep running meanwhile — requests are retransmitted over
// UDP, an INVITE's CANCEL goes on — and a transaction that match accepts
// and that starts while Settle waits is waited for too. It does not wait
// for what follows a final response (Timers D and K absorbing
// retransmissions), and it stops nothing.
//
// A UA that stops calls it first, to let the BYE, CANCEL and
// unregistration it has sent reach their peers before Close cuts them off.
// It returns nil once nothing is left to wait for, ctx's error when ctx
// ends first, and ErrClosed when the layer closes first. match is called
// under a shard's lock: it must be quick, must not block and must not call
// into the Layer; it must not modify the request.
func (l *Layer) Settle(ctx context.Context, match func(*sip.Request) bool) error {
	for {
		if l.g.Shutting() {
			return ErrClosed
		}
		waits := l.unsettled(match)
		if len(waits) == 0 {
			return nil
		}
		for _, ch := range waits {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			case <-l.quit:
				return ErrClosed
			}
		}
	}
}

// unsettled returns a channel for each live client transaction that match
// accepts and that has no final response yet, closed when it gets one or
// ends.
func (l *Layer) unsettled(match func(*sip.Request) bool) []chan struct{} {
	var waits []chan struct{}
	for _, s := range l.shards {
		if !s.lock() {
			continue
		}
		for _, tx := range s.clients {
			if tx.gotFinal || tx.ended || !match(tx.req) {
				continue
			}
			if tx.settledCh == nil {
				tx.settledCh = make(chan struct{})
			}
			waits = append(waits, tx.settledCh)
		}
		s.unlock()
	}
	return waits
}
