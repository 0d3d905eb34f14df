package ua

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// The notifier side of RFC 6665: a SUBSCRIBE to us, the host's decision,
// NOTIFYs, refreshes, unsubscription and expiry.

// DefaultMaxSubscriptionExpires is the longest lifetime granted to a
// subscription to us when Config.MaxSubscriptionExpires is zero.
const DefaultMaxSubscriptionExpires = time.Hour

// IncomingSubscription is a new SUBSCRIBE waiting for the host's decision,
// as Config.OnSubscribe gets it. Accept or Reject answers it, once.
type IncomingSubscription struct {
	u       *UA
	ctx     context.Context
	w       transaction.ResponseWriter
	req     *sip.Request
	line    *Line
	expires time.Duration

	mu    sync.Mutex
	final bool
}

// Request returns the SUBSCRIBE (read-only).
func (is *IncomingSubscription) Request() *sip.Request { return is.req }

// Event returns the event package asked for ("message-summary").
func (is *IncomingSubscription) Event() string {
	pkg, _ := dialog.EventPackage(is.req.Header("Event"))
	return pkg
}

// From returns the subscriber's address.
func (is *IncomingSubscription) From() sip.Address { a, _ := is.req.From(); return a }

// Line returns the line whose AOR user matches the Request-URI, or nil.
func (is *IncomingSubscription) Line() *Line { return is.line }

// Expires returns the lifetime that will be granted: the one asked for,
// bounded by Config.MaxSubscriptionExpires.
func (is *IncomingSubscription) Expires() time.Duration { return is.expires }

// Reject refuses the subscription with code (400–699; others give 500).
func (is *IncomingSubscription) Reject(code int, reason string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.final {
		return ErrAnswered
	}
	is.final = true
	if code < 300 || code > 699 {
		code = sip.StatusServerInternalError
	}
	is.u.respond(is.w, sip.NewResponse(is.req, code, reason))
	return nil
}

// Accept accepts the subscription: a 200 with the granted Expires, then at
// once the first NOTIFY (RFC 6665 §4.2.1.2), active, carrying body of
// contentType as the current state; a SUBSCRIBE with Expires: 0 (a
// fetch) gets that NOTIFY terminated. It returns the Notifier, through
// which the host sends the later states, without waiting for the NOTIFY's
// answer (a 481 to it ends the subscription: see Notifier.Done).
func (is *IncomingSubscription) Accept(contentType string, body []byte) (*Notifier, error) {
	ctx := is.u.baseCtx
	u := is.u
	is.mu.Lock()
	if is.final {
		is.mu.Unlock()
		return nil, ErrAnswered
	}
	is.final = true
	tag := sip.NewTag()
	res := sip.NewResponseTag(is.req, sip.StatusOK, "", tag)
	ct, err := u.answerContact(ctx, is.w.Flow(), is.req, is.line)
	if err != nil {
		is.mu.Unlock()
		u.respond(is.w, sip.NewResponse(is.req, sip.StatusServerInternalError, ""))
		return nil, err
	}
	dialog.PrepareResponse(is.req, res, tag, ct)
	res.Set("Expires", strconv.Itoa(int(is.expires/time.Second)))
	u.advertise(res)
	d, err := dialog.NewUAS(is.req, res)
	if err != nil {
		is.mu.Unlock()
		u.respond(is.w, sip.NewResponse(is.req, sip.StatusBadRequest, ""))
		return nil, err
	}
	n := &Notifier{u: u, d: d, event: is.req.Header("Event"), network: is.w.Flow().Network, line: is.line,
		done: make(chan struct{}), sending: make(chan struct{}, 1), contentType: contentType, body: bytes.Clone(body)}
	n.pkg, n.id = dialog.EventPackage(n.event)
	if !u.subs.add(d.ID(), n) {
		is.mu.Unlock()
		u.respond(is.w, sip.NewResponse(is.req, sip.StatusServiceUnavailable, ""))
		return nil, ErrClosed
	}
	n.mu.Lock()
	if is.expires > 0 {
		n.leaseLocked(is.expires)
	}
	n.mu.Unlock()
	is.mu.Unlock()
	u.respond(is.w, res)
	if is.expires == 0 {
		// A fetch (RFC 6665 §4.4.3): one NOTIFY, which ends it.
		u.goTrack(func() { _ = n.terminate(ctx, dialog.ReasonTimeout, ErrUnsubscribed) })
	} else {
		// The first NOTIFY (RFC 6665 §4.2.1.1) carries the state when it
		// goes: a Notify of the host's may already have changed it, or
		// sent it.
		u.goTrack(func() { _ = n.sendActive(ctx, true) })
	}
	return n, nil
}

// answerContact is our Contact in a response to req received on flow.
func (u *UA) answerContact(ctx context.Context, fl transport.Flow, req *sip.Request, line *Line) (sip.Address, error) {
	user := req.URI.User
	if user == "" {
		user = "dialtone"
	}
	if line != nil && line.cfg.Contact != "" {
		return line.Contact(), nil
	}
	if fl.Local.IsValid() && !fl.Local.Addr().IsUnspecified() {
		return u.contacts.at(user, fl.Local, fl.Network)
	}
	hp, err := u.contactAddr(ctx, fl.Network, sip.URI{Scheme: "sip", Host: fl.Remote.Addr().Unmap().String(), Port: int(fl.Remote.Port())})
	if err != nil {
		return sip.Address{}, err
	}
	return makeContact(user, hp, fl.Network)
}

// Notifier is a subscription to us that the host accepted: it sends the
// NOTIFYs (RFC 6665 §4.2.2). It ends when the subscriber unsubscribes or
// lets it expire, when Terminate is called, when a NOTIFY gets 481 (or no
// answer), or at Close; Done is closed then.
type Notifier struct {
	u       *UA
	d       *dialog.Dialog
	event   string
	pkg, id string
	network transport.Network
	line    *Line
	done    chan struct{}
	// sending holds the one NOTIFY in flight: the next waits for its final
	// response, so CSeq order is the order the subscriber sees (one that
	// overtook a lower-numbered NOTIFY would get 500, RFC 3261 §12.2.2).
	sending chan struct{}

	mu          sync.Mutex
	expiresAt   time.Time
	expire      *clockTimer
	contentType string
	body        []byte
	sent        bool // a NOTIFY has gone
	ended       bool
	endErr      error
}

// Done is closed when the subscription has ended.
func (n *Notifier) Done() <-chan struct{} { return n.done }

// Err returns why the subscription ended: ErrUnsubscribed (the subscriber
// asked), ErrSubscriptionExpired (not refreshed), ErrDialogTerminated (a
// NOTIFY got 481 or no answer), ErrClosed; nil while it lasts or after
// Terminate.
func (n *Notifier) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.endErr
}

// Event returns the subscribed event package.
func (n *Notifier) Event() string { return n.pkg }

// Line returns the line subscribed to, or nil.
func (n *Notifier) Line() *Line { return n.line }

// Notify sends the subscription's new state, body of contentType, in a
// NOTIFY (active, with the time left) and returns once it is answered: a
// 2xx gives nil, else a *StatusError; a 481 or 408 ends the subscription.
// A NOTIFY still in flight is answered first: one goes at a time. The state
// is kept and sent again after each refresh.
func (n *Notifier) Notify(ctx context.Context, contentType string, body []byte) error {
	n.mu.Lock()
	if n.ended {
		n.mu.Unlock()
		return ErrCallEnded
	}
	n.contentType, n.body = contentType, bytes.Clone(body)
	n.mu.Unlock()
	return n.sendActive(ctx, false)
}

// sendActive sends the current state in an active NOTIFY with the time
// left; with first, only if no NOTIFY has gone yet.
func (n *Notifier) sendActive(ctx context.Context, first bool) error {
	n.mu.Lock()
	left := time.Until(n.expiresAt).Round(time.Second)
	n.mu.Unlock()
	return n.send(ctx, dialog.SubscriptionState{State: dialog.SubActive, Expires: max(left, 0)}, first)
}

// Terminate ends the subscription with a last NOTIFY, terminated with
// reason (dialog.ReasonNoResource, ReasonDeactivated…; "" for none), and
// returns once it is answered or ctx ends.
func (n *Notifier) Terminate(ctx context.Context, reason string) error {
	return n.terminate(ctx, reason, nil)
}

func (n *Notifier) terminate(ctx context.Context, reason string, why error) error {
	n.mu.Lock()
	if n.ended {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	err := n.send(ctx, dialog.SubscriptionState{State: dialog.SubTerminated, Reason: reason}, false)
	n.end(why)
	return err
}

// send sends one NOTIFY with state and the current body, once the NOTIFY
// before it has its final response; with first, only if it is the first.
func (n *Notifier) send(ctx context.Context, st dialog.SubscriptionState, first bool) error {
	u := n.u
	select {
	case n.sending <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-n.sending }()
	n.mu.Lock()
	if n.ended {
		// It ended while this NOTIFY waited for the one before.
		n.mu.Unlock()
		return ErrCallEnded
	}
	if first && n.sent {
		n.mu.Unlock()
		return nil
	}
	n.sent = true
	req, err := n.d.NewRequest(sip.NOTIFY, n.body, n.contentType)
	n.mu.Unlock()
	if err != nil {
		return err
	}
	req.Set("Event", n.event)
	req.Set("Subscription-State", st.String())
	u.addCommon(req)
	// The transaction runs on when ctx ends: ctx bounds the wait.
	tx, err := u.send(ctx, u.baseCtx, req, n.network)
	if err != nil {
		n.end(ErrDialogTerminated)
		return err
	}
	res, err := tx.Final(ctx)
	n.mu.Lock()
	if err == nil || ctx.Err() == nil {
		_ = n.d.ReceiveResponse(req, res)
	}
	gone := n.d.State() == dialog.StateTerminated
	n.mu.Unlock()
	if gone {
		n.end(ErrDialogTerminated)
	}
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return &StatusError{Response: res}
	}
	return nil
}

// leaseLocked arms the end of the subscription d from now; n.mu is held.
func (n *Notifier) leaseLocked(d time.Duration) {
	if n.expire != nil {
		n.expire.Stop()
	}
	n.expiresAt = time.Now().Add(d)
	n.expire = n.u.afterFunc(d, func() {
		n.u.goTrack(func() { _ = n.terminate(n.u.baseCtx, dialog.ReasonTimeout, ErrSubscriptionExpired) })
	})
}

// end ends the subscription with why, once.
func (n *Notifier) end(why error) {
	n.mu.Lock()
	if n.ended {
		n.mu.Unlock()
		return
	}
	n.ended, n.endErr = true, why
	if n.expire != nil {
		n.expire.Stop()
	}
	id := n.d.ID()
	n.mu.Unlock()
	n.u.subs.remove(id, n)
	close(n.done)
}

// serve takes a SUBSCRIBE in the subscription's dialog (RFC 6665
// §4.2.1.2): a refresh gets 200 with the granted Expires and a NOTIFY of
// the current state; Expires: 0 unsubscribes (200, then a terminated
// NOTIFY).
func (n *Notifier) serve(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	u := n.u
	n.mu.Lock()
	if !u.admitInDialog(w, req, &n.mu, n.d, n.ended) {
		return
	}
	if req.Method != sip.SUBSCRIBE {
		res := n.d.NewResponse(req, sip.StatusMethodNotAllowed, "")
		n.mu.Unlock()
		res.Set("Allow", u.allow)
		u.respond(w, res)
		return
	}
	if pkg, id := dialog.EventPackage(req.Header("Event")); pkg != n.pkg || id != n.id {
		res := n.d.NewResponse(req, sip.StatusBadEvent, "")
		n.mu.Unlock()
		u.respond(w, res)
		return
	}
	exp := u.grantExpires(req)
	res := n.d.NewResponse(req, sip.StatusOK, "")
	res.Set("Expires", strconv.Itoa(int(exp/time.Second)))
	if exp > 0 {
		n.leaseLocked(exp)
	}
	n.mu.Unlock()
	u.respond(w, res)
	if exp == 0 {
		u.goTrack(func() { _ = n.terminate(u.baseCtx, dialog.ReasonTimeout, ErrUnsubscribed) })
		return
	}
	u.goTrack(func() { _ = n.sendActive(u.baseCtx, false) })
}

// grantExpires is the lifetime granted to a SUBSCRIBE: its Expires (the
// package default of one hour when absent), at most
// Config.MaxSubscriptionExpires.
func (u *UA) grantExpires(req *sip.Request) time.Duration {
	asked := DefaultSubscribeExpires
	if v := req.Header("Expires"); v != "" {
		if e, err := strconv.ParseUint(v, 10, 32); err == nil {
			asked = time.Duration(e) * time.Second
		}
	}
	limit := u.cfg.MaxSubscriptionExpires
	if limit <= 0 {
		limit = DefaultMaxSubscriptionExpires
	}
	return min(asked, limit)
}

// incomingSubscribe runs a new SUBSCRIBE: the host's OnSubscribe decides;
// one it leaves unanswered gets 489 Bad Event.
func (u *UA) incomingSubscribe(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if u.cfg.OnSubscribe == nil {
		res := sip.NewResponse(req, sip.StatusMethodNotAllowed, "")
		res.Set("Allow", u.allow)
		u.respond(w, res)
		return
	}
	if req.Header("Event") == "" {
		u.respond(w, sip.NewResponse(req, sip.StatusBadEvent, ""))
		return
	}
	var line *Line
	for _, l := range u.builtLines() {
		if l.user != "" && l.user == req.URI.User {
			line = l
			break
		}
	}
	is := &IncomingSubscription{u: u, ctx: ctx, w: w, req: req, line: line, expires: u.grantExpires(req)}
	u.cfg.OnSubscribe(ctx, is)
	_ = is.Reject(sip.StatusBadEvent, "")
}
