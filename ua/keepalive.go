package ua

import (
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/transport"
)

// Keepalives of a registered line's flow (RFC 5626 §4.4): a CRLF ping on
// TCP, TLS, WS and WSS (§4.4.1, the transport watches for the pong) and a
// STUN binding request on UDP (§4.4.2), on the UA's clock. A dead flow —
// a connection that closed or missed its pong, a UDP peer that stopped
// answering STUN after it had answered — is reported (EventFlowFailed)
// and the line registers again at once, over a new flow. A changed
// public mapping seen in a STUN answer re-registers too.

// Keepalive defaults (LineConfig.Keepalive zero).
const (
	// DefaultUDPKeepalive is the keepalive interval of a UDP flow: below
	// the 30 s many NATs keep an idle UDP binding (RFC 5626 §4.4.2 allows
	// down to 20 s with jitter; RFC 4787 REQ-5 asks NATs for 2 minutes,
	// few give it).
	DefaultUDPKeepalive = 25 * time.Second
	// DefaultStreamKeepalive is the keepalive interval of a connection
	// (RFC 5626 §4.4.1: 95 to 120 s).
	DefaultStreamKeepalive = 120 * time.Second
	// KeepaliveMisses is how many STUN keepalives in a row may go
	// unanswered, from a peer that answered before, before the UDP flow
	// is declared dead.
	KeepaliveMisses = 2
)

// ErrFlowDead is the Err of EventFlowFailed when the flow's peer stopped
// answering keepalives; a flow that closed reports the transport's error.
var ErrFlowDead = errors.New("ua: flow dead (keepalive unanswered)")

// keepaliveEvery is the line's keepalive interval over n; 0 is none.
func (l *Line) keepaliveEvery(n transport.Network) time.Duration {
	switch {
	case l.cfg.Keepalive < 0:
		return 0
	case l.cfg.Keepalive > 0:
		return l.cfg.Keepalive
	case n == transport.UDP:
		return DefaultUDPKeepalive
	}
	return DefaultStreamKeepalive
}

// armKeepaliveLocked (re)starts the keepalive timer after a successful
// registration. l.mu is held.
func (l *Line) armKeepaliveLocked() {
	l.stopKeepaliveLocked()
	every := l.keepaliveEvery(l.nat.flow.Network)
	if every <= 0 || !l.nat.flow.Remote.IsValid() {
		return
	}
	l.nat.ka = l.u.afterFunc(every, l.keepaliveTick)
}

// stopKeepaliveLocked stops the keepalive timer. l.mu is held.
func (l *Line) stopKeepaliveLocked() {
	if l.nat.ka != nil {
		l.nat.ka.Stop()
		l.nat.ka = nil
	}
	l.nat.ping = stunPing{}
}

// keepaliveTick runs on the UA's clock: it sends one keepalive and arms
// the next. It does not block: a connection's ping is written on a
// goroutine of the UA.
func (l *Line) keepaliveTick() {
	l.mu.Lock()
	if l.closing || !l.want || l.state != RegRegistered {
		l.nat.ka = nil
		l.mu.Unlock()
		return
	}
	f := l.nat.flow
	every := l.keepaliveEvery(f.Network)
	if f.Network != transport.UDP {
		l.nat.ka = l.u.afterFunc(every, l.keepaliveTick)
		l.mu.Unlock()
		l.u.goTrack(func() {
			if err := l.u.tp.Ping(f); err != nil {
				l.flowDead(f, err)
			}
		})
		return
	}
	p := &l.nat.ping
	if p.pending && p.answered {
		p.missed++
		if p.missed >= KeepaliveMisses {
			l.nat.ka = nil
			l.mu.Unlock()
			l.flowDead(f, ErrFlowDead)
			return
		}
	}
	l.nat.ka = l.u.afterFunc(every, l.keepaliveTick)
	l.mu.Unlock()
	_, err := l.u.stunSendNoted(f, func(mapped netip.AddrPort) { l.pong(f, mapped) }, func(id [12]byte) {
		l.mu.Lock()
		if l.nat.ping.pending {
			l.u.stunc.take(l.nat.ping.id) // the unanswered one: forget it
		}
		l.nat.ping.id, l.nat.ping.pending = id, true
		l.mu.Unlock()
	})
	if err != nil {
		l.mu.Lock()
		l.nat.ping.pending = false
		l.mu.Unlock()
		l.u.log.Debug("keepalive send failed", slog.String("error", err.Error()))
	}
}

// pong is the STUN answer to a keepalive: the flow is alive; a public
// mapping other than the one registered means the NAT rebound the flow:
// register again with the new address.
func (l *Line) pong(f transport.Flow, mapped netip.AddrPort) {
	l.mu.Lock()
	if l.nat.flow != f {
		l.mu.Unlock()
		return
	}
	l.nat.ping.pending, l.nat.ping.answered, l.nat.ping.missed = false, true, 0
	rebound := l.nat.public.IsValid() && mapped != l.nat.public && l.cfg.Contact == ""
	if rebound {
		old := l.contact
		l.nat.stale = &old
		l.contact = withHostPort(l.contact, mapped)
		l.nat.public = mapped
	}
	l.mu.Unlock()
	if rebound {
		l.u.log.Info("public mapping changed, re-registering", slog.String("public", mapped.String()))
		l.reregister()
	}
}

// flowClosed is told by the transport that a connection closed.
func (u *UA) flowClosed(f transport.Flow, err error) {
	if !u.started.Load() || f.Conn == 0 {
		return
	}
	for _, l := range u.lines {
		l.mu.Lock()
		mine := l.nat.flow.Conn == f.Conn && l.nat.flow.Network == f.Network
		l.mu.Unlock()
		if mine {
			l.flowDead(f, err)
		}
	}
}

// flowDead reports that the line's registration flow f died and registers
// again at once, over a new flow (RFC 5626 §4.4.1, §4.5).
func (l *Line) flowDead(f transport.Flow, err error) {
	l.mu.Lock()
	if l.nat.flow != f || l.closing || !l.want || l.registrar == nil {
		l.mu.Unlock()
		return
	}
	l.stopKeepaliveLocked()
	l.nat.flow = transport.Flow{}
	switch {
	case l.cfg.Contact != "":
	case l.nat.fromConn:
		// The Contact was the dead connection's address: build it again.
		old := l.contact
		l.nat.stale = &old
		l.haveCt = false
	case f.Network == transport.UDP:
		// A new NAT binding may have another public port: learn it again
		// from the registrar's received/rport.
		l.natDone = false
	}
	l.mu.Unlock()
	if err == nil {
		err = ErrFlowDead
	}
	l.u.log.Info("registration flow failed, re-registering", slog.String("flow", f.Remote.String()), slog.String("error", err.Error()))
	l.u.emit(Event{Kind: EventFlowFailed, Line: l, Err: err})
	l.reregister()
}

// reregister registers the line again now.
func (l *Line) reregister() {
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	l.start()
}
