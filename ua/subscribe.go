package ua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// The subscriber side of RFC 6665: SUBSCRIBE, refresh before the lease
// ends, unsubscribe, and the dialogs NOTIFYs create, one per notifier when
// the SUBSCRIBE forked.

// DefaultSubscribeExpires is the subscription lifetime asked for when
// SubscribeOptions.Expires is zero.
const DefaultSubscribeExpires = time.Hour

// Errors a subscription ends with (Subscription.Err).
var (
	// ErrUnsubscribed: Unsubscribe (or Close) ended the subscription.
	ErrUnsubscribed = errors.New("ua: unsubscribed")
	// ErrNoNotify: no NOTIFY came within 64·T1 of the 2xx to the
	// SUBSCRIBE (RFC 6665 §4.1.2.4).
	ErrNoNotify = errors.New("ua: no NOTIFY for the subscription")
	// ErrSubscriptionExpired: the lease ran out without a successful
	// refresh.
	ErrSubscriptionExpired = errors.New("ua: subscription expired")
	// ErrBadEvent: SubscribeOptions.Event is empty.
	ErrBadEvent = errors.New("ua: subscription without an event package")
)

// TerminatedError is how a subscription ended when the notifier ended
// it: the Subscription-State of its last NOTIFY. State.Resubscribe says
// whether and when to subscribe again.
type TerminatedError struct {
	State dialog.SubscriptionState
}

// Error implements error.
func (e *TerminatedError) Error() string {
	return "ua: subscription terminated by the notifier (" + e.State.String() + ")"
}

// SubscribeOptions are the settings of one subscription.
type SubscribeOptions struct {
	// Line subscribes: its AOR is the From, its credentials answer
	// challenges, its outbound proxy is the first hop. Nil: the UA's first
	// line, or an anonymous From.
	Line *Line
	// Event is the event package, with its id parameter if any
	// ("message-summary", "dialog", "presence;id=1"). Required.
	Event string
	// Accept lists the body types accepted in NOTIFYs (the Accept header);
	// empty: none sent, the package's default applies.
	Accept []string
	// Expires is the lifetime asked for (0: DefaultSubscribeExpires).
	Expires time.Duration
	// Transport forces a network; empty: the line's, else the target's.
	Transport transport.Network
	// Headers are added to the initial SUBSCRIBE.
	Headers []sip.Header
	// OnNotify gets every NOTIFY of the subscription, once the
	// subscription's state is updated and the NOTIFY answered 200, one
	// at a time in the order they were served. It must not wait for the
	// subscription's next NOTIFY: call Unsubscribe from another goroutine.
	OnNotify func(ctx context.Context, s *Subscription, n *Notify)
}

// Notify is a NOTIFY received in a subscription of ours.
type Notify struct {
	// State is its Subscription-State.
	State dialog.SubscriptionState
	// ContentType and Body are the event state it carries (Body may be
	// empty).
	ContentType string
	Body        []byte
	// Notifier tells the notifiers of a forked SUBSCRIBE apart: the
	// NOTIFY's From tag.
	Notifier string
	// Request is the NOTIFY itself (read-only).
	Request *sip.Request
}

// Subscription is a subscription of ours (RFC 6665 §4.1), created by
// Subscribe. It lives until the notifier terminates it, its lease runs
// out, Unsubscribe or Close; Done is closed then and Err says why. Its
// methods are safe for concurrent use.
type Subscription struct {
	u       *UA
	line    *Line
	target  sip.URI
	event   string // the Event header value
	pkg, id string
	expires time.Duration
	accept  string
	network transport.Network
	onNote  func(ctx context.Context, s *Subscription, n *Notify)
	done    chan struct{}
	// noteMu serializes the NOTIFYs of the subscription, OnNotify
	// included.
	noteMu sync.Mutex

	mu       sync.Mutex
	req      *sip.Request // the initial SUBSCRIBE as last sent
	forks    map[string]*subFork
	ended    bool
	endErr   error
	noNotify *clockTimer
	notified bool
	last     *Notify
	onEnd    func(*Subscription, error)
}

// subFork is the subscription in one notifier's dialog.
type subFork struct {
	s       *Subscription
	d       *dialog.Dialog
	state   dialog.SubState
	refresh *clockTimer
	expire  *clockTimer
	leaving bool // our SUBSCRIBE with Expires: 0 is out
	ended   bool
}

// Subscribe subscribes to opts.Event at target (RFC 6665 §4.1.2.1) and
// returns the subscription once the SUBSCRIBE got its 2xx: the NOTIFYs
// that follow go to opts.OnNotify, refreshes go out at half of each
// lease. A final non-2xx is a *StatusError (489 Bad Event: the notifier
// does not know the package); a challenge is answered once.
func (u *UA) Subscribe(ctx context.Context, target string, opts SubscribeOptions) (*Subscription, error) {
	uri, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	return u.subscribe(ctx, uri, opts, nil)
}

// subscribe is Subscribe to uri; onEnd, when set, is called once the
// subscription Subscribe returned ends (not when Subscribe fails).
func (u *UA) subscribe(ctx context.Context, uri sip.URI, opts SubscribeOptions, onEnd func(*Subscription, error)) (*Subscription, error) {
	if opts.Event == "" {
		return nil, ErrBadEvent
	}
	line := opts.Line
	if line == nil && len(u.lines) > 0 {
		line = u.lines[0]
	}
	network := opts.Transport
	if network == "" && line != nil {
		network = line.network
	}
	if network == "" {
		network = uriNetwork(uri)
	}
	s := &Subscription{u: u, line: line, target: uri, event: opts.Event, expires: opts.Expires,
		network: network, onNote: opts.OnNotify, done: make(chan struct{}), forks: map[string]*subFork{}}
	s.pkg, s.id = dialog.EventPackage(opts.Event)
	if s.expires <= 0 {
		s.expires = DefaultSubscribeExpires
	}
	s.accept = joinComma(opts.Accept)
	from, contact, err := u.localParty(ctx, line, network, uri)
	if err != nil {
		return nil, err
	}
	callID := sip.NewCallID()
	var auth []sip.Header
	for seq := uint32(1); ; seq++ {
		req := sip.NewRequest(sip.SUBSCRIBE, uri)
		req.SetTo(sip.Address{URI: uri})
		req.SetFrom(from)
		req.SetCallID(callID)
		req.SetCSeq(sip.CSeq{Seq: seq, Method: sip.SUBSCRIBE})
		req.Set("Contact", contact.String())
		if line != nil && line.proxy != nil {
			req.Set("Route", "<"+line.proxy.String()+">")
		}
		s.decorate(req, s.expires)
		for _, h := range opts.Headers {
			req.Add(h.Name, h.Value)
		}
		applyAuth(req, auth)
		s.mu.Lock()
		s.req = req
		s.mu.Unlock()
		if seq == 1 && !u.subs.addPending(s) {
			return nil, ErrClosed
		}
		tx, err := u.send(ctx, ctx, req, network)
		if err != nil {
			s.fail(err)
			return nil, err
		}
		res, err := tx.Final(ctx)
		if err != nil {
			s.fail(err)
			return nil, err
		}
		switch {
		case res.IsSuccess():
			if err := s.confirmed(req, res); err != nil {
				s.fail(err)
				return nil, err
			}
			s.mu.Lock()
			s.onEnd = onEnd
			ended, why := s.ended, s.endErr
			s.mu.Unlock()
			if ended && onEnd != nil {
				onEnd(s, why)
			}
			return s, nil
		case isChallenge(res) && seq < 3:
			cr := s.creds()
			hs, err := cr.answer(res, req)
			if err != nil {
				s.fail(err)
				return nil, err
			}
			auth = cr.retryAuth(hs, req)
		default:
			err := &StatusError{Response: res}
			s.fail(err)
			return nil, err
		}
	}
}

// localParty returns the From (with a new tag) and Contact of a request
// from line (or anonymous) toward uri.
func (u *UA) localParty(ctx context.Context, line *Line, network transport.Network, uri sip.URI) (from, contact sip.Address, err error) {
	first := uri
	user := "dialtone"
	if line != nil {
		user = line.user
		if line.proxy != nil {
			first = *line.proxy
		}
	}
	contact, err = u.contactFor(ctx, user, network, first)
	if err != nil {
		return from, contact, err
	}
	if line != nil && line.cfg.Contact != "" {
		contact = line.Contact()
	}
	if line != nil {
		return line.from(), contact, nil
	}
	from = sip.Address{URI: contact.URI, Params: sip.Params(";tag=" + sip.NewTag())}
	from.URI.Params = ""
	return from, contact, nil
}

func (s *Subscription) creds() *credentials {
	if s.line == nil {
		return nil
	}
	return s.line.creds
}

// decorate sets what every SUBSCRIBE of s carries.
func (s *Subscription) decorate(req *sip.Request, expires time.Duration) {
	req.Set("Event", s.event)
	req.Set("Expires", strconv.Itoa(int(expires/time.Second)))
	if s.accept != "" {
		req.Set("Accept", s.accept)
	}
	s.u.advertise(req)
	s.u.addCommon(req)
}

// Event returns the Event header value subscribed to.
func (s *Subscription) Event() string { return s.event }

// Target returns the URI subscribed to.
func (s *Subscription) Target() sip.URI { return s.target }

// Line returns the line of the subscription, or nil.
func (s *Subscription) Line() *Line { return s.line }

// Done is closed when the subscription has ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended (ErrUnsubscribed, a
// *TerminatedError, ErrSubscriptionExpired, ErrNoNotify,
// ErrDialogTerminated, ErrClosed), or nil while it lasts.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// State returns the subscription's state: active when a notifier has it
// active, else pending until every notifier has terminated it.
func (s *Subscription) State() dialog.SubState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return dialog.SubTerminated
	}
	st := dialog.SubPending
	for _, f := range s.forks {
		if !f.ended && f.state == dialog.SubActive {
			st = dialog.SubActive
		}
	}
	return st
}

// Last returns the latest NOTIFY received, or nil.
func (s *Subscription) Last() *Notify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// confirmed takes the 2xx to the initial SUBSCRIBE: the dialog it makes
// (unless a NOTIFY made it first), the lease granted, and the wait for a
// first NOTIFY.
func (s *Subscription) confirmed(req *sip.Request, res *sip.Response) error {
	u := s.u
	granted := leaseGranted(res, s.expires)
	s.mu.Lock()
	defer s.mu.Unlock()
	tag := dialog.ResponseID(res).RemoteTag
	f := s.forks[tag]
	if f == nil {
		d, err := dialog.NewUAC(req, res)
		if err != nil {
			return err
		}
		f = &subFork{s: s, d: d, state: dialog.SubPending}
		if !u.subs.add(d.ID(), f) {
			return ErrClosed
		}
		s.forks[tag] = f
	}
	f.leaseLocked(granted)
	if !s.notified {
		s.noNotify = u.afterFunc(64*u.t1, func() { s.end(ErrNoNotify) })
	}
	return nil
}

// leaseGranted is the Expires of a 2xx to SUBSCRIBE, or asked when it
// has none.
func leaseGranted(res *sip.Response, asked time.Duration) time.Duration {
	if v := res.Header("Expires"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// leaseLocked arms the fork's refresh at half of d and its end at d; s.mu
// is held.
func (f *subFork) leaseLocked(d time.Duration) {
	u := f.s.u
	f.stopTimersLocked()
	if d <= 0 || f.ended || f.leaving {
		return
	}
	f.refresh = u.afterFunc(d/2, func() { u.goTrack(f.doRefresh) })
	f.expire = u.afterFunc(d, func() { f.s.endFork(f, ErrSubscriptionExpired) })
}

func (f *subFork) stopTimersLocked() {
	if f.refresh != nil {
		f.refresh.Stop()
		f.refresh = nil
	}
	if f.expire != nil {
		f.expire.Stop()
		f.expire = nil
	}
}

// doRefresh sends the refreshing SUBSCRIBE of one fork (RFC 6665
// §4.1.2.2). A 2xx renews the lease, a 481 or 408 (or no answer) ends the
// fork; another failure leaves the lease to run out.
func (f *subFork) doRefresh() {
	s := f.s
	res, err := f.request(s.u.baseCtx, s.expires)
	if err != nil || res == nil {
		return
	}
	if res.IsSuccess() {
		s.mu.Lock()
		f.leaseLocked(leaseGranted(res, s.expires))
		s.mu.Unlock()
	}
}

// request sends a SUBSCRIBE with expires in the fork's dialog, answering
// a challenge once, and returns its final response. The fork ends when
// the dialog does (481, 408, timeout).
func (f *subFork) request(ctx context.Context, expires time.Duration) (*sip.Response, error) {
	s, u := f.s, f.s.u
	var auth []sip.Header
	for try := 0; ; try++ {
		s.mu.Lock()
		if f.ended {
			s.mu.Unlock()
			return nil, ErrCallEnded
		}
		req, err := f.d.NewRequest(sip.SUBSCRIBE, nil, "")
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		s.decorate(req, expires)
		applyAuth(req, auth)
		tx, err := u.send(ctx, ctx, req, s.network)
		if err != nil {
			s.endFork(f, err)
			return nil, err
		}
		res, err := tx.Final(ctx)
		s.mu.Lock()
		if err == nil || ctx.Err() == nil {
			_ = f.d.ReceiveResponse(req, res)
		}
		gone := f.d.State() == dialog.StateTerminated
		s.mu.Unlock()
		if gone {
			s.endFork(f, ErrDialogTerminated)
		}
		if err != nil {
			return nil, err
		}
		if isChallenge(res) && try == 0 {
			hs, err := s.creds().answer(res, req)
			if err != nil {
				return res, err
			}
			auth = s.creds().retryAuth(hs, req)
			continue
		}
		return res, nil
	}
}

// Unsubscribe ends the subscription (RFC 6665 §4.1.2.3): a SUBSCRIBE with
// Expires: 0 in each notifier's dialog, then the wait for their final
// NOTIFYs (at most 64·T1 each) or ctx. Err is then ErrUnsubscribed.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	forks := make([]*subFork, 0, len(s.forks))
	for _, f := range s.forks {
		if !f.ended && !f.leaving {
			f.leaving = true
			f.stopTimersLocked()
			forks = append(forks, f)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range forks {
		wg.Go(func() {
			res, err := f.request(ctx, 0)
			s.mu.Lock()
			if err == nil && res.IsSuccess() && !f.ended {
				// The final NOTIFY ends the fork; without one it ends at
				// 64·T1.
				f.expire = s.u.afterFunc(64*s.u.t1, func() { s.endFork(f, ErrUnsubscribed) })
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.endFork(f, ErrUnsubscribed)
		})
	}
	wg.Wait()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endFork ends one notifier's subscription; the subscription ends with
// the last of them.
func (s *Subscription) endFork(f *subFork, why error) {
	s.mu.Lock()
	if f.ended {
		s.mu.Unlock()
		return
	}
	f.ended = true
	f.stopTimersLocked()
	id := f.d.ID()
	last := true
	for _, g := range s.forks {
		if !g.ended {
			last = false
		}
	}
	if f.leaving && errors.Is(why, ErrSubscriptionExpired) {
		why = ErrUnsubscribed
	}
	s.mu.Unlock()
	s.u.subs.remove(id, f)
	if last {
		s.end(why)
	}
}

// fail ends a subscription whose initial SUBSCRIBE failed.
func (s *Subscription) fail(err error) {
	s.end(fmt.Errorf("ua: SUBSCRIBE %s: %w", s.target.String(), err))
}

// end ends the subscription with why, once: every fork's timers stop and
// it leaves the UA's tables.
func (s *Subscription) end(why error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.endErr = true, why
	if s.noNotify != nil {
		s.noNotify.Stop()
	}
	forks := make([]*subFork, 0, len(s.forks))
	for _, f := range s.forks {
		f.ended = true
		f.stopTimersLocked()
		forks = append(forks, f)
	}
	req, onEnd := s.req, s.onEnd
	s.mu.Unlock()
	for _, f := range forks {
		s.u.subs.remove(f.d.ID(), f)
	}
	s.u.subs.removePending(req, s)
	close(s.done)
	if onEnd != nil {
		onEnd(s, why)
	}
}
