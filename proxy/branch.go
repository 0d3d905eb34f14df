package proxy

import (
	"context"
	"errors"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// branch is one target of a response context: the client transaction to
// it, or the series of them that failover makes (RFC 3263 §4.3).
//
// It starts on the goroutine that launches it when its next hops are IP
// addresses (no DNS, nothing that blocks), else on a goroutine of the
// Server that resolves them. Its responses arrive through the
// transaction layer's RequestFunc (attempt.notify).
type branch struct {
	c *respContext
	t target

	// Guarded by c.mu.
	ringing  bool // a provisional response came: a CANCEL reaches it
	canceled bool // no further attempt; the transaction is CANCELed
	final    bool // a final response came, or none will: the branch ended
	tx       *transaction.ClientTx
	// resolving ends the DNS resolution in progress, if any.
	resolving context.CancelFunc
	// timerC is RFC 3261 §16.6 step 11's Timer C for an INVITE branch:
	// when it fires the branch is canceled (like a CANCEL, it reaches
	// the transaction once it has a provisional response).
	timerC *time.Timer
}

// attempt is one client transaction of a branch: the hop it went to,
// whether it was the plan's last and whether any response came. Once the
// branch has its final response, plan and r are dropped (under b.c.mu):
// the transaction may live on until Timer M with no more than it needs.
type attempt struct {
	b    *branch
	plan *transport.TargetPlan
	r    *sip.Request
	hop  transport.Target
	last bool
	got  bool // guarded by b.c.mu
}

// launch starts the branch: at once when its next hops need no DNS and
// no new connection, else on a goroutine of the Server. The context's
// lock is not held.
func (b *branch) launch() {
	c := b.c
	top, err := firstRoute(b.t, c.routes)
	if err != nil {
		b.unresolvable(err)
		return
	}
	// Inline only where sending cannot wait long either: UDP, or the
	// flow of a binding (a connection open already); a new TCP or TLS
	// connection is made on the goroutine.
	if hops, ok := c.s.numericHops(b.t.uri, top, b.t.dest); ok && (hops[0].Network == transport.UDP || b.t.dest != nil) {
		b.try(c.s.dead.NewPlan(b.t.uri.Host, hops))
		return
	}
	if !c.s.g.Go(func() { b.resolve(top) }) {
		b.gone() // the Server is closing
	}
}

// resolve finds the next hops by DNS (bounded by BranchTimeout and by a
// cancel of the branch) and tries them.
func (b *branch) resolve(top *sip.URI) {
	c := b.c
	ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.BranchTimeout)
	defer cancel()
	c.mu.Lock()
	if b.canceled {
		c.mu.Unlock()
		b.gone()
		return
	}
	b.resolving = cancel
	c.mu.Unlock()
	hops, err := c.s.nextHops(ctx, b.t.uri, top, b.t.dest)
	c.mu.Lock()
	b.resolving = nil
	c.mu.Unlock()
	if err != nil {
		b.unresolvable(err)
		return
	}
	b.try(c.s.dead.NewPlan(b.t.uri.Host, hops))
}

// unresolvable ends a branch whose next hop cannot be found with 503
// (RFC 3261 §16.7 step 2), built as if the request had been sent.
func (b *branch) unresolvable(err error) {
	c := b.c
	c.s.log.Debug("proxy: no next hop", "uri", b.t.uri.String(), "err", err)
	b.endWith(sip.NewResponse(c.s.forwardCopy(c.req, b.t, c.hash), sip.StatusServiceUnavailable, "Destination Unresolvable"), nil)
}

// try sends the branch's request to the next hops of plan in order,
// until one takes it (a client transaction starts) or the last fails.
// The shared plan (transport/targets.go) skips the hops that failed
// recently, and remembers those that fail now.
func (b *branch) try(plan *transport.TargetPlan) {
	c := b.c
	for {
		e, ok := plan.Next(time.Now())
		if !ok {
			b.gone() // unreachable: the last hop always reports
			return
		}
		c.mu.Lock()
		canceled := b.canceled
		c.mu.Unlock()
		if canceled {
			b.gone() // canceled before it was sent: nothing to wait for
			return
		}
		a := &attempt{b: b, plan: plan, hop: e.Target, last: plan.Remaining() == 0}
		a.r = c.s.forwardCopy(c.req, b.t, c.hash)
		if c.rr {
			c.s.addRecordRoutes(a.r, c.me, c.callerRR, a.hop)
		}
		tx, err := c.s.tx.RequestFunc(context.Background(), a.r, a.hop, a.notify)
		if err != nil {
			if errors.Is(err, transaction.ErrClosed) {
				b.gone()
				return
			}
			plan.Fail(transport.TargetAttempt{Target: a.hop, Err: err}, time.Now())
			if !a.last && !b.isCanceled() {
				continue
			}
			b.endWith(synthesize(a.r, err), nil)
			return
		}
		c.mu.Lock()
		b.tx = tx
		canceled = b.canceled && !b.final
		c.mu.Unlock()
		if canceled {
			tx.Cancel() // canceled while it was being sent
		}
		return
	}
}

func (b *branch) isCanceled() bool {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	return b.canceled
}

// cancel cancels the branch: its resolution, its further attempts, and
// its transaction (a CANCEL once it has a provisional response, RFC 3261
// §9.1). The context's lock is not held.
func (b *branch) cancel() {
	c := b.c
	c.mu.Lock()
	if b.canceled || b.final {
		c.mu.Unlock()
		return
	}
	b.canceled = true
	tx, resolving := b.tx, b.resolving
	c.mu.Unlock()
	if resolving != nil {
		resolving()
	}
	if tx != nil {
		tx.Cancel()
	}
}

// notify gets the responses and the end of an attempt's transaction
// (transaction.NotifyFunc), on the goroutine that stepped it.
func (a *attempt) notify(res *sip.Response, err error) {
	b, c := a.b, a.b.c
	if res != nil {
		c.mu.Lock()
		if !a.got {
			a.got = true
			a.plan.Succeed(a.hop)
		}
		if res.StatusCode >= 200 {
			a.plan, a.r = nil, nil
		}
		b.respondedLocked(res)
		return
	}
	c.mu.Lock()
	if b.final {
		c.mu.Unlock()
		return // the end of an answered transaction (Timers D, K, M)
	}
	got, canceled, plan, r := a.got, b.canceled, a.plan, a.r
	c.mu.Unlock()
	if errors.Is(err, transaction.ErrClosed) {
		b.gone()
		return
	}
	if !got && (errors.Is(err, transaction.ErrTimeout) || errors.Is(err, transaction.ErrTransport)) {
		plan.Fail(transport.TargetAttempt{Target: a.hop, Err: err}, time.Now())
	}
	if !got && !a.last && !canceled {
		// Failover to the next hop: on a goroutine of the Server, since
		// sending may block (a TCP connect) and this is a transport's
		// or timer's goroutine.
		if !c.s.g.Go(func() { b.try(plan) }) {
			b.gone()
		}
		return
	}
	b.endWith(synthesize(r, err), err)
}

// respondedLocked processes a response of the branch with the context's
// lock held, and releases it before the calls into the transaction layer
// that follow (CANCELs, the next branch).
func (b *branch) respondedLocked(res *sip.Response) {
	c := b.c
	cancel := c.handleLocked(b, res)
	var next *branch
	if res.StatusCode >= 200 && !b.final {
		b.final = true
		b.stopTimerC()
		next = c.endedLocked(b)
	}
	if c.canceled {
		c.answerCancelLocked()
	}
	c.mu.Unlock()
	cancelAll(cancel)
	if next != nil {
		next.launch()
	}
}

// endWith ends the branch with a final response made up for it (RFC 3261
// §16.7 step 2, §16.9): it got none.
func (b *branch) endWith(res *sip.Response, err error) {
	c := b.c
	c.mu.Lock()
	if b.final {
		c.mu.Unlock()
		return
	}
	if err != nil {
		c.s.log.Debug("proxy: branch failed", "uri", b.t.uri.String(), "err", err)
	}
	b.respondedLocked(res)
}

// gone ends the branch without a response: the Server is closing, or the
// branch was canceled before its request went out.
func (b *branch) gone() {
	c := b.c
	c.mu.Lock()
	if b.final {
		c.mu.Unlock()
		return
	}
	b.final = true
	b.stopTimerC()
	next := c.endedLocked(b)
	if c.canceled {
		c.answerCancelLocked()
	}
	c.mu.Unlock()
	if next != nil {
		next.launch()
	}
}

func (b *branch) stopTimerC() {
	if b.timerC != nil {
		b.timerC.Stop()
		b.timerC = nil
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
