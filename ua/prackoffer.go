package ua

import (
	"bytes"
	"context"
	"errors"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/sip"
)

// Offer/answer in reliable provisional responses and PRACK, RFC 3262 §5,
// as the callee. To an INVITE without SDP, Progress(nil) sends our offer
// in a reliable 183 and the PRACK brings the answer; once an exchange is
// complete in the early dialog, a PRACK may carry a new offer, answered
// in its 200. Either way the 200 to the INVITE repeats our current SDP
// and the ACK carries none.

// earlyOA is the offer/answer state of an incoming call's early dialog.
type earlyOA struct {
	// offered: our reliable 1xx carries an offer that awaits its answer
	// in the PRACK.
	offered bool
	// remote is the peer's latest SDP of the early dialog: the answer in
	// a PRACK, or its new offer.
	remote []byte
	// seq is the CSeq number of the caller's latest UPDATE in the early
	// dialog (updatein.go), 0 before one.
	seq uint32
}

// reliableOffer reports whether a 183 to ic's INVITE may carry our offer:
// the INVITE has none, and the 183 goes reliably (an offer in an
// unreliable 1xx could not be answered before the 2xx). ic.mu is held.
func (ic *IncomingCall) reliableOffer() bool {
	return len(ic.req.Body()) == 0 && ic.u.wantsReliable(ic.req, ic.line)
}

// prackSDPLocked takes the SDP of a PRACK that acknowledged our pending
// 1xx and returns the PRACK's response: the answer to our offer is
// applied to the call's session; a new offer is answered from it in the
// 200 (488 when it cannot be: no session of ours, or an unusable offer).
// ic.mu is held.
func (ic *IncomingCall) prackSDPLocked(req *sip.Request) *sip.Response {
	body := req.Body()
	ok := func(answer []byte) *sip.Response {
		res := sip.NewResponseTag(req, sip.StatusOK, "", ic.tag)
		if len(answer) > 0 {
			res.SetBody(answer, "application/sdp")
		}
		return res
	}
	if len(body) == 0 || req.ContentType() != "application/sdp" {
		return ok(nil)
	}
	if ic.early.offered {
		if ic.media != nil {
			if err := ic.media.applyAnswer(body, false); err != nil {
				return ic.refuseEarlySDP(req, err)
			}
		}
		// Without a session of ours the host's media takes the answer
		// from Call.RemoteSDP.
		ic.early.offered, ic.early.remote = false, bytes.Clone(body)
		return ok(nil)
	}
	return ic.answerEarlyLocked(req)
}

// answerEarlyLocked answers a new offer of the caller in its early
// dialog (in a PRACK, or an UPDATE, updatein.go) from the call's session:
// 200 with our answer, 488 when it cannot be (no session of ours, an
// unusable offer), 500 for another failure. ic.mu is held.
func (ic *IncomingCall) answerEarlyLocked(req *sip.Request) *sip.Response {
	body := req.Body()
	refuse := func(err error) *sip.Response { return ic.refuseEarlySDP(req, err) }
	if ic.media == nil {
		return refuse(errors.New("no session of ours to answer a new offer with"))
	}
	answer, err := ic.media.answer(body)
	if err != nil {
		if !errors.Is(err, sdp.ErrNotAcceptable) && !errors.Is(err, sdp.ErrMalformed) {
			res := sip.NewResponseTag(req, sip.StatusServerInternalError, "", ic.tag)
			return res
		}
		return refuse(err)
	}
	ic.mediaSDP, ic.early.remote = answer, bytes.Clone(body)
	res := sip.NewResponseTag(req, sip.StatusOK, "", ic.tag)
	res.SetBody(answer, "application/sdp")
	return res
}

// refuseEarlySDP is the 488 to a PRACK or UPDATE of the early dialog
// whose SDP cannot be taken, with why in the log.
func (ic *IncomingCall) refuseEarlySDP(req *sip.Request, err error) *sip.Response {
	ic.u.log.Debug("SDP in "+string(req.Method)+" refused", "call_id", ic.req.CallID(), "error", err.Error())
	res := sip.NewResponseTag(req, sip.StatusNotAcceptableHere, "", ic.tag)
	res.Set("Warning", `304 `+ic.u.cfg.UserAgent+` "Media type not available"`)
	return res
}

// waitPrackLocked holds Answer back while a reliable 1xx of ours that
// carries SDP awaits its PRACK: RFC 3262 §3 forbids the 2xx until then.
// It unlocks ic.mu while it waits and returns with it held: nil when the
// 2xx may go, ErrProvisionalUnacknowledged when 64·T1 passed without the
// PRACK (the 500 is sent), the cause when the caller canceled.
func (ic *IncomingCall) waitPrackLocked() error {
	for waited := false; ; waited = true {
		r := ic.rel
		if waited && r.gaveUp {
			return ErrProvisionalUnacknowledged
		}
		if ic.final || r == nil {
			return nil
		}
		acked := r.replying // the PRACK's 200 is being sent: after it
		if acked == nil && (r.pending == nil || len(r.pending.Body()) == 0) {
			return nil
		}
		if acked == nil {
			acked = r.acked
		}
		ic.mu.Unlock()
		select {
		case <-acked:
		case <-ic.ctx.Done():
		}
		ic.mu.Lock()
		if ic.ctx.Err() != nil {
			return context.Cause(ic.ctx) // 487 (awaitAnswer) or closing
		}
	}
}

// early183 prepares the SDP of a 183 sent by Progress(nil): our answer to
// the INVITE's offer, or our offer when the INVITE has none and the 183
// goes reliably. It returns nil when the 183 carries no SDP; ic.mu is
// held.
func (ic *IncomingCall) early183() ([]byte, error) {
	if !ic.u.mediaEnabled() || (len(ic.req.Body()) == 0 && !ic.reliableOffer()) {
		return nil, nil
	}
	if err := ic.prepareMedia(); err != nil {
		return nil, err
	}
	return ic.mediaSDP, nil
}

// sentReliableSDP records a reliable 1xx with SDP sent to ic's INVITE:
// the first to an INVITE without an offer is ours, answered in the PRACK.
// ic.mu is held.
func (ic *IncomingCall) sentReliableSDP() {
	if len(ic.req.Body()) == 0 && ic.early.remote == nil {
		ic.early.offered = true
	}
}
