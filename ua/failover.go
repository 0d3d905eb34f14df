package ua

import (
	"context"
	"errors"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Failover across the targets of a request's next hop (RFC 3263 §4.3,
// RFC 3261 §8.1.2): a request outside a dialog goes to the first target;
// when its transaction ends with a transport error or a timeout, when the
// target answers 503, or when it has sent nothing at all for the line's
// FailoverAfter while another target remains, the request goes to the
// next target as a new transaction (a new branch; the same Call-ID, From
// tag and CSeq). Targets that failed are remembered as dead by the UA's
// transport.DeadTargets, shared by every line and call. In-dialog
// requests do not come here: they follow the dialog's route set.

// Defaults of the failover settings of LineConfig.
const (
	// DefaultFailoverAfter is how long a request waits for the first
	// response of a target before it tries the next one.
	DefaultFailoverAfter = 4 * time.Second
	// DefaultProbeInterval is how often a line working through a
	// lower-priority server asks the higher-priority ones (OPTIONS)
	// whether they are back.
	DefaultProbeInterval = 30 * time.Second
)

// noStop disarms no timer.
func noStop() {}

// errSilent ends the attempt on a target that sent nothing for
// FailoverAfter; it never leaves the package.
var errSilent = errors.New("ua: no response yet")

// sendPlan is one request's way through its targets: the plan (with the
// UA's dead marks), how to rewrite the request for an alternate hop, and
// how long to wait for a target's first response.
type sendPlan struct {
	u       *UA
	line    *Line
	plan    *transport.TargetPlan
	network transport.Network
	after   time.Duration // 0: wait for Timer B or F
	// rewrite adapts the request to the hop of a plan entry (nil for the
	// request's own next hop, hop 0).
	rewrite map[int]func(*sip.Request)
	// all is every target in resolution order, dead ones included: the
	// ones before the target that answers are the line's preferred.
	all   []transport.PlanEntry
	track bool // the request goes to the line's own servers
	// one is the only target of a numeric next hop without alternates:
	// no DNS and no plan (transport.NumericResolver); oneErr is how its
	// attempt failed, oneUsed that it was tried.
	one              transport.Target
	haveOne, oneUsed bool
	oneErr           error
}

// newSendPlan resolves the next hop of req (and of the line's alternate,
// see Line.alternates) into the order its targets are tried in.
func (u *UA) newSendPlan(ctx context.Context, req *sip.Request, network transport.Network, line *Line) (*sendPlan, error) {
	sp := new(sendPlan)
	if err := u.initSendPlan(ctx, sp, req, network, line); err != nil {
		return nil, err
	}
	return sp, nil
}

// initSendPlan is newSendPlan into sp, which it overwrites whole: for an
// owner that keeps its plan inside itself (an outgoing call's INVITE).
func (u *UA) initSendPlan(ctx context.Context, sp *sendPlan, req *sip.Request, network transport.Network, line *Line) error {
	hop := nextHop(req)
	*sp = sendPlan{u: u, line: line, network: network, after: DefaultFailoverAfter, track: line.tracks(req)}
	if line != nil {
		sp.after = line.failoverAfter
	}
	alts := line.alternates(req)
	if u.numeric != nil && len(alts) == 0 {
		if t, ok := u.numeric.ResolveNumeric(hop, network); ok {
			sp.one, sp.haveOne = t, true
			return nil
		}
	}
	targets, err := u.resolve(ctx, hop, network)
	if err != nil && len(alts) == 0 {
		return err
	}
	sp.plan = u.dead.NewPlan(hop.Hostname(), nil)
	first := 0
	if line.primaryFailed() {
		first = len(alts) // dual registration: the alternate first
	}
	hops := make([]hopPlan, 0, len(alts)+1)
	hops = append(hops, hopPlan{targets: targets})
	for i, a := range alts {
		r := req.Clone()
		a(r)
		ts, aerr := u.resolve(ctx, nextHop(r), network)
		if aerr != nil {
			continue
		}
		hops = append(hops, hopPlan{hop: i + 1, targets: ts, rewrite: a})
	}
	if first > 0 && len(hops) > 1 {
		hops = append(hops[1:], hops[0])
	}
	for _, h := range hops {
		if h.rewrite != nil {
			if sp.rewrite == nil {
				sp.rewrite = make(map[int]func(*sip.Request))
			}
			sp.rewrite[h.hop] = h.rewrite
		}
		sp.plan.Add(h.targets, h.hop)
		if sp.track {
			for _, t := range h.targets {
				sp.all = append(sp.all, transport.PlanEntry{Target: t, Hop: h.hop})
			}
		}
	}
	if sp.plan.Remaining() == 0 {
		if err == nil {
			err = transport.ErrNoTargets
		}
		return err
	}
	if sp.track {
		if srv, ok := line.Server(); ok {
			sp.prefer(srv)
		}
	}
	return nil
}

// prefer tries t first when it is one of the targets (TargetPlan.Prefer).
func (sp *sendPlan) prefer(t transport.Target) {
	if !sp.haveOne {
		sp.plan.Prefer(t, time.Now())
	}
}

// hopPlan is the targets of one hop of a request.
type hopPlan struct {
	hop     int
	targets []transport.Target
	rewrite func(*sip.Request)
}

// start sends req to the next target that takes it (a send that fails at
// once moves on) and returns the transaction, the request it sent (a copy
// of req unless it is the last target of hop 0) and the target. When no
// target is left it returns the plan's error.
func (sp *sendPlan) start(ctx, txCtx context.Context, req *sip.Request) (*transaction.ClientTx, *sip.Request, transport.PlanEntry, error) {
	if sp.haveOne {
		e := transport.PlanEntry{Target: sp.one}
		if sp.oneUsed {
			return nil, nil, e, sp.oneErr
		}
		sp.oneUsed = true
		tx, err := sp.u.tx.Request(txCtx, req, sp.one)
		return tx, req, e, err
	}
	for {
		e, ok := sp.plan.Next(time.Now())
		if !ok {
			err := sp.plan.Err()
			if err == nil {
				err = transport.ErrNoTargets
			}
			return nil, nil, e, err
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, e, err
		}
		r := req
		if sp.plan.Remaining() > 0 || e.Hop != 0 {
			r = req.Clone() // the transaction owns what it sends
		}
		if f := sp.rewrite[e.Hop]; f != nil {
			f(r)
		}
		tx, err := sp.u.tx.Request(txCtx, r, e.Target)
		if err == nil {
			return tx, r, e, nil
		}
		if !errors.Is(err, transaction.ErrTransport) {
			return nil, nil, e, err
		}
		sp.plan.Fail(transport.TargetAttempt{Target: e.Target, Err: err}, time.Now())
	}
}

// silence returns a channel closed when the attempt on the target just
// started has gone FailoverAfter without a response, while another
// target remains; and the function that disarms it. The wait runs on the
// UA's clock.
func (sp *sendPlan) silence() (<-chan struct{}, func()) {
	if sp.after <= 0 || sp.haveOne || sp.plan.Remaining() == 0 {
		return nil, noStop
	}
	ch := make(chan struct{})
	t := sp.u.afterFunc(sp.after, func() { close(ch) })
	return ch, func() { t.Stop() }
}

// outcome records how the attempt on e ended and reports whether the
// request goes on to the next target: after errSilent, a timeout or a
// transport error, or a 503. Any other response (or error) ends the
// attempt, and a response revives e.
func (sp *sendPlan) outcome(e transport.PlanEntry, req *sip.Request, res *sip.Response, err error) bool {
	now := time.Now()
	a := transport.TargetAttempt{Target: e.Target}
	switch {
	case errors.Is(err, errSilent):
		a.Timeout = sp.after
		a.Err = &transaction.TimeoutError{Timer: "FailoverAfter", Method: req.Method,
			Network: e.Target.Network, Addr: e.Target.Addr, Waited: sp.after}
	case err != nil && (errors.Is(err, transaction.ErrTimeout) || errors.Is(err, transaction.ErrTransport)):
		a.Err = err
		var te *transaction.TimeoutError
		if errors.As(err, &te) {
			a.Timeout = te.Waited
		}
	case err != nil || res == nil:
		return false
	case res.StatusCode == sip.StatusServiceUnavailable:
		a.Status = res.StatusCode
		if ra, rerr := res.RetryAfter(); rerr == nil {
			a.RetryAfter = ra.Delay
		}
		a.Err = &StatusError{Response: res}
	default:
		if sp.haveOne {
			if sp.track {
				sp.line.served(e, nil, "")
			}
			return false
		}
		sp.plan.Succeed(e.Target)
		if sp.track {
			sp.line.served(e, sp.preferred(e), sp.why())
		}
		return false
	}
	if sp.haveOne {
		// Nothing to fail over to: the attempt's error is the request's.
		sp.oneErr = a.Err
		return true
	}
	sp.plan.Fail(a, now)
	return true
}

// abandon leaves the INVITE sent on a target that stayed silent: it is
// canceled as soon as it rings (RFC 3261 §9.1), and a 2xx it may still
// send gets its ACK and a BYE, so that no call is left behind there.
func (sp *sendPlan) abandon(tx *transaction.ClientTx, sent *sip.Request) {
	if sent.Method != sip.INVITE {
		tx.Abandon() // no more retransmissions to the silent target
		tx.Detach(func(*sip.Response) {})
		return
	}
	tx.Cancel()
	u, network := sp.u, sp.network
	drop := func(res *sip.Response) {
		if res.IsSuccess() {
			u.goTrack(func() { u.endStray2xx(sent, res, network) })
		}
	}
	tx.Detach(drop)
	for res := range tx.Responses() { // what the channel held
		drop(res)
	}
}

// lastTarget is the target that answered the previous request of an
// exchange (a challenge): the next one, with credentials, goes there
// first, whatever order the resolver draws this time.
type lastTarget struct {
	t  transport.Target
	ok bool
	// flow is the flow the final response came on (the registration's
	// flow, contact.go).
	flow transport.Flow
}

// request sends a request outside a dialog (REGISTER, OPTIONS, MESSAGE)
// through the targets of its next hop, failing over as the package
// comment says, and returns its final response. ctx bounds the wait.
// last, when not nil, is read and updated (lastTarget).
func (u *UA) request(ctx context.Context, req *sip.Request, network transport.Network, line *Line, last *lastTarget) (*sip.Response, error) {
	return u.requestVia(ctx, req, network, line, false, last)
}

// requestVia is request; alt says that req is the line's alternate
// registration, which neither fails over to the primary nor moves the
// line (failover_dual.go).
func (u *UA) requestVia(ctx context.Context, req *sip.Request, network transport.Network, line *Line, alt bool, last *lastTarget) (*sip.Response, error) {
	sp, err := u.newSendPlan(ctx, req, network, line)
	if err == nil && alt {
		sp.track, sp.all = false, nil
	}
	if err != nil {
		return nil, err
	}
	if last != nil && last.ok {
		sp.prefer(last.t)
	}
	for {
		tx, sent, e, err := sp.start(ctx, ctx, req)
		if err != nil {
			return nil, err
		}
		silent, stop := sp.silence()
		res, err := finalOrSilence(ctx, tx, silent)
		stop()
		if errors.Is(err, errSilent) {
			sp.abandon(tx, sent)
		}
		if !sp.outcome(e, sent, res, err) || ctx.Err() != nil {
			if err != nil {
				return nil, err
			}
			if last != nil {
				last.t, last.ok, last.flow = e.Target, true, tx.Flow()
			}
			return res, nil
		}
	}
}

// finalOrSilence waits for tx's final response, or for silent to close
// before any response came (errSilent).
func finalOrSilence(ctx context.Context, tx *transaction.ClientTx, silent <-chan struct{}) (*sip.Response, error) {
	for {
		select {
		case r, ok := <-tx.Responses():
			if !ok {
				if err := tx.Err(); err != nil {
					return nil, err
				}
				return nil, transaction.ErrTerminated
			}
			silent = nil // a target that answered is never abandoned
			if r.StatusCode >= 200 {
				return r, nil
			}
		case <-silent:
			return nil, errSilent
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// preferred returns the targets before e in resolution order that are
// marked dead: e took the request because they failed. A target that is
// merely drawn after e (RFC 2782 weights, or the line's server preferred)
// is not one.
func (sp *sendPlan) preferred(e transport.PlanEntry) []transport.PlanEntry {
	var out []transport.PlanEntry
	now := time.Now()
	for _, x := range sp.all {
		if x == e {
			return out
		}
		if dead, _ := sp.u.dead.Dead(x.Target, now); dead {
			out = append(out, x)
		}
	}
	return nil
}

// why describes the last failed attempt of the plan, or the dead mark
// that skipped the preferred targets.
func (sp *sendPlan) why() string {
	if as := sp.plan.Attempts(); len(as) > 0 {
		return as[len(as)-1].String()
	}
	return "skipped: marked dead"
}
