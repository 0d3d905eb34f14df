package ua

import (
	"context"
	"fmt"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// A line's side of failover: its alternate hops, the server it works
// through, and the events of its moves.

// lineFailover is a line's failover state, guarded by Line.mu.
type lineFailover struct {
	// server is the target the line's last request to its own servers
	// (REGISTER, or through its outbound proxy) went to; valid once one
	// was answered.
	server  transport.Target
	haveSrv bool
	// preferred are the targets tried before server in resolution order
	// (the ones probe-back asks), each with its hop.
	preferred []transport.PlanEntry
	probe     *clockTimer
	probing   bool
	// leave is the server a probe moved the line away from, whose
	// binding goes once the line is registered with the new one.
	leave     transport.Target
	haveLeave bool
	// altState is the alternate registration's state with
	// DualRegistration.
	altState RegState
}

// initFailover reads the failover settings of the line's config.
func (l *Line) initFailover() error {
	l.failoverAfter = l.cfg.FailoverAfter
	if l.failoverAfter == 0 {
		l.failoverAfter = DefaultFailoverAfter
	}
	l.probeEvery = l.cfg.ProbeInterval
	if l.probeEvery == 0 {
		l.probeEvery = DefaultProbeInterval
	}
	if l.cfg.AlternateProxy != "" {
		p, err := parseTarget(l.cfg.AlternateProxy)
		if err != nil {
			return fmt.Errorf("ua: line alternate proxy: %w", err)
		}
		l.altProxy = &p
	}
	if l.cfg.AlternateOutboundProxy != "" {
		p, err := parseTarget(l.cfg.AlternateOutboundProxy)
		if err != nil {
			return fmt.Errorf("ua: line alternate outbound proxy: %w", err)
		}
		p.Params = p.Params.Set("lr", "")
		l.altOutbound = &p
	}
	return nil
}

// alternates returns how to send req through the line's alternate: a
// rewrite of the request that makes the alternate its next hop (its
// Route, or for a REGISTER without outbound proxy its Request-URI), or
// none. A REGISTER of a line with DualRegistration has none: each
// registration keeps to its own server.
func (l *Line) alternates(req *sip.Request) []func(*sip.Request) {
	if l == nil || (l.altProxy == nil && l.altOutbound == nil) {
		return nil
	}
	if req.Method == sip.REGISTER && l.cfg.DualRegistration {
		return nil
	}
	return []func(*sip.Request){l.toAlternate}
}

// toAlternate rewrites a request of the line for its alternate hop: the
// alternate outbound proxy in place of the outbound proxy's Route; else
// the alternate proxy as Request-URI of a REGISTER, or as the first
// Route of another request.
func (l *Line) toAlternate(r *sip.Request) {
	route := l.altOutbound
	if route == nil && r.Method == sip.REGISTER && l.proxy == nil {
		r.URI = *l.altProxy
		return
	}
	if route == nil {
		p := *l.altProxy
		p.Params = p.Params.Set("lr", "")
		route = &p
	}
	if l.proxy != nil {
		if routes, err := r.Routes(); err == nil && len(routes) > 0 && routes[0].URI.Equal(l.proxy) {
			rest := r.Values("Route")
			r.Del("Route")
			r.Set("Route", "<"+route.String()+">")
			for _, v := range rest[1:] {
				r.Add("Route", v)
			}
			return
		}
	}
	r.Prepend("Route", "<"+route.String()+">")
}

// primaryFailed reports whether requests go to the alternate first: the
// line registers with both and the primary registration has failed.
func (l *Line) primaryFailed() bool {
	if l == nil || !l.cfg.DualRegistration || (l.altProxy == nil && l.altOutbound == nil) {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == RegFailed && l.fo.altState == RegRegistered
}

// tracks reports whether req goes to the line's own servers, whose moves
// the line reports: a REGISTER, or any request through its outbound
// proxy.
func (l *Line) tracks(req *sip.Request) bool {
	return l != nil && (req.Method == sip.REGISTER || l.proxy != nil)
}

// served notes that e answered a request of the line, after the targets
// in preferred (in resolution order) were skipped or failed: the line
// now works through e, and probes the preferred ones while it does.
func (l *Line) served(e transport.PlanEntry, preferred []transport.PlanEntry, why string) {
	l.mu.Lock()
	from, had := l.fo.server, l.fo.haveSrv
	l.fo.server, l.fo.haveSrv = e.Target, true
	l.fo.preferred = preferred
	moved := had && from != e.Target
	if !had && len(preferred) > 0 {
		// The line's first server is not its most preferred one.
		from, moved = preferred[0].Target, true
	}
	l.mu.Unlock()
	if moved {
		l.u.emit(Event{Kind: EventServerMoved, Line: l, Move: &ServerMove{From: from, To: e.Target, Reason: MoveFailover, Detail: why}})
	}
	l.armProbe()
}

// Server returns the target the line's requests to its own servers last
// went to, and false before any was answered.
func (l *Line) Server() (transport.Target, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fo.server, l.fo.haveSrv
}

// MoveReason says why a line moved to another server.
type MoveReason uint8

// Reasons of a ServerMove.
const (
	// MoveFailover: the server failed (timeout, transport error, 503, or
	// silence past FailoverAfter) and a later target took the request.
	MoveFailover MoveReason = iota + 1
	// MoveProbe: a more preferred server answered the line's probe and
	// the line went back to it.
	MoveProbe
)

// String returns the reason's name.
func (r MoveReason) String() string {
	switch r {
	case MoveFailover:
		return "failover"
	case MoveProbe:
		return "probe"
	}
	return "unknown"
}

// ServerMove is the detail of EventServerMoved: the line's requests went
// to From and now go to To, and why.
type ServerMove struct {
	From, To transport.Target
	Reason   MoveReason
	// Detail says what failed ("127.0.0.1:5260 UDP timeout after 4s") or
	// what answered.
	Detail string
}

// String reads "127.0.0.1:5260/UDP -> 127.0.0.1:5262/UDP (failover: …)".
func (m *ServerMove) String() string {
	return targetString(m.From) + " -> " + targetString(m.To) + " (" + m.Reason.String() + ": " + m.Detail + ")"
}

func targetString(t transport.Target) string {
	return t.Addr.String() + "/" + t.Network.ViaTransport()
}

// afterRegister runs after each registration attempt of the line's run
// (primary granted lifetime, err): it removes the binding at the server a
// probe moved the line away from, once registered with the new one
// (probe.go), then registers with the alternate (failover_dual.go). It
// returns the lifetime to refresh by.
func (l *Line) afterRegister(ctx context.Context, granted time.Duration, err error) time.Duration {
	l.mu.Lock()
	leave, ok := l.fo.leave, l.fo.haveLeave && err == nil && l.fo.server != l.fo.leave
	if err == nil {
		l.fo.haveLeave = false
	}
	l.mu.Unlock()
	if ok {
		l.unregisterAt(leave)
	}
	return l.registerAlt(ctx, granted, err)
}
