package transaction

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dialtone/dialtone/internal/timerheap"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

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

	// hctx is the handler's context (ServeSIP's ctx).
	hctx handlerCtx

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
	// keyBuf holds the key's strings when they fit (detachInto).
	keyBuf [keyBufLen]byte
	// tagBuf holds tag when it fits (ownTag); written once, under mu.
	tagBuf [tagBufLen]byte
}

// tagBufLen is the room a server transaction keeps for the To tag of its
// responses (ours are 16 characters); a longer one is copied apart.
const tagBufLen = 32

// ownTag returns a copy of tag that belongs to the transaction: in buf
// when it fits (the string then keeps the transaction alive, no longer
// than the transaction keeps it), else a clone.
func ownTag(buf *[tagBufLen]byte, tag string) string {
	if tag == "" || len(tag) > len(buf) {
		return strings.Clone(tag)
	}
	n := copy(buf[:], tag)
	return unsafe.String(&buf[0], n)
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
		t.tag = ownTag(&t.tagBuf, toTagOf(res))
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
	t.hctx.end(cause)
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
		s.l.st.rtxReceived.Add(1)
		s.stepServer(now, t, input{kind: inRequest}, &in)
		return
	}
	if tb, ok := s.tombOf(k); ok {
		s.l.st.rtxReceived.Add(1)
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
	s.after.serve = append(s.after.serve, t)
}

// serveTU hands a new server transaction to the Handler once the shard's
// lock is released, on the delivering goroutine.
func (l *Layer) serveTU(t *serverTx) {
	req := t.req
	// The handler holds req as long as it needs it; the transaction does
	// not, so a transaction waiting out its timers keeps no buffer alive.
	t.req = nil
	l.cfg.Handler.ServeSIP(&t.hctx, t, req)
}

// stateless answers a request without a transaction (limits, shutdown).
func (s *shard) stateless(req *sip.Request, f transport.Flow, code int) {
	if err := s.l.t.SendResponse(s.l.ctx, sip.NewResponse(req, code, ""), f); err != nil {
		s.l.debug("stateless response failed", req)
	}
}

// newServer creates and registers a server transaction.
func (s *shard) newServer(now time.Time, req *sip.Request, f transport.Flow, k requestKey) *serverTx {
	// The maps keep the key for as long as the transaction lives, up to
	// 64·T1 after the request is gone: its strings must be its own.
	reliable := f.Network.Reliable()
	var t *serverTx
	if req.Method == sip.INVITE {
		c := new(struct {
			tx serverTx
			m  serverInvite
		})
		t = &c.tx
		c.m.init(now, &s.l.timers, req, reliable)
		t.invite, t.m = &c.m, &c.m
	} else {
		c := new(struct {
			tx serverTx
			m  serverNonInvite
		})
		t = &c.tx
		c.m.init(now, &s.l.timers, reliable)
		t.m = &c.m
	}
	t.s, t.req, t.method, t.flow = s, req, req.Method, f
	t.key = k.detachInto(&t.keyBuf)
	t.item.Value = t
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
			inv.hctx.end(ErrCanceled)
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
	var buf outBuf
	var fail error
	for _, o := range stepped(&buf, t.m.step(now, i)) {
		switch o.kind {
		case outSendResponse:
			if i.kind == inTimer && final(o.res.StatusCode) {
				s.l.st.rtxSent.Add(1) // Timer G, not the delayed 100 Trying
			}
			if tag := toTagOf(o.res); tag != "" && tag != t.lastTag {
				// Its own copy: a response built from the request (a
				// BYE's 200) has its To tag in the request's buffer,
				// which the transaction must not keep for 64·T1. The
				// copy Respond made serves when it is the same tag.
				t.mu.Lock()
				own := t.tag
				t.mu.Unlock()
				if tag == own {
					t.lastTag = own
				} else {
					t.lastTag = strings.Clone(tag)
				}
			}
			if err := s.l.t.SendResponse(s.l.ctx, o.res, t.flow); err != nil && !t.ended && !lost(err, t.flow) {
				s.stepServer(now, t, input{kind: inTransportError, err: &TransportError{Err: err}}, nil)
			}
		case outPassAck:
			if in != nil {
				s.stray(*in)
			}
		case outFail:
			if te, ok := o.err.(*TimeoutError); ok {
				te.onFlow(t.method, t.flow)
			}
			fail = o.err
			t.hctx.end(o.err) // inform the TU
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
