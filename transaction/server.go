package transaction

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/internal/timerheap"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Handler serves the requests that create server transactions, like
// net/http's Handler.
//
// ServeSIP runs on its own goroutine per request. It answers through w,
// any number of provisional responses and then a final one, and returns
// once it has answered: absorbing retransmissions afterwards (Timers J, G,
// H, I, L) is the layer's job. If it returns without a final response the
// layer sends 487 Request Terminated for an INVITE whose context was
// canceled by a CANCEL, and 500 Server Internal Error otherwise.
//
// ctx is canceled with cause ErrCanceled when a CANCEL for this INVITE
// arrives (the layer answers the CANCEL 200 itself, RFC 3261 §9.2; the
// handler should answer the INVITE 487), with a *TransportError or
// *TimeoutError (Timer H) when the transaction fails, with ErrClosed when
// the layer closes, and with ErrTerminated when the transaction ends
// normally — over UDP, as soon as it only absorbs retransmissions
// (non-INVITE Completed, INVITE Accepted after a 2xx): see linger.go. In
// Accepted the handler may still send 2xx retransmissions; Respond then
// reports a transport failure itself. context.Cause tells which.
type Handler interface {
	ServeSIP(ctx context.Context, w ResponseWriter, req *sip.Request)
}

// InlineHandler is a Handler that can serve some requests on the
// goroutine that delivered them, saving the hand-off to a goroutine of
// their own (a context switch per request when the process is not busy).
//
// ServeInline is called first, outside the layer's locks, on a transport
// reader goroutine: it must not block. It either takes the request and
// returns true, or returns false without touching w and then ServeSIP
// runs as usual. Having taken the request it must see that a final
// response is sent, now or later from any goroutine: unlike after
// ServeSIP, the layer does not answer 500 for it.
type InlineHandler interface {
	Handler
	ServeInline(ctx context.Context, w ResponseWriter, req *sip.Request) bool
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, w ResponseWriter, req *sip.Request)

// ServeSIP calls f.
func (f HandlerFunc) ServeSIP(ctx context.Context, w ResponseWriter, req *sip.Request) {
	f(ctx, w, req)
}

// ResponseWriter is the server transaction as its handler sees it.
type ResponseWriter interface {
	// Respond sends res through the transaction (RFC 3261 §17.2): any
	// number of 1xx, then one final response; for an INVITE answered
	// 2xx, further 2xx (the UAS core's retransmissions, §13.3.1.4) may
	// follow while the transaction is in Accepted (RFC 6026 §8.7). res
	// belongs to the transaction afterwards: do not modify it. The send
	// itself happens on the caller's goroutine, under the transaction's
	// shard lock; a transport failure shows up as the cause of the
	// handler's context, or, for a 2xx retransmission once the
	// transaction only absorbs retransmissions, as Respond's
	// *TransportError. Respond fails with ErrInvalidMessage for a status
	// outside 100–699, ErrFinalSent after the final response,
	// ErrTerminated after the transaction ended, and ErrClosed after
	// Close.
	Respond(res *sip.Response) error
	// Flow is the flow the request arrived on.
	Flow() transport.Flow
}

// serverTx is a server transaction: the machine, its keys, the handler's
// context, and the state Respond checks.
type serverTx struct {
	s *shard
	// req is the request; serve (or, without a handler goroutine, the
	// shard) drops it once nothing needs it, so that a transaction waiting
	// out its timers does not keep the request's buffer alive.
	req    *sip.Request
	method sip.Method
	flow   transport.Flow
	key    requestKey

	ctx    context.Context
	cancel context.CancelCauseFunc

	// done is set under the shard lock when the transaction ends.
	done atomic.Bool

	// Guarded by mu: what Respond has accepted.
	mu        sync.Mutex
	finalCode int
	tag       string // To tag of the TU's responses

	// Guarded by the shard's lock.
	item    timerheap.Item[txn]
	m       fsm
	invite  *serverInvite
	lastTag string // To tag of the last response sent, for ACK matching
	ended   bool
	// entombed: the transaction lingers as a tomb (linger.go); m is nil.
	entombed bool
	// lingerEnd is the tomb's deadline in Unix nanoseconds, for Respond.
	lingerEnd atomic.Int64
}

// Respond implements ResponseWriter.
func (t *serverTx) Respond(res *sip.Response) error {
	if res == nil || res.StatusCode < 100 || res.StatusCode > 699 {
		return ErrInvalidMessage
	}
	t.mu.Lock()
	code := res.StatusCode
	again := t.method == sip.INVITE && t.finalCode < 300 && code >= 200 && code < 300
	switch {
	case t.finalCode != 0 && !again:
		t.mu.Unlock()
		return ErrFinalSent
	case t.done.Load(), t.lingerEnd.Load() != 0 && time.Now().UnixNano() >= t.lingerEnd.Load():
		t.mu.Unlock()
		return ErrTerminated
	case t.finalCode == 0 && final(code):
		t.finalCode = code
	}
	if t.tag == "" {
		// Its own copy: the tag may point into the request's buffer.
		t.tag = strings.Clone(toTagOf(res))
	}
	t.mu.Unlock()
	return t.s.respondTo(t, res)
}

// respondTo feeds a handler's response to its transaction under the
// shard's lock.
func (s *shard) respondTo(t *serverTx, res *sip.Response) error {
	if !s.lock() {
		return ErrClosed
	}
	err := s.respond(time.Now(), t, res)
	s.unlock()
	return err
}

// Flow implements ResponseWriter.
func (t *serverTx) Flow() transport.Flow { return t.flow }

func (t *serverTx) fire(s *shard, now time.Time) { s.stepServer(now, t, input{kind: inTimer}, nil) }

// end removes the transaction from its shard and cancels the handler's
// context with cause. Idempotent.
func (t *serverTx) end(s *shard, cause error) {
	if t.ended {
		return
	}
	t.ended = true
	t.done.Store(true)
	if t.key.legacy {
		if cur, ok := s.legacy[t.key.lkey]; ok && cur == t {
			delete(s.legacy, t.key.lkey)
		}
	} else if cur, ok := s.servers[t.key.key]; ok && cur == t {
		delete(s.servers, t.key.key)
	}
	s.heap.Remove(&t.item)
	s.l.release()
	if cause == nil {
		cause = ErrTerminated
	}
	t.cancel(cause)
}

// lookup finds the server transaction of key k; for RFC 2543 keys the To
// tag must be the one of the creating request, or for an ACK the one of
// the response sent (§17.2.3).
func (s *shard) lookup(k requestKey, ack bool) *serverTx {
	if !k.legacy {
		return s.servers[k.key]
	}
	t := s.legacy[k.lkey]
	if t == nil {
		return nil
	}
	want := t.key.toTag
	if ack {
		want = t.lastTag
	}
	if k.toTag != want {
		return nil
	}
	return t
}

// request matches a request to its server transaction (§17.2.3) or starts
// one.
func (s *shard) request(now time.Time, req *sip.Request, in transport.Incoming) {
	k, ok := requestKeyOf(req)
	if !ok {
		s.l.debug("request without Via or CSeq dropped", req)
		return
	}
	if req.Method == sip.ACK {
		t := s.lookup(k, true)
		if t == nil {
			s.stray(in) // ACK for a 2xx (§13.3.1.4), or unknown
			return
		}
		s.stepServer(now, t, input{kind: inAck}, &in)
		return
	}
	if t := s.lookup(k, false); t != nil {
		s.stepServer(now, t, input{kind: inRequest}, &in)
		return
	}
	if tb, ok := s.tombOf(k); ok {
		s.tombRequest(tb, req, in.Flow)
		return
	}
	if s.l.draining.Load() || !s.l.acquire(true) {
		s.stateless(req, in.Flow, 503)
		return
	}
	t := s.newServer(now, req, in.Flow, k)
	if req.Method == sip.CANCEL {
		s.cancelInvite(now, t, k)
		t.req = nil // no handler goroutine reads it
		return
	}
	if s.l.cfg.Handler == nil {
		s.stepServer(now, t, input{kind: inResponse, res: sip.NewResponse(req, 501, "")}, nil)
		t.req = nil
		return
	}
	if _, ok := s.l.cfg.Handler.(InlineHandler); ok {
		s.after.serve = append(s.after.serve, t)
		return
	}
	s.l.wg.Add(1)
	go s.l.serve(t)
}

// serveInline offers t to the InlineHandler once the shard's lock is
// released, and starts ServeSIP on a goroutine if it declines.
func (l *Layer) serveInline(h InlineHandler, t *serverTx) {
	req := t.req
	if h.ServeInline(t.ctx, t, req) {
		t.req = nil
		return
	}
	if !l.goStart() {
		return // closed: the transaction has ended
	}
	go l.serve(t)
}

// stateless answers a request without a transaction (limits, shutdown).
func (s *shard) stateless(req *sip.Request, f transport.Flow, code int) {
	if err := s.l.cfg.Sender.SendResponse(s.l.ctx, sip.NewResponse(req, code, ""), f); err != nil {
		s.l.debug("stateless response failed", req)
	}
}

// newServer creates and registers a server transaction.
func (s *shard) newServer(now time.Time, req *sip.Request, f transport.Flow, k requestKey) *serverTx {
	// The maps keep the key for as long as the transaction lives, up to
	// 64·T1 after the request is gone: its strings must be its own.
	k = k.detach()
	t := &serverTx{s: s, req: req, method: req.Method, flow: f, key: k}
	t.item.Value = t
	t.ctx, t.cancel = context.WithCancelCause(context.Background())
	reliable := f.Network.Reliable()
	if req.Method == sip.INVITE {
		t.invite = newServerInvite(now, &s.l.timers, req, reliable)
		t.m = t.invite
	} else {
		t.m = newServerNonInvite(now, &s.l.timers, reliable)
	}
	if k.legacy {
		s.legacy[k.lkey] = t
	} else {
		s.servers[k.key] = t
	}
	s.schedule(&t.item, t.m, now)
	return t
}

// cancelInvite answers a new CANCEL transaction t (RFC 3261 §9.2): 200 if
// it matches an INVITE server transaction, whose handler's context is then
// canceled if no final response was sent yet; 481 otherwise.
func (s *shard) cancelInvite(now time.Time, t *serverTx, k requestKey) {
	inv := s.lookup(k.withMethod(sip.INVITE), false)
	var res *sip.Response
	if tb, ok := s.tombOf(k.withMethod(sip.INVITE)); inv == nil && ok && tb.invite {
		// Answered 2xx already: the CANCEL has no effect but gets its
		// 200 (§9.2).
		res = sip.NewResponse(t.req, 200, "")
		if len(tb.tag) > 0 {
			res.SetToTag(string(tb.tag))
		}
	} else if inv == nil || inv.invite == nil {
		res = sip.NewResponse(t.req, 481, "")
	} else {
		res = sip.NewResponse(t.req, 200, "")
		if inv.lastTag != "" {
			res.SetToTag(inv.lastTag) // same tag as the INVITE's responses
		}
		if inv.invite.current() == Proceeding {
			inv.cancel(ErrCanceled)
		}
	}
	s.stepServer(now, t, input{kind: inResponse, res: res}, nil)
}

// respond feeds a handler's response to its transaction.
func (s *shard) respond(now time.Time, t *serverTx, res *sip.Response) error {
	if t.entombed {
		return s.respondEntombed(t, res)
	}
	if t.ended {
		return nil
	}
	s.stepServer(now, t, input{kind: inResponse, res: res}, nil)
	return nil
}

// tombOf returns the tomb of key k, if there is one.
func (s *shard) tombOf(k requestKey) (tombRef, bool) {
	if k.legacy {
		return tombRef{}, false
	}
	return s.tombs.find(k.key)
}

// stepServer runs the machine and then its outputs. in is the message that
// caused the step, for outPassAck.
func (s *shard) stepServer(now time.Time, t *serverTx, i input, in *transport.Incoming) {
	outs := t.m.step(now, i)
	var fail error
	for _, o := range outs {
		switch o.kind {
		case outSendResponse:
			if tag := toTagOf(o.res); tag != "" && tag != t.lastTag {
				// Its own copy: a response built from the request (a
				// BYE's 200) has its To tag in the request's buffer,
				// which the transaction must not keep for 64·T1.
				t.lastTag = strings.Clone(tag)
			}
			if err := s.l.cfg.Sender.SendResponse(s.l.ctx, o.res, t.flow); err != nil && !t.ended {
				s.stepServer(now, t, input{kind: inTransportError, err: &TransportError{Err: err}}, nil)
			}
		case outPassAck:
			if in != nil {
				s.stray(*in)
			}
		case outFail:
			fail = o.err
			t.cancel(o.err) // inform the TU
		}
	}
	if t.ended || t.entombed {
		// A failed send stepped the machine to its end, or into a tomb,
		// already.
		return
	}
	if t.m.current() == Terminated {
		t.end(s, fail)
		return
	}
	if t.lingers() && s.entomb(t, now) {
		return
	}
	if r, ok := t.m.(interface{ release() }); ok {
		r.release()
	}
	s.schedule(&t.item, t.m, now)
}

// serve runs the handler of a server transaction and answers for it if
// it did not.
func (l *Layer) serve(t *serverTx) {
	defer l.wg.Done()
	req := t.req
	// Only this goroutine reads t.req once the transaction is running.
	defer func() { t.req = nil }()
	l.cfg.Handler.ServeSIP(t.ctx, t, req)
	t.mu.Lock()
	answered, tag := t.finalCode != 0, t.tag
	t.mu.Unlock()
	if answered || t.done.Load() || l.closed.Load() {
		return
	}
	code := 500
	if req.Method == sip.INVITE && context.Cause(t.ctx) == ErrCanceled {
		code = 487
	}
	res := sip.NewResponse(req, code, "")
	if tag != "" {
		res.SetToTag(tag)
	}
	_ = t.Respond(res) // the transaction may have ended meanwhile
}
