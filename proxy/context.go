package proxy

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// respContext is the response context of one proxied request (RFC 3261
// §16.7): the branches it forked into, the responses they gave, and what
// went upstream.
//
// Goroutines: the request's handler goroutine (transaction.Go) runs the
// context's loop and owns everything here; each branch has a goroutine of
// its own that resolves the next hop, runs the client transaction (with
// failover between the targets RFC 3263 gives) and sends the responses to
// the loop on events. The loop returns only when every branch goroutine has
// sent its end event, so none outlives the request's handler, and the
// transaction layer's Close (which ends every client transaction) ends them.
type respContext struct {
	s      *Server
	w      transaction.ResponseWriter
	req    *sip.Request // our copy, after Route pre-processing, Max-Forwards decremented: what every branch copies
	hash   string       // loop hash for our branches
	invite bool
	routes []sip.Address // req's Route values, parsed once
	// The Record-Route: whether req gets one, our identity when the
	// request came, and the caller's half, the same for every branch.
	rr       bool
	me       *identity
	callerRR string

	events  chan branchEvent
	active  []*branch
	queue   []target        // targets still to try (sequential forking)
	finals  []*sip.Response // final non-2xx responses, our Via removed
	sent    bool            // a final response went upstream
	stopped bool            // no new branches: 2xx, 6xx, CANCEL or failure upstream
	// canceled: the caller sent CANCEL; it gets 487 once no branch is
	// left ringing (answerCancel).
	canceled bool
}

// branch is one client transaction of the context, or the series of them
// that failover makes for one target.
type branch struct {
	cancel  context.CancelFunc
	ringing bool // a provisional response came: a CANCEL reaches it
}

// branchEvent is a response of a branch, or its end (res nil).
type branchEvent struct {
	b   *branch
	res *sip.Response
}

// eventBuffer is the room on a context's event channel, so that branch
// goroutines rarely wait for the loop.
const eventBuffer = 16

// proxy forwards req to ts (RFC 3261 §16.5–16.7) and answers w with the
// best response; it returns when every branch has ended. routes are req's
// Route values (after ours were removed).
func (s *Server) proxy(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, hash string, ts []target, routes []sip.Address) {
	decrementMaxForwards(req)
	c := &respContext{
		s: s, w: w, req: req, hash: hash, routes: routes,
		invite: req.Method == sip.INVITE, events: make(chan branchEvent, eventBuffer),
		rr: recordRoutes(req), me: s.me.Load(),
	}
	if c.rr {
		in, _ := flowTarget(w.Flow())
		c.callerRR = s.recordRoute(c.me, in)
	}
	c.run(ctx, ts)
}

func (c *respContext) run(ctx context.Context, ts []target) {
	var seqC <-chan time.Time
	var seqT *time.Timer
	defer func() {
		if seqT != nil {
			seqT.Stop()
		}
	}()
	next := func() {
		t := c.queue[0]
		c.queue = c.queue[1:]
		c.start(t)
		if seqT != nil {
			seqT.Stop()
			seqC = nil
		}
		if len(c.queue) > 0 {
			seqT = time.NewTimer(c.s.cfg.SequentialTimeout)
			seqC = seqT.C
		}
	}
	if c.s.cfg.Forking == Sequential {
		c.queue = ts
		next()
	} else {
		for _, t := range ts {
			c.start(t)
		}
	}
	done := ctx.Done()
	for len(c.active) > 0 {
		select {
		case ev := <-c.events:
			c.handle(ev)
			if len(c.active) == 0 && !c.stopped && len(c.queue) > 0 {
				next()
			}
			if c.canceled {
				c.answerCancel()
			}
		case <-done:
			done = nil
			cause := context.Cause(ctx)
			if errors.Is(cause, transaction.ErrTerminated) {
				continue // the server transaction ended normally
			}
			c.stop(nil)
			if errors.Is(cause, transaction.ErrCanceled) {
				c.canceled = true
				c.answerCancel()
			}
		case <-seqC:
			seqC = nil
			if !c.stopped && len(c.queue) > 0 {
				for _, b := range c.active {
					b.cancel()
				}
				next()
			}
		}
	}
	switch {
	case c.sent:
	case c.canceled:
		c.sent = true
		c.s.reply(c.w, c.req, sip.StatusRequestTerminated, "")
	default:
		c.s.respond(c.w, c.best())
	}
}

// answerCancel answers the caller 487 once it has sent CANCEL and no
// branch that could still answer is left ringing (RFC 3261 §16.10): a
// ringing branch has been CANCELed and answers at once, 2xx included,
// which then goes upstream instead; a branch that never rang may take
// Timer B to end, and the caller does not wait for it.
func (c *respContext) answerCancel() {
	if c.sent || slices.ContainsFunc(c.active, func(b *branch) bool { return b.ringing }) {
		return
	}
	c.sent = true
	c.s.reply(c.w, c.req, sip.StatusRequestTerminated, "")
}

// start runs a branch to t on a goroutine of its own. An INVITE branch
// carries Timer C (RFC 3261 §16.6 step 11) as its context's deadline:
// when it passes, the layer CANCELs the branch.
func (c *respContext) start(t target) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.BranchTimeout)
	b := &branch{cancel: cancel}
	c.active = append(c.active, b)
	go c.runBranch(ctx, b, t)
}

// stop ends forking: no new branch starts, and every pending branch but
// keep is canceled (RFC 3261 §16.7 step 10, §16.10).
func (c *respContext) stop(keep *branch) {
	c.stopped = true
	c.queue = nil
	for _, b := range c.active {
		if b != keep {
			b.cancel()
		}
	}
}

// runBranch forwards to t, trying the next hops in order while they fail
// without any response (RFC 3263 §4.3), and sends every response to the
// loop. A branch that ends without a final response gets one made up: 408
// after a timeout, 503 after a transport failure (RFC 3261 §16.7 step 2,
// §16.9).
func (c *respContext) runBranch(ctx context.Context, b *branch, t target) {
	defer func() {
		b.cancel()
		c.events <- branchEvent{b: b}
	}()
	r := c.s.forwardCopy(c.req, t, c.hash)
	top, err := firstRoute(t, c.routes)
	var hops []transport.Target
	if err == nil {
		hops, err = c.s.nextHops(ctx, t.uri, top, t.dest)
	}
	if err != nil {
		c.s.log.Debug("proxy: no next hop", "uri", t.uri.String(), "err", err)
		c.events <- branchEvent{b: b, res: sip.NewResponse(r, sip.StatusServiceUnavailable, "Destination Unresolvable")}
		return
	}
	// The shared plan (transport/targets.go) skips the hops that failed
	// recently, and remembers those that fail now.
	plan := c.s.dead.NewPlan(t.uri.Host, hops)
	for i := 0; ; i++ {
		e, ok := plan.Next(time.Now())
		if !ok {
			return // unreachable: the last hop always reports
		}
		hop := e.Target
		if i > 0 {
			r = c.s.forwardCopy(c.req, t, c.hash)
		}
		if c.rr {
			c.s.addRecordRoutes(r, c.me, c.callerRR, hop)
		}
		last := plan.Remaining() == 0
		tx, err := c.s.tx.Request(ctx, r, hop)
		if err != nil {
			if errors.Is(err, transaction.ErrClosed) {
				return
			}
			plan.Fail(transport.TargetAttempt{Target: hop, Err: err}, time.Now())
			if !last && ctx.Err() == nil {
				continue
			}
			c.events <- branchEvent{b: b, res: synthesize(r, err)}
			return
		}
		got, final := false, false
		for res := range tx.Responses() {
			if !got {
				plan.Succeed(hop)
			}
			got = true
			c.events <- branchEvent{b: b, res: res}
			if res.StatusCode < 200 {
				continue
			}
			final = true
			// More 2xx to an INVITE may come until Timer M:
			// retransmissions and other forks downstream (RFC 6026
			// §8.4); they go upstream without this goroutine. After any
			// other final response nothing more comes to the TU: the
			// layer absorbs retransmissions (Timers D, K) without us.
			late := func(*sip.Response) {}
			if c.invite && res.StatusCode < 300 {
				w := c.w
				late = func(r *sip.Response) { c.s.forwardLate(w, r) }
			}
			tx.Detach(late)
			for r := range tx.Responses() { // what the channel held
				late(r)
			}
			break
		}
		if final {
			return
		}
		err = tx.Err()
		if errors.Is(err, transaction.ErrClosed) {
			return
		}
		if !got && (errors.Is(err, transaction.ErrTimeout) || errors.Is(err, transaction.ErrTransport)) {
			plan.Fail(transport.TargetAttempt{Target: hop, Err: err}, time.Now())
		}
		if !got && !last && ctx.Err() == nil {
			continue
		}
		c.events <- branchEvent{b: b, res: synthesize(r, err)}
		return
	}
}

// synthesize makes the final response of a branch that got none.
func synthesize(r *sip.Request, err error) *sip.Response {
	code := sip.StatusServiceUnavailable
	if errors.Is(err, transaction.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		code = sip.StatusRequestTimeout
	}
	return sip.NewResponse(r, code, "")
}

// handle processes one event of the loop (RFC 3261 §16.7 steps 3–10).
func (c *respContext) handle(ev branchEvent) {
	if ev.res == nil {
		c.active = slices.DeleteFunc(c.active, func(b *branch) bool { return b == ev.b })
		return
	}
	code := ev.res.StatusCode
	if code < 200 {
		ev.b.ringing = true
	}
	if code == sip.StatusTrying || (code < 200 && c.sent) {
		return // dropped: not worth a copy
	}
	res := ev.res.Clone()
	res.PopVia() // ours (step 3)
	switch {
	case code < 200:
		// A 100 is hop by hop (our server transaction sends its own),
		// and nothing provisional follows a final: both were dropped
		// above.
		c.s.respond(c.w, res)
	case code < 300:
		// Every 2xx to an INVITE goes upstream, forks included (step 5).
		if !c.sent || c.invite {
			c.sent = true
			c.s.respond(c.w, res)
		}
		c.stop(ev.b)
	default:
		c.finals = append(c.finals, res)
		if code >= 600 {
			c.stop(ev.b)
		}
	}
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
