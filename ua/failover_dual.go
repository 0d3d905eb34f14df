package ua

import (
	"context"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Dual registration (LineConfig.DualRegistration): the line registers its
// Contact with the primary (Registrar, through OutboundProxy) and with the
// alternate (AlternateProxy, through AlternateOutboundProxy) as two
// registrations of their own (a Call-ID and CSeq each, RFC 3261 §10.2),
// refreshed together. Requests go to the primary first and on to the
// alternate after FailoverAfter; while the primary registration has
// failed and the alternate's holds, they go to the alternate first
// (failover.go, Line.primaryFailed).

// altRegistration is the alternate registration's identity, under
// Line.mu.
type altRegistration struct {
	callID, fromTag string
	cseq            uint32
	granted         time.Duration
	err             error
}

// dual reports whether the line registers with an alternate too.
func (l *Line) dual() bool {
	return l.cfg.DualRegistration && (l.altProxy != nil || l.altOutbound != nil)
}

// registerAlt registers with the alternate after the primary attempt
// (primary, err) and returns the lifetime to refresh both by: the shorter
// of the two granted.
func (l *Line) registerAlt(ctx context.Context, primary time.Duration, err error) time.Duration {
	if !l.dual() {
		return primary
	}
	l.mu.Lock()
	if l.alt.callID == "" {
		l.alt.callID, l.alt.fromTag = sip.NewCallID(), sip.NewTag()
	}
	ct, exp := l.contact, l.expires
	l.fo.altState = RegRegistering
	l.mu.Unlock()
	res, aerr := l.exchangeWith(ctx, []regContact{{ct, exp}}, l.newAltRegister, true)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alt.err = aerr
	if aerr != nil {
		l.fo.altState = RegFailed
		return primary
	}
	l.fo.altState = RegRegistered
	l.alt.granted = grantedExpires(res, ct, l.expires)
	if err != nil {
		return l.alt.granted
	}
	return min(primary, l.alt.granted)
}

// AltState returns the state of the alternate registration of a line
// with DualRegistration, and its last error.
func (l *Line) AltState() (RegState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fo.altState, l.alt.err
}

// unregisterAlt removes the alternate binding of ct, if there is one.
func (l *Line) unregisterAlt(ctx context.Context, ct sip.Address) {
	l.mu.Lock()
	was := l.dual() && l.fo.altState == RegRegistered
	l.fo.altState = RegUnregistered
	l.mu.Unlock()
	if was {
		_, _ = l.exchangeWith(ctx, []regContact{{ct, 0}}, l.newAltRegister, true)
	}
}

// newAltRegister builds a REGISTER of the alternate registration: to the
// alternate proxy (else the registrar), through the alternate outbound
// proxy (else the outbound proxy).
func (l *Line) newAltRegister(contacts []regContact) *sip.Request {
	uri := *l.registrar
	if l.altProxy != nil {
		uri = *l.altProxy
	}
	route := l.proxy
	if l.altOutbound != nil {
		route = l.altOutbound
	}
	l.mu.Lock()
	l.alt.cseq++
	tag, callID, seq := l.alt.fromTag, l.alt.callID, l.alt.cseq
	l.mu.Unlock()
	// A second flow of the same instance: its own reg-id (RFC 5626 §4.2),
	// so a location service both proxies share keeps both.
	return l.registerRequest(uri, route, tag, callID, seq, "2", contacts)
}
