package ua

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Reliable provisional responses, RFC 3262, as the callee: a 1xx sent
// reliably carries Require: 100rel and an RSeq, is retransmitted from T1
// doubling until its PRACK, and the INVITE is refused with 500 when none
// comes within 64·T1. One reliable 1xx is outstanding at a time (§3).

// ErrProvisionalPending: a reliable provisional response still awaits its
// PRACK; Ring or Progress may be called again once it has come.
var ErrProvisionalPending = errors.New("ua: reliable provisional response awaiting PRACK")

// ErrProvisionalUnacknowledged: Answer waited for the PRACK of a reliable
// provisional response carrying SDP, and none came within 64·T1; the
// INVITE was refused with 500 (RFC 3262 §3).
var ErrProvisionalUnacknowledged = errors.New("ua: reliable provisional response with SDP not PRACKed within 64·T1")

// reliableOut is the reliable provisional state of an incoming call.
type reliableOut struct {
	rseq    uint32
	pending *sip.Response // awaiting its PRACK
	// acked closes when pending is PRACKed or given up on; Answer waits
	// on it while pending carries SDP.
	acked chan struct{}
	// replying is acked while the 200 to the PRACK is on its way: the
	// 2xx to the INVITE must not overtake it (the peer checks the order).
	replying chan struct{}
	gaveUp   bool // no PRACK within 64·T1: the 500 is on its way
	timer    *clockTimer
	next     time.Duration
	until    time.Time
}

// settleLocked ends the wait for the pending 1xx's PRACK (it came, or
// 64·T1 passed); ic.mu is held.
func (r *reliableOut) settleLocked() {
	r.pending = nil
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.acked != nil {
		close(r.acked)
		r.acked = nil
	}
}

// wantsReliable reports whether the provisional responses to req, for
// line, go reliably: it requires 100rel, or supports it and the line's
// policy is ReliableRequired.
func (u *UA) wantsReliable(req *sip.Request, line *Line) bool {
	policy := u.reliableFor(line)
	if policy == ReliableOff {
		return false
	}
	return req.HasToken("Require", "100rel") || (policy == ReliableRequired && req.HasToken("Supported", "100rel"))
}

// sendReliableLocked sends res, a 101–199 to ic's INVITE, reliably when
// the INVITE asks for it, and reports whether it did (false: send it as
// usual). ic.mu is held.
func (ic *IncomingCall) sendReliableLocked(res *sip.Response) (bool, error) {
	u := ic.u
	if !u.wantsReliable(ic.req, ic.line) {
		return false, nil
	}
	if ic.rel == nil {
		ic.rel = &reliableOut{}
		if !u.subs.addEarly(ic) {
			return true, ErrClosed
		}
	}
	r := ic.rel
	if r.pending != nil {
		return true, ErrProvisionalPending
	}
	r.rseq++
	res.Set("Require", "100rel")
	res.Set("RSeq", strconv.FormatUint(uint64(r.rseq), 10))
	// The early dialog it makes may carry PRACKs and UPDATEs: the caller
	// learns from Allow whether we take UPDATE (RFC 3311 §5.1).
	u.advertise(res)
	if ic.dlg == nil {
		// The dialog our UPDATEs go in; a failure leaves Update without one.
		ic.dlg, _ = dialog.NewUAS(ic.req, res)
	}
	r.pending, r.next, r.until = res, u.t1, time.Now().Add(64*u.t1)
	r.acked = make(chan struct{})
	u.respond(ic.w, res)
	ic.armReliableLocked()
	return true, nil
}

// armReliableLocked schedules the next retransmission of the pending
// reliable 1xx, or the 500 once 64·T1 passed; ic.mu is held.
func (ic *IncomingCall) armReliableLocked() {
	u, r := ic.u, ic.rel
	r.timer = u.afterFunc(min(r.next, time.Until(r.until)), func() {
		ic.mu.Lock()
		defer ic.mu.Unlock()
		if ic.final || r.pending == nil {
			return
		}
		if !time.Now().Before(r.until) {
			r.settleLocked()
			r.gaveUp = true
			res := sip.NewResponseTag(ic.req, sip.StatusServerInternalError, "Reliable Provisional Response Unacknowledged", ic.tag)
			u.goTrack(func() {
				ic.mu.Lock()
				defer ic.mu.Unlock()
				if !ic.final {
					ic.finish(res, &StatusError{Response: res})
				}
			})
			return
		}
		res := r.pending
		u.goTrack(func() { u.respond(ic.w, res) })
		r.next = min(2*r.next, u.t2)
		ic.armReliableLocked()
	})
}

// stopReliableLocked ends the reliable state once the INVITE has its
// final response; ic.mu is held.
func (ic *IncomingCall) stopReliableLocked() {
	if r := ic.rel; r != nil {
		r.settleLocked()
		ic.u.subs.removeEarly(ic)
	}
}

// servePrack answers a PRACK for a reliable 1xx of ours (RFC 3262 §3):
// 200 when its RAck names the pending one (its retransmissions stop), 481
// when it matches no call waiting for one. SDP in it is the answer to
// the offer in our 1xx, or a new offer answered in the 200 (§5,
// prackoffer.go).
func (u *UA) servePrack(w transaction.ResponseWriter, req *sip.Request) {
	ic := u.subs.earlyFor(req)
	if ic == nil {
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
		return
	}
	f := strings.Fields(req.Header("RAck"))
	ic.mu.Lock()
	r := ic.rel
	cs, _ := ic.req.CSeq()
	ok := len(f) == 3 && r != nil && r.pending != nil && f[0] == strconv.FormatUint(uint64(r.rseq), 10) &&
		f[1] == strconv.FormatUint(uint64(cs.Seq), 10) && strings.EqualFold(f[2], string(sip.INVITE))
	if !ok {
		res := sip.NewResponseTag(req, sip.StatusCallTransactionDoesNotExist, "", ic.tag)
		ic.mu.Unlock()
		u.respond(w, res)
		return
	}
	// Answer, waiting on acked, goes on once the PRACK's 200 is sent.
	acked := r.acked
	r.acked, r.replying = nil, acked
	r.settleLocked()
	res := ic.prackSDPLocked(req)
	ic.mu.Unlock()
	u.respond(w, res)
	if acked != nil {
		ic.mu.Lock()
		r.replying = nil
		ic.mu.Unlock()
		close(acked)
	}
}

// ProvisionalPending reports whether a reliable provisional response of
// ours awaits its PRACK (Ring and Progress then return
// ErrProvisionalPending).
func (ic *IncomingCall) ProvisionalPending() bool {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.rel != nil && ic.rel.pending != nil
}
