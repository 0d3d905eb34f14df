package ua

import (
	"context"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Probe-back: while a line works through a server other than its most
// preferred one (after a failover), it asks the preferred ones, every
// ProbeInterval on the UA's clock, with an OPTIONS whether they are back.
// The first that answers (anything but 503) is marked alive, the line
// moves back to it (EventServerMoved, MoveProbe) and re-registers, so
// that new registrations and new calls go there, and once registered
// there removes its binding at the server it left (which is up); calls in
// progress keep their route set. A probe that gets no answer keeps the
// target marked dead.

// armProbe arms the line's next probe while it has preferred servers to
// probe, and disarms it when it has none.
func (l *Line) armProbe() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probeEvery <= 0 || len(l.fo.preferred) == 0 || l.closing {
		if l.fo.probe != nil {
			l.fo.probe.Stop()
			l.fo.probe = nil
		}
		return
	}
	if l.fo.probe != nil || l.fo.probing {
		return
	}
	l.fo.probe = l.u.afterFunc(l.probeEvery, l.probeDue)
}

// probeDue runs on the clock: the probes, which wait for answers, go to
// a short task of the UA.
func (l *Line) probeDue() {
	l.mu.Lock()
	l.fo.probe = nil
	l.fo.probing = true
	l.mu.Unlock()
	if !l.u.goTrack(l.probeNow) {
		l.mu.Lock()
		l.fo.probing = false
		l.mu.Unlock()
	}
}

// probeNow probes the preferred servers in order and moves back to the
// first that answers.
func (l *Line) probeNow() {
	l.mu.Lock()
	preferred := l.fo.preferred
	l.mu.Unlock()
	for i, e := range preferred {
		alive, deadFor := l.probeOne(e.Target)
		if !alive {
			l.u.dead.MarkDead(e.Target, time.Now(), deadFor)
			continue
		}
		l.u.dead.MarkAlive(e.Target)
		l.mu.Lock()
		from := l.fo.server
		l.fo.server = e.Target
		l.fo.preferred = preferred[:i:i]
		l.fo.probing = false
		reregister := l.registrar != nil && l.want && !l.closing
		if reregister && l.state == RegRegistered {
			l.fo.leave, l.fo.haveLeave = from, true // afterRegister
		}
		l.mu.Unlock()
		l.u.emit(Event{Kind: EventServerMoved, Line: l, Move: &ServerMove{From: from, To: e.Target, Reason: MoveProbe,
			Detail: targetString(e.Target) + " answered OPTIONS"}})
		if reregister {
			l.start()
		}
		l.armProbe()
		return
	}
	l.mu.Lock()
	l.fo.probing = false
	l.mu.Unlock()
	l.armProbe()
}

// probeOne sends an OPTIONS to target t and reports whether a response
// other than 503 came before FailoverAfter (or Timer F when FailoverAfter
// is off); for a 503, how long its Retry-After asks to stay away.
func (l *Line) probeOne(t transport.Target) (bool, time.Duration) {
	u := l.u
	wait := l.failoverAfter
	if wait <= 0 {
		wait = 64 * u.t1
	}
	ctx, cancel := context.WithTimeout(u.baseCtx, wait)
	defer cancel()
	uri := sip.URI{Scheme: "sip", Host: hostOf(t.Addr.Addr()), Port: int(t.Addr.Port())}
	if t.Network != transport.UDP {
		uri.Params = uri.Params.Set("transport", string(t.Network))
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.SetFrom(l.from())
	ct, err := u.contactFor(ctx, l.user, t.Network, uri)
	if err == nil {
		req.Set("Contact", ct.String())
	}
	u.addCommon(req)
	tx, err := u.tx.Request(ctx, req, t)
	if err != nil {
		return false, 0
	}
	select {
	case res, ok := <-tx.Responses():
		if !ok {
			return false, 0
		}
		tx.Detach(func(*sip.Response) {})
		if res.StatusCode == sip.StatusServiceUnavailable {
			// Up, but refusing work: not back yet.
			var d time.Duration
			if ra, err := res.RetryAfter(); err == nil {
				d = ra.Delay
			}
			return false, d
		}
		return true, 0
	case <-ctx.Done():
		tx.Abandon()
		tx.Detach(func(*sip.Response) {})
		return false, 0
	}
}

// hostOf writes an address as a URI host (IPv6 in brackets).
func hostOf(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// unregisterAt removes the line's binding at target t, the server it
// leaves for a preferred one: one REGISTER with Expires 0 on the
// registration's Call-ID, straight to t (no failover, no move), a digest
// challenge answered once. Its outcome only goes to the log: the binding
// expires anyway.
func (l *Line) unregisterAt(t transport.Target) {
	l.registers.Lock()
	defer l.registers.Unlock()
	l.mu.Lock()
	ct := l.contact
	l.mu.Unlock()
	u := l.u
	ctx, cancel := context.WithTimeout(u.baseCtx, 64*u.t1)
	defer cancel()
	var auth []sip.Header
	for range 2 {
		req := l.newRegister([]regContact{{ct, 0}})
		applyAuth(req, auth)
		tx, err := u.tx.Request(ctx, req, t)
		if err != nil {
			u.log.Debug("binding at the server left not removed", "target", targetString(t), "error", err.Error())
			return
		}
		res, err := tx.Final(ctx)
		if err != nil || !isChallenge(res) {
			return
		}
		hs, err := l.creds.answer(res, req)
		if err != nil {
			return
		}
		auth = l.creds.retryAuth(hs, req)
	}
}
