package transaction

import (
	"context"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// NotifyFunc gets a client transaction's responses and its end, for a
// transaction started with RequestFunc: res is each response, in the order
// Responses would deliver it; the last call has res nil and err the
// transaction's Err (nil when a final response came). It runs after the
// shard's lock is released, on the goroutine that stepped the transaction
// (a transport reader, a timer, or the caller of Request or Cancel): it
// may call into the Layer (answer a server transaction, start another
// client transaction) but must not block for long, since it holds up that
// goroutine's other work.
type NotifyFunc func(res *sip.Response, err error)

// RequestFunc starts a client transaction as Request does, but delivers
// its responses to fn instead of the Responses channel (which is nil):
// a transaction user can run as an event-driven machine, without a
// goroutine that waits on the channel. fn may run before RequestFunc
// returns (a response that came back at once); it is never called when
// RequestFunc returns an error. After Close, the end of a transaction is
// not notified.
func (l *Layer) RequestFunc(ctx context.Context, req *sip.Request, target transport.Target, fn NotifyFunc) (*ClientTx, error) {
	if fn == nil {
		return nil, ErrInvalidMessage
	}
	return l.request(ctx, req, target, fn)
}

// notice is a call of a NotifyFunc left for after the shard's lock.
type notice struct {
	fn  NotifyFunc
	res *sip.Response
	err error
}

// notify queues a call of tx's NotifyFunc for when the shard's lock is
// released; the shard is locked.
func (s *shard) notify(tx *ClientTx, res *sip.Response, err error) {
	s.after.notices = append(s.after.notices, notice{fn: tx.notify, res: res, err: err})
}
