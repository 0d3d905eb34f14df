package ua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transport"
)

// RegState is a line's registration state.
type RegState uint8

// Registration states.
const (
	RegUnregistered RegState = iota
	RegRegistering
	RegRegistered
	RegFailed
)

// String returns the state's name.
func (s RegState) String() string {
	switch s {
	case RegRegistering:
		return "registering"
	case RegRegistered:
		return "registered"
	case RegFailed:
		return "failed"
	}
	return "unregistered"
}

// Line is an account of the UA: it registers its AOR and places calls from
// it. Its methods are safe for concurrent use.
type Line struct {
	u         *UA
	cfg       LineConfig
	aor       sip.Address
	user      string
	registrar *sip.URI
	proxy     *sip.URI
	network   transport.Network
	creds     *credentials
	callID    string
	fromTag   string

	mu        sync.Mutex
	cseq      uint32
	state     RegState
	contact   sip.Address
	haveCt    bool
	natDone   bool
	expires   uint32
	granted   time.Duration
	timer     *clockTimer
	failures  int
	running   bool
	want      bool
	closing   bool
	lastErr   error
	waiters   []chan error
	registers sync.Mutex // one REGISTER exchange at a time
	nat       lineFlow   // the registration's flow and public address (contact.go)

	// Failover (failover_line.go, probe.go): settings, then state under mu.
	failoverAfter time.Duration
	probeEvery    time.Duration
	altProxy      *sip.URI
	altOutbound   *sip.URI
	fo            lineFailover
	alt           altRegistration

	mwi *mwiState // LineConfig.MessageWaiting; nil without
}

func newLine(u *UA, cfg LineConfig) (*Line, error) {
	aorURI, err := parseTarget(cfg.AOR)
	if err != nil {
		return nil, fmt.Errorf("ua: line AOR: %w", err)
	}
	l := &Line{u: u, cfg: cfg, aor: sip.Address{Display: cfg.DisplayName, URI: aorURI},
		callID: sip.NewCallID(), fromTag: sip.NewTag(), network: cfg.Transport}
	if l.cfg.InstanceID == "" {
		l.cfg.InstanceID = newInstanceID()
	}
	l.user = aorURI.User
	username := cfg.Username
	if username == "" {
		username = aorURI.Username()
	}
	if cfg.Registrar != "" {
		r, err := parseTarget(cfg.Registrar)
		if err != nil {
			return nil, fmt.Errorf("ua: line registrar: %w", err)
		}
		l.registrar = &r
	}
	if cfg.OutboundProxy != "" {
		p, err := parseTarget(cfg.OutboundProxy)
		if err != nil {
			return nil, fmt.Errorf("ua: line outbound proxy: %w", err)
		}
		p.Params = p.Params.Set("lr", "")
		l.proxy = &p
	}
	if l.network == "" {
		// sips: or ;transport= of the first hop decides for every request
		// of the line, not only for the REGISTER.
		if l.proxy != nil {
			l.network = uriNetwork(*l.proxy)
		} else if l.registrar != nil {
			l.network = uriNetwork(*l.registrar)
		}
	}
	if cfg.Contact != "" {
		c, err := sip.ParseAddress(cfg.Contact)
		if err != nil {
			return nil, fmt.Errorf("%w: contact %q", ErrBadTarget, cfg.Contact)
		}
		l.contact, l.haveCt, l.natDone = c, true, true
	}
	exp := cfg.Expires
	if exp <= 0 {
		exp = DefaultExpires
	}
	l.expires = uint32(exp / time.Second)
	if l.cfg.RetryMin <= 0 {
		l.cfg.RetryMin = DefaultRetryMin
	}
	if l.cfg.RetryMax <= 0 {
		l.cfg.RetryMax = DefaultRetryMax
	}
	l.creds, err = newCredentials(digest.Credentials{Username: username, Password: cfg.Password, HA1: cfg.HA1})
	if err != nil {
		return nil, err
	}
	if err := l.initFailover(); err != nil {
		return nil, err
	}
	return l, nil
}

// AOR returns the line's address of record.
func (l *Line) AOR() sip.URI { return l.aor.URI }

// State returns the registration state and, for RegRegistered, the lifetime
// the registrar granted.
func (l *Line) State() (RegState, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state, l.granted
}

// Err returns the error of the last failed registration attempt, or nil.
func (l *Line) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// Contact returns the Contact the line registers.
func (l *Line) Contact() sip.Address {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.contact
}

// Register registers the line now and waits for the outcome: nil once the
// registrar accepted the binding, else the error (a *StatusError, an
// *AuthError, a transaction error). Refreshes follow at half the granted
// lifetime, and failures are retried with back-off, until Unregister or
// Close. ctx bounds the wait, not the registration. The outcome's event
// (EventRegistered or EventRegistrationFailed) reaches OnEvent before
// Register returns.
func (l *Line) Register(ctx context.Context) error {
	if l.registrar == nil {
		return ErrNoRegistrar
	}
	ch := make(chan error, 1)
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.waiters = append(l.waiters, ch)
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	if !l.start() {
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start runs a registration attempt unless one is running.
func (l *Line) start() bool {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return false
	}
	l.want = true
	if l.running {
		l.mu.Unlock()
		return true
	}
	l.running = true
	l.mu.Unlock()
	if !l.u.goTrack(l.run) {
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
		return false
	}
	return true
}

func (l *Line) run() {
	l.mu.Lock()
	l.state = RegRegistering
	l.mu.Unlock()
	l.u.emit(Event{Kind: EventRegistering, Line: l})
	granted, err := l.registerOnce(l.u.baseCtx)
	granted = l.afterRegister(l.u.baseCtx, granted, err) // failover_line.go

	l.mu.Lock()
	l.running = false
	waiters := l.waiters
	l.waiters = nil
	if !l.want || l.closing {
		l.mu.Unlock()
		for _, w := range waiters {
			w <- ErrClosed
		}
		return
	}
	ev := Event{Line: l}
	if err == nil {
		l.state, l.granted, l.failures, l.lastErr = RegRegistered, granted, 0, nil
		ev.Kind, ev.Expires = EventRegistered, granted
		l.timer = l.u.afterFunc(max(granted/2, MinRefresh), func() { l.start() })
		l.armKeepaliveLocked()
	} else {
		l.state, l.lastErr = RegFailed, err
		l.failures++
		ev.Kind, ev.Err = EventRegistrationFailed, err
		if delay, ok := l.retryDelay(err); ok {
			l.timer = l.u.afterFunc(delay, func() { l.start() })
		}
	}
	l.mu.Unlock()
	// OnEvent hears the outcome before Register returns, so a caller that
	// checks its event log after Register finds the event there.
	l.u.emit(ev)
	for _, w := range waiters {
		w <- err
	}
}

// retryDelay says whether and when to retry after err: authentication
// failures and 403/404 are final; otherwise Retry-After, else an
// exponential back-off from RetryMin to RetryMax.
func (l *Line) retryDelay(err error) (time.Duration, bool) {
	if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrClosed) {
		return 0, false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code() {
		case sip.StatusForbidden, sip.StatusNotFound:
			return 0, false
		}
		if ra, err := se.Response.RetryAfter(); err == nil && ra.Delay > 0 {
			return ra.Delay, true
		}
	}
	d := l.cfg.RetryMin
	for i := 1; i < l.failures && d < l.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, l.cfg.RetryMax), true
}

type regContact struct {
	addr    sip.Address
	expires uint32
}

// registerOnce registers the current Contact and returns the lifetime
// granted; the first success also corrects the Contact from the response's
// received/rport when they differ (RFC 3581 §4: we are behind a NAT).
func (l *Line) registerOnce(ctx context.Context) (time.Duration, error) {
	l.registers.Lock()
	defer l.registers.Unlock()
	l.mu.Lock()
	have := l.haveCt
	l.mu.Unlock()
	if !have {
		ct, err := l.buildContact(ctx)
		if err != nil {
			return 0, err
		}
		l.mu.Lock()
		l.contact, l.haveCt = ct, true
		if l.nat.mapped.IsValid() {
			l.nat.public = l.nat.mapped
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	ct, exp, natDone := l.contact, l.expires, l.natDone
	contacts := []regContact{{ct, exp}}
	if st := l.nat.stale; st != nil && !st.URI.Equal(&ct.URI) {
		contacts = append([]regContact{{*st, 0}}, contacts...)
	}
	l.mu.Unlock()

	res, err := l.exchange(ctx, contacts)
	if err != nil {
		return 0, err
	}
	l.noteRegistered(res)
	granted := grantedExpires(res, ct, l.currentExpires())
	if natDone || !l.natApplies() {
		return granted, nil
	}
	l.mu.Lock()
	l.natDone = true
	l.mu.Unlock()
	pub, ok := natContact(res, ct)
	l.checkSymmetric(pub, ok)
	if !ok {
		return granted, nil
	}
	l.u.log.Debug("NAT detected, re-registering", slog.String("contact", pub.String()))
	res, err = l.exchange(ctx, []regContact{{ct, 0}, {pub, l.currentExpires()}})
	if err != nil {
		return granted, nil // the old binding stands
	}
	l.mu.Lock()
	l.contact = pub
	l.mu.Unlock()
	l.notePublic(contactAddrPort(pub))
	l.noteRegistered(res)
	return grantedExpires(res, pub, l.currentExpires()), nil
}

func (l *Line) currentExpires() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// grantedExpires is the lifetime the registrar granted our contact: the
// expires parameter of the matching Contact in the 2xx, else its Expires
// header, else what we asked for (RFC 3261 §10.2.4).
func grantedExpires(res *sip.Response, ct sip.Address, asked uint32) time.Duration {
	if cs, err := res.Contacts(); err == nil {
		for i := range cs {
			if cs[i].URI.Equal(&ct.URI) {
				if e, ok := cs[i].Expires(); ok {
					return time.Duration(e) * time.Second
				}
			}
		}
	}
	if e, err := res.Expires(); err == nil && res.Header("Expires") != "" {
		return time.Duration(e) * time.Second
	}
	return time.Duration(asked) * time.Second
}

// exchange sends one REGISTER for contacts, answering challenges once each
// and 423 Interval Too Brief with the Min-Expires asked for (RFC 3261
// §10.2.8), and returns the 2xx.
func (l *Line) exchange(ctx context.Context, contacts []regContact) (*sip.Response, error) {
	return l.exchangeWith(ctx, contacts, l.newRegister, false)
}

// exchangeWith is exchange with the REGISTERs built by build; alt says
// they are the alternate registration's (failover_dual.go).
func (l *Line) exchangeWith(ctx context.Context, contacts []regContact, build func([]regContact) *sip.Request, alt bool) (*sip.Response, error) {
	var auth []sip.Header // credentials answering the last challenge
	var last lastTarget   // where the challenge came from (failover.go)
	preemptive := false
	for range 8 {
		req := build(contacts)
		if auth != nil {
			applyAuth(req, auth)
		} else if pre := l.creds.preauth(sip.REGISTER, req.URI.String(), nil); len(pre) > 0 {
			applyAuth(req, pre)
			preemptive = true
		}
		auth = nil
		res, err := l.u.requestVia(ctx, req, l.sendNetwork(), l, alt, &last) // failover.go
		if err == nil && !alt {
			l.noteFlow(last.flow) // the registration's flow (contact.go)
		}
		if err != nil {
			return nil, fmt.Errorf("ua: REGISTER: %w", err)
		}
		switch {
		case res.IsSuccess():
			return res, nil
		case isChallenge(res):
			hs, err := l.creds.answer(res, req)
			if err != nil {
				if preemptive {
					// Credentials sent ahead of a challenge were refused
					// (the registrar forgot its nonce): start afresh once.
					preemptive = false
					continue
				}
				return nil, err
			}
			auth = l.creds.retryAuth(hs, req)
		case res.StatusCode == sip.StatusIntervalTooBrief:
			minExp, err := res.MinExpires()
			if err != nil || res.Header("Min-Expires") == "" {
				return nil, &StatusError{Response: res}
			}
			grew := false
			for i := range contacts {
				if contacts[i].expires > 0 && contacts[i].expires < minExp {
					contacts[i].expires, grew = minExp, true
				}
			}
			if !grew {
				return nil, &StatusError{Response: res}
			}
			l.mu.Lock()
			l.expires = max(l.expires, minExp)
			l.mu.Unlock()
		default:
			return nil, &StatusError{Response: res}
		}
	}
	return nil, fmt.Errorf("ua: REGISTER: %w", ErrAuthFailed)
}

func (l *Line) newRegister(contacts []regContact) *sip.Request {
	l.mu.Lock()
	l.cseq++
	seq := l.cseq
	l.mu.Unlock()
	return l.registerRequest(*l.registrar, l.proxy, l.fromTag, l.callID, seq, "1", contacts)
}

// registerRequest builds a REGISTER to uri, routed through route when it
// is set, with the registration's From tag, Call-ID and CSeq (RFC 3261
// §10.2), binding contacts. Unless outbound is off, a contact that stays
// (and a lone one) carries the instance and regID (RFC 5626 §4.2).
func (l *Line) registerRequest(uri sip.URI, route *sip.URI, fromTag, callID string, seq uint32, regID string, contacts []regContact) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, uri)
	req.SetTo(sip.Address{URI: l.aor.URI})
	from := l.aor
	from.Params = from.Params.Set("tag", fromTag)
	req.SetFrom(from)
	req.SetCallID(callID)
	req.SetCSeq(sip.CSeq{Seq: seq, Method: sip.REGISTER})
	if route != nil {
		req.Set("Route", "<"+route.String()+">")
	}
	for _, c := range contacts {
		a := c.addr
		a.Params = a.Params.Set("expires", strconv.FormatUint(uint64(c.expires), 10))
		if !l.cfg.NoOutbound && (c.expires > 0 || len(contacts) == 1) {
			a = l.outboundParams(a, regID)
		}
		req.Add("Contact", a.String())
	}
	if !l.cfg.NoOutbound {
		req.Set("Supported", "outbound, path")
	}
	if len(contacts) == 1 {
		req.Set("Expires", strconv.FormatUint(uint64(contacts[0].expires), 10))
	}
	l.u.addCommon(req)
	return req
}

// Unregister removes the line's binding (a REGISTER with Expires: 0, RFC
// 3261 §10.2.2) and stops refreshes. ctx bounds the wait.
func (l *Line) Unregister(ctx context.Context) error {
	if l.registrar == nil {
		return ErrNoRegistrar
	}
	l.mu.Lock()
	l.want = false
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.stopKeepaliveLocked()
	was := l.state == RegRegistered
	ct := l.contact
	l.mu.Unlock()
	l.unregisterAlt(ctx, ct) // failover_dual.go
	if !was {
		return nil
	}
	_, err := l.exchange(ctx, []regContact{{ct, 0}})
	l.mu.Lock()
	l.state, l.granted = RegUnregistered, 0
	l.mu.Unlock()
	l.u.emit(Event{Kind: EventUnregistered, Line: l, Err: err})
	return err
}

// shutdown unregisters the line for Close.
func (l *Line) shutdown(ctx context.Context) {
	if l.registrar == nil {
		return
	}
	_ = l.Unregister(ctx)
	l.mu.Lock()
	l.closing = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.stopKeepaliveLocked()
	waiters := l.waiters
	l.waiters = nil
	l.mu.Unlock()
	for _, w := range waiters {
		w <- ErrClosed
	}
}

// from returns the From address for a new request of the line.
func (l *Line) from() sip.Address {
	f := l.aor
	f.Params = f.Params.Set("tag", sip.NewTag())
	return f
}
