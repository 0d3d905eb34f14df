package transaction

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Transport is what the layer needs from the transport beneath it: three
// ways to send, and one binding of the layer as the handler of everything
// the transport reads. *transport.Layer implements it; tests can put
// anything in its place.
//
// The layer calls the send methods under a shard's lock, so they must not
// deliver a message to the layer on the calling goroutine (a transport
// delivers from its reader goroutines).
type Transport interface {
	// SendRequest sends a request to t. It fills in the top Via's
	// transport and sent-by (keeping the branch the caller set) and
	// returns the flow used, on which retransmissions go with SendOn.
	SendRequest(ctx context.Context, req *sip.Request, t transport.Target) (transport.Flow, error)
	// SendResponse sends a response to a request that arrived on f, per
	// RFC 3261 §18.2.2 and RFC 3581 §4.
	SendResponse(ctx context.Context, res *sip.Response, f transport.Flow) error
	// SendOn sends a message on a flow as it is (retransmissions, ACK).
	SendOn(ctx context.Context, m sip.Message, f transport.Flow) error
	// Serve binds h as the receiver of every message read and every flow
	// failure. New calls it once, before the transport listens.
	Serve(h transport.Handler) error
}

var _ Transport = (*transport.Layer)(nil)

// Handler is the transaction user (TU): the UA core, a proxy, a test. It
// gets the requests that start server transactions and the messages RFC
// 3261 hands to the core directly.
//
// Both methods run on the goroutine that delivered the message (a
// transport reader), outside the layer's locks, so they must not block:
// a request whose answer needs host code that may block is handed to a
// goroutine by the handler, or by wrapping the handler with Go.
type Handler interface {
	// ServeSIP gets each request that starts a server transaction (not a
	// retransmission, an ACK or a CANCEL). Having been called, it owns
	// the answer: it must see that a final response is sent through w,
	// now or later from any goroutine; the layer does not answer for it
	// (Go does: 500, or 487 after a CANCEL).
	//
	// ctx is canceled with cause ErrCanceled when a CANCEL for this INVITE
	// arrives (the layer answers the CANCEL 200 itself, RFC 3261 §9.2; the
	// handler should answer the INVITE 487), with a *TransportError or
	// *TimeoutError (Timer H) when the transaction fails, with ErrClosed
	// when the layer closes, and with ErrTerminated when the transaction
	// ends normally — over UDP, as soon as it only absorbs retransmissions
	// (non-INVITE Completed, INVITE Accepted after a 2xx): see linger.go.
	// In Accepted the handler may still send 2xx retransmissions; Respond
	// then reports a transport failure itself. context.Cause tells which.
	ServeSIP(ctx context.Context, w ResponseWriter, req *sip.Request)
	// HandleDirect gets what matches no transaction and RFC 3261 gives to
	// the core: ACKs for 2xx responses (§17.2.3 via RFC 6026 §8.7, also
	// those that match an INVITE server transaction in Accepted),
	// responses that match no client transaction (2xx retransmissions
	// after the INVITE client transaction ended: RFC 6026 §8.9 has every
	// element but a stateless proxy discard them), and ACKs that match
	// nothing. Calls for messages from different sockets or
	// connections may run concurrently.
	HandleDirect(in transport.Incoming)
}

// HandlerFunc adapts a function to Handler: ServeSIP calls f, and
// HandleDirect drops what it gets.
type HandlerFunc func(ctx context.Context, w ResponseWriter, req *sip.Request)

// ServeSIP calls f.
func (f HandlerFunc) ServeSIP(ctx context.Context, w ResponseWriter, req *sip.Request) {
	f(ctx, w, req)
}

// HandleDirect drops in.
func (HandlerFunc) HandleDirect(transport.Incoming) {}

// Go returns a Handler that runs each ServeSIP of h on a goroutine of its
// own, for handlers that may block, like net/http's. If h.ServeSIP
// returns without having sent a final response, the layer answers 487
// Request Terminated for an INVITE whose context was canceled by a CANCEL
// and 500 Server Internal Error otherwise. The goroutines belong to the
// layer: Close cancels their contexts (cause ErrClosed) and waits for them.
// A panic in h.ServeSIP is recovered and logged with its stack at error
// level, and the request is answered 500 as above: one faulty handler does
// not end the process. HandleDirect is h's, on the delivering goroutine.
func Go(h Handler) Handler { return goHandler{h} }

type goHandler struct{ h Handler }

func (g goHandler) ServeSIP(ctx context.Context, w ResponseWriter, req *sip.Request) {
	t, ok := w.(*serverTx)
	if !ok {
		// Not one of our transactions (a test double): nothing owns a
		// goroutine, so serve here.
		g.h.ServeSIP(ctx, w, req)
		return
	}
	l := t.s.l
	if !l.g.Enter() {
		return // closed: the transaction has ended with ErrClosed
	}
	go l.serve(g.h, t, req)
}

func (g goHandler) HandleDirect(in transport.Incoming) { g.h.HandleDirect(in) }

// serve runs h for t on the goroutine Go started and answers for it if it
// did not.
func (l *Layer) serve(h Handler, t *serverTx, req *sip.Request) {
	defer l.g.Done()
	l.serveRecover(h, t, req)
	t.mu.Lock()
	answered, tag := t.finalCode != 0, t.tag
	t.mu.Unlock()
	if answered || t.done.Load() || l.g.Shutting() {
		return
	}
	code := 500
	if req.Method == sip.INVITE && t.hctx.causeOf() == ErrCanceled {
		code = 487
	}
	res := sip.NewResponse(req, code, "")
	if tag != "" {
		res.SetToTag(tag)
	}
	_ = t.Respond(res) // the transaction may have ended meanwhile
}

// serveRecover runs h.ServeSIP and recovers a panic in it (see Go).
func (l *Layer) serveRecover(h Handler, t *serverTx, req *sip.Request) {
	defer func() {
		if r := recover(); r != nil && l.log != nil {
			l.log.LogAttrs(context.Background(), slog.LevelError, "transaction: handler panicked; request answered 500",
				slog.String("call_id", req.CallID()), slog.String("method", string(req.Method)),
				slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
		}
	}()
	h.ServeSIP(&t.hctx, t, req)
}
