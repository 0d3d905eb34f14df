package ua

import (
	"bytes"
	"context"
	"sync"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Routing of SUBSCRIBE and NOTIFY (RFC 6665 §4): the dialogs of
// subscriptions, ours and the host's, and the NOTIFYs a subscription of
// ours receives.

// subEntry is a subscription dialog: a notifier's dialog of one of our
// subscriptions (*subFork), or a subscription to us (*Notifier).
type subEntry interface {
	serve(ctx context.Context, w transaction.ResponseWriter, req *sip.Request)
}

// pendingKey finds the subscription a NOTIFY of a new dialog belongs to:
// our SUBSCRIBE's Call-ID and From tag.
type pendingKey struct{ callID, tag string }

// subTable holds the subscription dialogs of a UA by dialog ID, and our
// subscriptions by pendingKey until they end (a forked SUBSCRIBE gets new
// dialogs as long as it lives).
type subTable struct {
	mu      sync.Mutex
	closed  bool
	byID    map[dialog.ID]subEntry
	pending map[pendingKey]*Subscription
	// early holds the incoming calls with reliable provisional responses
	// (RFC 3262), by Call-ID and our To tag, for their PRACKs.
	early map[pendingKey]*IncomingCall
}

func (t *subTable) addEarly(ic *IncomingCall) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.early == nil {
		t.early = map[pendingKey]*IncomingCall{}
	}
	t.early[pendingKey{callID: ic.req.CallID(), tag: ic.tag}] = ic
	return true
}

func (t *subTable) removeEarly(ic *IncomingCall) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := pendingKey{callID: ic.req.CallID(), tag: ic.tag}
	if t.early[k] == ic {
		delete(t.early, k)
	}
}

// earlyFor returns the incoming call a PRACK is for, or nil.
func (t *subTable) earlyFor(req *sip.Request) *IncomingCall {
	to, _ := req.To()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.early[pendingKey{callID: req.CallID(), tag: to.Tag()}]
}

func keyOf(req *sip.Request) pendingKey {
	from, _ := req.From()
	return pendingKey{callID: req.CallID(), tag: from.Tag()}
}

func (t *subTable) addPending(s *Subscription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.pending == nil {
		t.pending = map[pendingKey]*Subscription{}
	}
	t.pending[keyOf(s.req)] = s
	return true
}

func (t *subTable) removePending(req *sip.Request, s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := keyOf(req)
	if t.pending[k] == s {
		delete(t.pending, k)
	}
}

func (t *subTable) add(id dialog.ID, e subEntry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.byID == nil {
		t.byID = map[dialog.ID]subEntry{}
	}
	t.byID[id] = e
	return true
}

func (t *subTable) remove(id dialog.ID, e subEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[id] == e {
		delete(t.byID, id)
	}
}

func (t *subTable) get(id dialog.ID) subEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

// forNotify returns our subscription whose SUBSCRIBE a NOTIFY answers
// (To tag = our From tag), or nil.
func (t *subTable) forNotify(req *sip.Request) *Subscription {
	to, _ := req.To()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending[pendingKey{callID: req.CallID(), tag: to.Tag()}]
}

// close refuses new subscriptions and returns those alive: ours and the
// host's.
func (t *subTable) close() (subs []*Subscription, notifiers []*Notifier) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, s := range t.pending {
		subs = append(subs, s)
	}
	for _, e := range t.byID {
		if n, ok := e.(*Notifier); ok {
			notifiers = append(notifiers, n)
		}
	}
	return subs, notifiers
}

// endSubscriptions is Close's part for subscriptions: ours are
// unsubscribed, the host's terminated (reason deactivated: subscribe
// again), each within ctx.
func (u *UA) endSubscriptions(ctx context.Context) {
	subs, notifiers := u.subs.close()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			_ = s.Unsubscribe(ctx)
			s.end(ErrClosed)
		})
	}
	for _, n := range notifiers {
		wg.Go(func() { _ = n.Terminate(ctx, dialog.ReasonDeactivated) })
	}
	wg.Wait()
}

// serveEvent serves SUBSCRIBE and NOTIFY that belong to subscriptions, and
// reports false for the rest (a NOTIFY or SUBSCRIBE in a call's dialog,
// one matching nothing), which go on as any request.
func (u *UA) serveEvent(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) bool {
	if req.Method == sip.PRACK {
		u.servePrack(w, req) // RFC 3262, reliable.go
		return true
	}
	if req.Method != sip.NOTIFY && req.Method != sip.SUBSCRIBE && req.Method != sip.REFER {
		return false
	}
	to, _ := req.To()
	if to.Tag() != "" && (req.Method == sip.REFER || isReferNotify(req)) {
		// The REFER and its implicit subscription share the call's dialog
		// (RFC 3515 §2.4.4).
		if c := u.lookup(dialog.RequestID(req)); c != nil {
			if req.Method == sip.REFER {
				u.incomingRefer(ctx, w, req, c)
			} else {
				c.referNotify(w, req)
			}
			return true
		}
	}
	if req.Method == sip.REFER {
		return false // outside a call: 481
	}
	if to.Tag() == "" {
		if req.Method == sip.SUBSCRIBE {
			u.incomingSubscribe(ctx, w, req)
			return true
		}
		return false
	}
	if e := u.subs.get(dialog.RequestID(req)); e != nil {
		e.serve(ctx, w, req)
		return true
	}
	if req.Method == sip.NOTIFY {
		if s := u.subs.forNotify(req); s != nil {
			s.newFork(ctx, w, req)
			return true
		}
	}
	return false
}

// isReferNotify reports a NOTIFY of the refer package.
func isReferNotify(req *sip.Request) bool {
	pkg, _ := dialog.EventPackage(req.Header("Event"))
	return req.Method == sip.NOTIFY && pkg == "refer"
}

// newFork takes the first NOTIFY of a notifier whose dialog we do not have
// yet: it came before the 2xx, or from another branch of a forked
// SUBSCRIBE (RFC 6665 §4.1.2.4).
func (s *Subscription) newFork(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	from, _ := req.From()
	s.mu.Lock()
	f := s.forks[from.Tag()]
	if f == nil {
		if s.ended {
			s.mu.Unlock()
			s.u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
			return
		}
		d, err := dialog.NewNotified(s.req, req)
		if err != nil {
			s.mu.Unlock()
			s.u.respond(w, sip.NewResponse(req, sip.StatusBadRequest, ""))
			return
		}
		f = &subFork{s: s, d: d, state: dialog.SubPending}
		if !s.u.subs.add(d.ID(), f) {
			s.mu.Unlock()
			s.u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
			return
		}
		s.forks[from.Tag()] = f
	}
	s.mu.Unlock()
	f.serve(ctx, w, req)
}

// serve takes a NOTIFY in a notifier's dialog (RFC 6665 §4.1.3): its
// Subscription-State moves the fork's state and lease, it is answered
// 200, then OnNotify sees it; terminated ends the fork. A wrong Event gets
// 489, a missing or malformed Subscription-State 400.
func (f *subFork) serve(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	s, u := f.s, f.s.u
	// One NOTIFY at a time, callback included: a notifier sends the next
	// once this one is answered, and the host sees them in that order.
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	s.mu.Lock()
	if !u.admitInDialog(w, req, &s.mu, f.d, f.ended) {
		return
	}
	refuse := func(code int) {
		res := f.d.NewResponse(req, code, "")
		s.mu.Unlock()
		u.respond(w, res)
	}
	if req.Method != sip.NOTIFY {
		refuse(sip.StatusMethodNotAllowed)
		return
	}
	if pkg, id := dialog.EventPackage(req.Header("Event")); pkg != s.pkg || id != s.id {
		refuse(sip.StatusBadEvent)
		return
	}
	st, err := dialog.ParseSubscriptionState(req.Header("Subscription-State"))
	if err != nil {
		refuse(sip.StatusBadRequest)
		return
	}
	res := f.d.NewResponse(req, sip.StatusOK, "")
	s.notified = true
	if s.noNotify != nil {
		s.noNotify.Stop()
		s.noNotify = nil
	}
	from, _ := req.From()
	n := &Notify{State: st, ContentType: req.ContentType(), Body: bytes.Clone(req.Body()), Notifier: from.Tag(), Request: req}
	s.last = n
	if st.State != dialog.SubTerminated {
		f.state = st.State
		if st.Expires > 0 && !f.leaving {
			f.leaseLocked(st.Expires)
		}
	}
	leaving := f.leaving
	s.mu.Unlock()
	// Answered first: the host's callback may take its time, or act on
	// the subscription (Unsubscribe), which the notifier must see after
	// its NOTIFY's answer.
	u.respond(w, res)
	if s.onNote != nil {
		s.onNote(ctx, s, n)
	}
	if st.State == dialog.SubTerminated {
		var why error = &TerminatedError{State: st}
		if leaving {
			why = ErrUnsubscribed
		}
		s.endFork(f, why)
	}
}
