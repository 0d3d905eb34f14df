package transaction

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
	"unsafe"

	"github.com/dialtone/dialtone/internal/timerheap"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// errNoVia stands for TopVia's error on a request without Via.
var errNoVia = errors.New("no Via")

// responseBuffer is the capacity of a client transaction's Responses
// channel. Responses beyond it wait in a queue that a goroutine feeds into
// the channel, so a shard never blocks on a slow reader.
const responseBuffer = 4

// viaPlaceholder is the sent-by of a Via that Request adds; the transport
// replaces it with the real one (RFC 3261 §18.1.1).
const viaPlaceholder = "invalid"

// ClientTx is a client transaction (RFC 3261 §17.1): a request sent and
// the responses that belong to it.
//
// Responses arrive in order on Responses, which is closed when the
// transaction ends; Err then tells why. Every provisional response, the
// final response, and for an INVITE every 2xx (retransmissions and forked
// 2xx, RFC 6026 §8.4) are delivered; retransmitted non-2xx finals and
// their ACKs are handled inside. The transaction user must ACK 2xx
// responses itself (§13.2.2.4).
type ClientTx struct {
	l   *Layer
	s   *shard
	req *sip.Request
	key clientKey
	ctx context.Context
	// flow is written by Request before it steps the sent input, read
	// under the shard lock after it.
	flow transport.Flow
	// internal marks a CANCEL the layer sent on its own: no delivery.
	internal bool
	// notify, set by RequestFunc, gets the responses and the end instead
	// of the delivery's channel.
	notify NotifyFunc

	// Guarded by the shard's lock.
	item     timerheap.Item[txn]
	m        fsm
	invite   *clientInvite
	early    []input     // inputs that arrived before the request was sent
	stopCtx  func() bool // the context's own watch (ctxwatch.go)
	watch    *ctxWatch   // or the watch it shares with others
	gotFinal bool
	ended    bool
	// settledCh, made by Layer.Settle for a transaction it waits for, is
	// closed once the transaction has its final response or has ended
	// (gotFinal || ended: it is settled).
	settledCh chan struct{}
	// inviteM or nonInviteM is the machine, allocated with the
	// transaction (newClientTx) and started by sent.
	inviteM    *clientInvite
	nonInviteM *clientNonInvite

	d delivery

	// via is the room of the Via Request adds to a request without one
	// (placeholder sent-by and the new branch, the key's): written once.
	via [viaRoom]byte
}

// viaRoom is the room a client transaction keeps for the Via it adds:
// "SIP/2.0/", the longest transport name, the placeholder sent-by and a
// branch (the magic cookie and 24 hex digits).
const viaRoom = 64

// newClientTx allocates a client transaction together with the machine its
// method needs: one allocation where there were two.
func newClientTx(method sip.Method) *ClientTx {
	if method == sip.INVITE {
		c := new(struct {
			tx ClientTx
			m  clientInvite
		})
		c.tx.inviteM = &c.m
		return &c.tx
	}
	c := new(struct {
		tx ClientTx
		m  clientNonInvite
	})
	c.tx.nonInviteM = &c.m
	return &c.tx
}

// Request starts a client transaction: it sends req to target through the
// Transport and returns the transaction once the request is on its way.
//
// If req has no Via, Request adds one with a new branch (sip.NewBranch) and
// a placeholder sent-by that the transport fills in; if its top Via has no
// branch, it gets one. A request that already has a branched Via keeps it:
// a proxy prepends its own Via before calling Request (RFC 3261 §16.6).
// req belongs to the transaction from then on: do not modify it. ACK is
// not a transaction; send an ACK for a 2xx through the Transport (SendOn).
//
// ctx bounds the send and the caller's wait, not the protocol: the
// transaction runs to its end in the layer either way, to absorb
// retransmissions. For an INVITE, ctx ending before a final response sends
// a CANCEL, as Cancel does. Once a provisional response has arrived an
// INVITE has no timer of its own until its final response (§17.1.1.2): if
// every copy of that final is lost, ctx or Cancel is what ends the wait.
// Once ctx is done, responses that do not fit the Responses channel's
// buffer are dropped.
//
// It fails with a *TransportError if the Transport fails, ErrClosed after
// Close or Shutdown, ErrTooManyTransactions at Config.MaxTransactions, and
// ErrInvalidMessage for an ACK or a request without CSeq.
func (l *Layer) Request(ctx context.Context, req *sip.Request, target transport.Target) (*ClientTx, error) {
	return l.request(ctx, req, target, nil)
}

// request is Request, with the responses going to fn when it is set
// (RequestFunc).
func (l *Layer) request(ctx context.Context, req *sip.Request, target transport.Target, fn NotifyFunc) (*ClientTx, error) {
	if req == nil || req.Method == sip.ACK || req.Method == "" {
		return nil, ErrInvalidMessage
	}
	if _, err := req.CSeq(); err != nil {
		return nil, ErrInvalidMessage
	}
	if l.g.Shutting() || l.draining.Load() {
		return nil, ErrClosed
	}
	// A request without Via (the usual case: the layer adds it) is told
	// apart before TopVia, whose error would be built only to be dropped.
	var v sip.Via
	err := errNoVia
	if req.Header("Via") != "" {
		v, err = req.TopVia()
	}
	tx := newClientTx(req.Method)
	switch {
	case err != nil:
		// No allocation: the Via value with its new branch is written
		// into the transaction's room (the string points into it and
		// keeps it alive; nothing writes it again). The transport writes
		// the Via the request leaves with, sent-by filled in, keeping
		// the branch: the one allocation of the request's Via.
		b := append(tx.via[:0], "SIP/2.0/"...)
		b = append(b, target.Network.ViaTransport()...)
		b = append(b, " "+viaPlaceholder+";branch="...)
		b = sip.AppendBranch(b)
		req.Prepend("Via", unsafe.String(&b[0], len(b))) // b grew apart only for an odd transport name
		if v, err = req.TopVia(); err != nil {
			return nil, ErrInvalidMessage
		}
	case v.Branch() == "":
		v.Params = v.Params.Set("branch", sip.NewBranch())
		req.SetTopVia(v)
	}
	key := clientKey{branch: v.Branch(), method: req.Method}
	if !l.acquire(true) {
		return nil, ErrTooManyTransactions
	}
	tx.l, tx.s, tx.req, tx.key, tx.ctx, tx.notify = l, l.shardFor(key.branch), req, key, ctx, fn
	tx.item.Value = tx
	if fn == nil {
		tx.d.ch = make(chan *sip.Response, responseBuffer)
	}
	if !tx.s.lock() {
		l.release()
		return nil, ErrClosed
	}
	tx.s.register(tx)
	tx.s.unlock()
	flow, err := l.t.SendRequest(ctx, req, target)
	if lost(err, flow) {
		l.debug("request dropped by this host; retransmissions repeat it", req)
		err = nil
	}
	if err != nil {
		err = &TransportError{Err: err}
	}
	tx.flow = flow
	if !tx.s.lock() {
		// The layer closed after registering: it has ended tx already.
		return nil, ErrClosed
	}
	if err != nil {
		tx.notify = nil // the caller hears of the failure from the return
	}
	tx.s.sent(time.Now(), tx, err)
	tx.s.unlock()
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// Request returns the request the transaction sent.
func (c *ClientTx) Request() *sip.Request { return c.req }

// Flow returns the flow the request went out on.
func (c *ClientTx) Flow() transport.Flow { return c.flow }

// Responses returns the channel of the transaction's responses, in the
// order they arrived; it is closed when the transaction ends. It is nil
// for a transaction started with RequestFunc.
func (c *ClientTx) Responses() <-chan *sip.Response { return c.d.ch }

// Err tells why the transaction ended, once Responses is closed: nil after
// a final response, a *TimeoutError (ErrTimeout) when Timer B or F expired,
// a *TransportError (ErrTransport; wrapping a *transport.UnreachableError
// matching transport.ErrPortUnreachable when the peer's host answered ICMP
// port unreachable), ErrClosed when the layer closed,
// ErrDuplicate when the branch was in use. Before the end it returns nil.
func (c *ClientTx) Err() error {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	return c.d.err
}

// Cancel asks to cancel an INVITE (RFC 3261 §9.1): the layer sends a CANCEL
// built by NewCancel once a provisional response has arrived, and not at
// all if a final response came first. If no final response follows within
// 64·T1 the transaction ends with a *TimeoutError{Timer: "CANCEL"}; with
// no provisional response at all, Timer B ends it. The INVITE's final
// response (normally 487) still arrives on Responses. Cancel does nothing
// for other methods or after the transaction ended.
func (c *ClientTx) Cancel() {
	if c.req.Method != sip.INVITE {
		return
	}
	if c.s.lock() {
		c.s.clientInput(time.Now(), c, input{kind: inCancel})
		c.s.unlock()
	}
}

// Final waits for the final response, skipping provisional ones. It returns
// Err if the transaction ended without one, or ctx's error.
func (c *ClientTx) Final(ctx context.Context) (*sip.Response, error) {
	for {
		select {
		case r, ok := <-c.d.ch:
			if !ok {
				if err := c.Err(); err != nil {
					return nil, err
				}
				return nil, ErrTerminated
			}
			if r.StatusCode >= 200 {
				return r, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *ClientTx) fire(s *shard, now time.Time) {
	if c.m != nil {
		s.stepClient(now, c, input{kind: inTimer})
	}
}

// end removes the transaction from its shard and closes its delivery.
// Idempotent.
func (c *ClientTx) end(s *shard, err error) {
	if c.ended {
		return
	}
	c.ended = true
	if cur, ok := s.clients[c.key]; ok && cur == c {
		delete(s.clients, c.key)
		s.l.clients.Add(-1)
	}
	s.heap.Remove(&c.item)
	if c.stopCtx != nil {
		c.stopCtx()
	}
	if c.watch != nil {
		s.l.watches.unwatch(c)
	}
	c.settle()
	s.l.release()
	if c.gotFinal {
		err = nil
	}
	c.d.finish(err)
	if c.notify != nil {
		s.notify(c, nil, err)
	}
}

// settle wakes a Layer.Settle waiting for the transaction, now that it
// has its final response or has ended. The shard is locked.
func (c *ClientTx) settle() {
	if c.settledCh != nil {
		close(c.settledCh)
		c.settledCh = nil
	}
}

// register adds a new client transaction to its shard's table.
func (s *shard) register(tx *ClientTx) {
	if _, dup := s.clients[tx.key]; dup {
		tx.ended = true
		s.l.release()
		tx.d.finish(ErrDuplicate)
		if tx.notify != nil {
			s.notify(tx, nil, ErrDuplicate)
		}
		return
	}
	s.clients[tx.key] = tx
	s.l.clients.Add(1)
}

// sent starts the state machine once the request is on its way.
func (s *shard) sent(now time.Time, tx *ClientTx, err error) {
	if tx.ended {
		return
	}
	if err != nil {
		tx.end(s, err)
		return
	}
	reliable := tx.flow.Network.Reliable()
	if tx.req.Method == sip.INVITE {
		tx.invite = tx.inviteM
		tx.invite.init(now, &s.l.timers, tx.req, reliable)
		tx.m = tx.invite
		if tx.ctx != nil && tx.ctx.Done() != nil && !tx.internal {
			s.l.watches.watch(tx.ctx, tx)
		}
	} else {
		tx.nonInviteM.init(now, &s.l.timers, reliable)
		tx.m = tx.nonInviteM
	}
	early := tx.early
	tx.early = nil
	for _, in := range early {
		if tx.ended {
			return
		}
		s.stepClient(now, tx, in)
	}
	if !tx.ended {
		s.schedule(&tx.item, tx.m, now)
	}
}

// clientInput feeds an input to a client transaction, or keeps it until
// the request has been sent.
func (s *shard) clientInput(now time.Time, tx *ClientTx, in input) {
	if tx.ended {
		return
	}
	if tx.m == nil {
		tx.early = append(tx.early, in)
		return
	}
	s.stepClient(now, tx, in)
}

// response matches a response to its client transaction (§17.1.3).
func (s *shard) response(now time.Time, res *sip.Response, in transport.Incoming) {
	key, ok := responseKey(res)
	if !ok {
		s.l.debug("response without branch or CSeq dropped", res)
		return
	}
	tx, ok := s.clients[key]
	if !ok {
		s.stray(in)
		return
	}
	s.clientInput(now, tx, input{kind: inResponse, res: res})
}

// stepClient runs the machine and then its outputs.
func (s *shard) stepClient(now time.Time, tx *ClientTx, in input) {
	var buf outBuf
	for _, o := range stepped(&buf, tx.m.step(now, in)) {
		switch o.kind {
		case outResend:
			s.l.st.rtxSent.Add(1)
			s.sendOn(now, tx, tx.req)
		case outSendAck:
			s.sendOn(now, tx, o.req)
		case outSendCancel:
			s.startCancel(now, tx)
		case outPassUp:
			if final(o.res.StatusCode) {
				tx.gotFinal = true
			}
			if tx.notify != nil {
				s.notify(tx, o.res, nil)
			} else if !tx.internal {
				if fn := tx.d.handler(); fn != nil {
					fn(o.res)
				} else if tx.d.push(o.res) {
					if s.l.g.Enter() {
						go tx.d.pump(s.l, tx.ctx)
					} else {
						tx.d.noPump() // closing: the queue is dropped
					}
				}
			}
		case outFail:
			if te, ok := o.err.(*TimeoutError); ok {
				te.onFlow(tx.req.Method, tx.flow)
			}
			if !tx.gotFinal {
				tx.d.setErr(o.err)
			}
		}
	}
	if tx.gotFinal {
		tx.settle() // after the final is delivered
	}
	if tx.ended {
		return
	}
	if tx.m.current() == Terminated {
		tx.end(s, tx.d.errValue())
		return
	}
	s.schedule(&tx.item, tx.m, now)
}

// sendOn sends a retransmission or ACK on the transaction's flow; a failure
// is a transport error for the machine.
func (s *shard) sendOn(now time.Time, tx *ClientTx, m sip.Message) {
	if err := s.l.t.SendOn(s.l.ctx, m, tx.flow); err != nil && !tx.ended && !lost(err, tx.flow) {
		s.stepClient(now, tx, input{kind: inTransportError, err: &TransportError{Err: err}})
	}
}

// startCancel sends a CANCEL for an INVITE client transaction as its own
// non-INVITE client transaction, on the INVITE's flow (§9.1). Its
// responses are not delivered; the INVITE's final response is what
// matters to the user.
func (s *shard) startCancel(now time.Time, inv *ClientTx) {
	cancel := NewCancel(inv.req)
	key := clientKey{branch: inv.key.branch, method: sip.CANCEL}
	if _, dup := s.clients[key]; dup {
		return
	}
	s.l.acquire(false)
	tx := newClientTx(sip.CANCEL)
	tx.l, tx.s, tx.req, tx.key, tx.ctx, tx.flow, tx.internal = s.l, s, cancel, key, context.Background(), inv.flow, true
	tx.item.Value = tx
	s.clients[key] = tx
	s.l.clients.Add(1)
	if err := s.l.t.SendOn(s.l.ctx, cancel, inv.flow); err != nil && !lost(err, inv.flow) {
		s.l.warn("CANCEL not sent", slog.String("branch", key.branch), slog.String("error", err.Error()))
		tx.end(s, &TransportError{Err: err})
		return
	}
	s.sent(now, tx, nil)
}

// Detach ends delivery on Responses: the responses still to come, and any
// queued but not yet on the channel, go to fn instead, and Responses is
// closed once what it already holds is read. fn runs under the
// transaction's shard lock, on the goroutine that delivered the response
// (queued ones on the caller's goroutine, before Detach returns): it must
// be quick, must not block and must not call into the Layer, like re-sending a cached ACK for a 2xx
// retransmission (RFC 3261 §13.2.2.4). A UA core detaches once it has the
// first 2xx, so that no goroutine waits on an answered INVITE for the rest
// of Timer M. Detach after the transaction ended does nothing.
func (c *ClientTx) Detach(fn func(*sip.Response)) {
	if fn == nil {
		return
	}
	c.d.mu.Lock()
	if c.d.done || c.d.fn != nil {
		c.d.mu.Unlock()
		return
	}
	c.d.fn = fn
	queued := c.d.q
	c.d.q = nil
	c.d.dropped = true // a running pump stops and closes the channel
	if !c.d.pumping {
		c.d.closeCh()
	}
	c.d.mu.Unlock()
	for _, r := range queued {
		fn(r)
	}
}

// delivery passes a client transaction's responses to its user in order
// without ever blocking the shard: straight into the buffered channel
// when there is room, else into a queue that a goroutine drains.
type delivery struct {
	mu      sync.Mutex
	ch      chan *sip.Response
	q       []*sip.Response
	pumping bool // a pump goroutine owns the queue
	done    bool // the transaction ended; close ch when the queue is empty
	dropped bool // the reader is gone (context done or layer closed)
	err     error
	fn      func(*sip.Response) // set by Detach: deliver by calling it
	closed  bool                // ch is closed
}

// closeCh closes the channel once; d.mu is held.
func (d *delivery) closeCh() {
	if d.ch != nil && !d.closed {
		close(d.ch)
		d.closed = true
	}
}

// handler returns the function set by Detach, or nil.
func (d *delivery) handler() func(*sip.Response) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fn
}

// push delivers or queues r; it reports whether the caller must start a
// pump.
func (d *delivery) push(r *sip.Response) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || d.dropped || d.ch == nil || d.closed {
		return false
	}
	if !d.pumping {
		select {
		case d.ch <- r:
			return false
		default:
		}
	}
	d.q = append(d.q, r)
	if d.pumping {
		return false
	}
	d.pumping = true
	return true
}

// noPump undoes a push that asked for a pump the closing layer cannot
// start: the queue is dropped and the channel closes once the transaction
// is done.
func (d *delivery) noPump() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pumping = false
	d.q = nil
	if d.done {
		d.closeCh()
	}
}

func (d *delivery) setErr(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.mu.Unlock()
}

func (d *delivery) errValue() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// finish records the end; the channel closes now or when the pump has
// emptied the queue.
func (d *delivery) finish(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return
	}
	d.done = true
	d.err = err
	if !d.pumping {
		d.closeCh()
	}
}

// pump feeds the queue into the channel until it is empty, the reader's
// context ends or the layer closes.
func (d *delivery) pump(l *Layer, ctx context.Context) {
	defer l.g.Done()
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	for {
		d.mu.Lock()
		if len(d.q) == 0 || d.dropped {
			d.q = nil
			d.pumping = false
			if d.done || d.fn != nil {
				d.closeCh()
			}
			d.mu.Unlock()
			return
		}
		r := d.q[0]
		d.q[0] = nil
		d.q = d.q[1:]
		d.mu.Unlock()
		select {
		case d.ch <- r:
		case <-ctxDone:
			d.drop()
		case <-l.quit:
			d.drop()
		}
	}
}

func (d *delivery) drop() {
	d.mu.Lock()
	d.dropped = true
	d.mu.Unlock()
}
