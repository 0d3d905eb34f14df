package proxy

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// respContext is the response context of one proxied request (RFC 3261
// §16.7): the branches it forked into, the responses they gave, and what
// went upstream.
//
// It is a machine stepped under its lock, with no goroutine of its own:
// the branches' client transactions deliver their responses and ends
// through transaction.Layer.RequestFunc on the goroutine that stepped
// them (a transport reader, a transaction timer), which forwards upstream
// and chooses the best final response right there. A CANCEL from the
// caller, or the failure of the server transaction, reaches it through
// context.AfterFunc on the request's context, stopped once the final
// response is sent; sequential forking's timer is a time.AfterFunc. Only
// what may block is handed to a goroutine of the Server: resolving a next
// hop by DNS, a failover to the next one, the next target of sequential
// forking (branch.go).
//
// Nothing calls into the transaction layer while holding mu except
// Respond (which never calls back into a response context): starting a
// branch or CANCELing one may deliver responses at once on the calling
// goroutine, whose delivery takes mu.
type respContext struct {
	s      *Server
	w      transaction.ResponseWriter
	hash   string // loop hash for our branches
	invite bool
	routes []sip.Address // req's Route values, parsed once
	// The Record-Route: whether req gets one, our identity when the
	// request came, and the caller's half, the same for every branch
	// (dropped with req, under mu).
	rr       bool
	me       *identity
	callerRR string

	mu sync.Mutex
	// req is our copy, after Route pre-processing, Max-Forwards
	// decremented: what every branch copies. It is dropped (with routes,
	// the queue and the finals) once the final response went upstream,
	// so that the 2xx that may follow until Timer M keep no more alive
	// than the context's state.
	req      *sip.Request
	active   []*branch
	queue    []target        // targets still to try (sequential forking)
	finals   []*sip.Response // final non-2xx responses, our Via removed
	sent     bool            // a final response went upstream
	stopped  bool            // no new branches: 2xx, 6xx, CANCEL or failure upstream
	finished bool            // every branch ended and the answer is out
	// canceled: the caller sent CANCEL; it gets 487 once no branch is
	// left ringing (answerCancel).
	canceled bool
	seq      *time.Timer // sequential forking's timer for the current target
	// stopUp stops the context.AfterFunc watching the request's context.
	stopUp func() bool
}

// proxy forwards req to ts (RFC 3261 §16.5–16.7) and answers w with the
// best response, from the goroutines that deliver the branches'
// responses: it returns once the branches have started (or been handed to
// goroutines that start them). routes are req's Route values (after ours
// were removed).
func (s *Server) proxy(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, hash string, ts []target, routes []sip.Address) {
	decrementMaxForwards(req)
	c := &respContext{
		s: s, w: w, req: req, hash: hash, routes: routes,
		invite: req.Method == sip.INVITE,
		rr:     recordRoutes(req), me: s.me.Load(),
	}
	if c.rr {
		in, _ := flowTarget(w.Flow())
		c.callerRR = s.recordRoute(c.me, in)
	}
	var first []*branch
	c.mu.Lock()
	if s.cfg.Forking == Sequential {
		c.queue = ts
		first = append(first, c.nextLocked())
	} else {
		for _, t := range ts {
			first = append(first, c.addLocked(t))
		}
	}
	// Watch the request's context: a CANCEL that came already runs the
	// watch at once (on a goroutine of its own, which waits for mu), with
	// the branches in place to cancel.
	c.stopUp = context.AfterFunc(ctx, func() { c.upstreamEnded(ctx) })
	c.mu.Unlock()
	for _, b := range first {
		b.launch()
	}
}

// upstreamEnded runs when the request's context ends before the final
// response went upstream: the caller CANCELed, or the server transaction
// failed (a transport error, Timer H, Close). Pending branches are
// canceled; after a CANCEL the caller gets 487 as soon as no branch is
// left ringing.
func (c *respContext) upstreamEnded(ctx context.Context) {
	cause := context.Cause(ctx)
	if errors.Is(cause, transaction.ErrTerminated) {
		return // the server transaction ended normally
	}
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	cancel := c.stopLocked(nil)
	if errors.Is(cause, transaction.ErrCanceled) {
		c.canceled = true
		c.answerCancelLocked()
	}
	c.mu.Unlock()
	cancelAll(cancel)
}

// answerCancelLocked answers the caller 487 once it has sent CANCEL and no
// branch that could still answer is left ringing (RFC 3261 §16.10): a
// ringing branch has been CANCELed and answers at once, 2xx included,
// which then goes upstream instead; a branch that never rang may take
// Timer B to end, and the caller does not wait for it.
func (c *respContext) answerCancelLocked() {
	if c.sent || slices.ContainsFunc(c.active, func(b *branch) bool { return b.ringing }) {
		return
	}
	c.sendFinalLocked(sip.NewResponse(c.req, sip.StatusRequestTerminated, ""))
}

// sendFinalLocked sends the final response upstream. The watch on the
// request's context stops first: the server transaction ends its context
// (ErrTerminated) as it sends a final response, and a watch left running
// would take a goroutine for nothing.
func (c *respContext) sendFinalLocked(res *sip.Response) {
	c.sent = true
	if c.stopUp != nil {
		c.stopUp()
	}
	c.s.respond(c.w, res)
}

// addLocked adds a branch to t; the caller launches it after unlocking.
func (c *respContext) addLocked(t target) *branch {
	b := &branch{c: c, t: t}
	if c.invite {
		b.timerC = time.AfterFunc(c.s.cfg.BranchTimeout, b.cancel)
	}
	c.active = append(c.active, b)
	return b
}

// nextLocked adds a branch for the next target of sequential forking and
// arms the timer after which the one after it is tried.
func (c *respContext) nextLocked() *branch {
	t := c.queue[0]
	c.queue = c.queue[1:]
	b := c.addLocked(t)
	if c.seq != nil {
		c.seq.Stop()
		c.seq = nil
	}
	if len(c.queue) > 0 {
		c.seq = time.AfterFunc(c.s.cfg.SequentialTimeout, c.sequentialTimeout)
	}
	return b
}

// sequentialTimeout: the current target of sequential forking rang long
// enough; it is canceled and the next one tried.
func (c *respContext) sequentialTimeout() {
	c.mu.Lock()
	if c.stopped || c.finished || len(c.queue) == 0 {
		c.mu.Unlock()
		return
	}
	cancel := slices.Clone(c.active)
	b := c.nextLocked()
	c.mu.Unlock()
	cancelAll(cancel)
	b.launch()
}

// stopLocked ends forking: no new branch starts, and every pending branch
// but keep is to be canceled (RFC 3261 §16.7 step 10, §16.10): it returns
// them, for cancelAll once the lock is released.
func (c *respContext) stopLocked(keep *branch) []*branch {
	c.stopped = true
	c.queue = nil
	if c.seq != nil {
		c.seq.Stop()
		c.seq = nil
	}
	var out []*branch
	for _, b := range c.active {
		if b != keep {
			out = append(out, b)
		}
	}
	return out
}

// cancelAll cancels branches; the context's lock is not held.
func cancelAll(bs []*branch) {
	for _, b := range bs {
		b.cancel()
	}
}

// ended removes a branch that has its final response (or will get none)
// and, when it was the last, starts the next target of sequential forking
// or sends the answer upstream. It returns the branch to launch, if any.
func (c *respContext) endedLocked(b *branch) *branch {
	c.active = slices.DeleteFunc(c.active, func(x *branch) bool { return x == b })
	if len(c.active) > 0 {
		return nil
	}
	if !c.stopped && len(c.queue) > 0 {
		return c.nextLocked()
	}
	c.finishLocked()
	return nil
}

// finishLocked sends the answer once every branch has ended, and drops
// what only the answer needed.
func (c *respContext) finishLocked() {
	if c.finished {
		return
	}
	c.finished = true
	switch {
	case c.sent:
	case c.canceled:
		c.sendFinalLocked(sip.NewResponse(c.req, sip.StatusRequestTerminated, ""))
	default:
		c.sendFinalLocked(c.best())
	}
	if c.seq != nil {
		c.seq.Stop()
		c.seq = nil
	}
	c.req, c.routes, c.queue, c.finals = nil, nil, nil, nil
	c.callerRR, c.stopUp = "", nil
}

// handleLocked processes a response of branch b (RFC 3261 §16.7 steps
// 3–10). It returns the branches to cancel, for cancelAll once the lock
// is released.
func (c *respContext) handleLocked(b *branch, r *sip.Response) []*branch {
	code := r.StatusCode
	if code < 200 {
		b.ringing = true
	}
	if code == sip.StatusTrying || (code < 200 && c.sent) {
		return nil // dropped: not worth a copy
	}
	if code >= 300 && c.finished {
		return nil // no one left to choose among finals
	}
	res := r.Clone()
	res.PopVia() // ours (step 3)
	switch {
	case code < 200:
		// A 100 is hop by hop (our server transaction sends its own),
		// and nothing provisional follows a final: both were dropped
		// above.
		c.s.respond(c.w, res)
	case code < 300:
		// Every 2xx to an INVITE goes upstream, forks and
		// retransmissions included, until Timer M (step 5, RFC 6026
		// §8.4): the server transaction takes them until Timer L.
		switch {
		case !c.sent:
			c.sendFinalLocked(res)
		case c.invite:
			c.s.respond(c.w, res)
		}
		if !c.stopped {
			return c.stopLocked(b)
		}
	default:
		c.finals = append(c.finals, res)
		if code >= 600 {
			return c.stopLocked(b)
		}
	}
	return nil
}

// best chooses the response to send upstream when no 2xx came (RFC 3261
// §16.7 step 6): a 6xx if any, else the lowest class, preferring among
// 4xx those that ask the caller to fix something (401, 407, 415, 420,
// 484); the first received among equals. A chosen 401 or 407 carries the
// challenges of every 401 and 407 received (step 7), and a 503 becomes
// 500 so that the caller does not take the proxy for overloaded.
func (c *respContext) best() *sip.Response {
	if len(c.finals) == 0 {
		return sip.NewResponse(c.req, sip.StatusRequestTimeout, "")
	}
	rank := func(r *sip.Response) int {
		code := r.StatusCode
		if code >= 600 {
			return 0
		}
		n := code / 100 * 10
		switch code {
		case 401, 407, 415, 420, 484:
			n--
		}
		return n
	}
	best := c.finals[0]
	for _, r := range c.finals[1:] {
		if rank(r) < rank(best) {
			best = r
		}
	}
	switch best.StatusCode {
	case sip.StatusServiceUnavailable:
		return sip.NewResponse(c.req, sip.StatusServerInternalError, "")
	case sip.StatusUnauthorized, sip.StatusProxyAuthenticationRequired:
		out := best.Clone()
		out.Del("WWW-Authenticate")
		out.Del("Proxy-Authenticate")
		for _, r := range c.finals {
			for _, v := range r.WWWAuthenticate() {
				out.Add("WWW-Authenticate", v)
			}
			for _, v := range r.ProxyAuthenticate() {
				out.Add("Proxy-Authenticate", v)
			}
		}
		return out
	}
	return best
}
