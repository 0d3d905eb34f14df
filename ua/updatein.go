package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// UPDATE in early dialogs, RFC 3311: as the callee, an UPDATE from the
// caller in the early dialog our reliable provisional response created
// (RFC 3262) is answered in its 200 from the call's session, whose RTP
// then follows it, and the 2xx to the INVITE repeats that answer; our own
// new offer goes with IncomingCall.Update. As the caller, an UPDATE from
// the callee in the early dialog Call.Update may use is answered as in a
// confirmed dialog. An UPDATE in the confirmed dialog is served with the
// call's other requests (incoming.go).

// serveUpdate answers req, an UPDATE in ic's early dialog: 481 once the
// INVITE has its final response or for another dialog, 500 for an
// out-of-order CSeq, 491 while our offer in a reliable 1xx awaits its
// answer (§5.2), 200 with our answer to its offer (488 when it cannot be
// taken), and 200 without body for an UPDATE without SDP.
func (ic *IncomingCall) serveUpdate(w transaction.ResponseWriter, req *sip.Request) {
	u := ic.u
	from, _ := req.From()
	invFrom, _ := ic.req.From()
	cs, err := req.CSeq()
	invCS, _ := ic.req.CSeq()
	ic.mu.Lock()
	var res *sip.Response
	offer := len(req.Body()) > 0 && req.ContentType() == "application/sdp"
	switch {
	case ic.final || from.Tag() != invFrom.Tag():
		res = sip.NewResponseTag(req, sip.StatusCallTransactionDoesNotExist, "", ic.tag)
	case err != nil:
		res = sip.NewResponseTag(req, sip.StatusBadRequest, "", ic.tag)
	case cs.Seq <= max(invCS.Seq, ic.early.seq):
		res = sip.NewResponseTag(req, sip.StatusServerInternalError, "", ic.tag)
	case offer && ic.early.offered:
		ic.early.seq = cs.Seq
		res = sip.NewResponseTag(req, sip.StatusRequestPending, "", ic.tag)
	case offer:
		ic.early.seq = cs.Seq
		res = ic.answerEarlyLocked(req)
	default:
		ic.early.seq = cs.Seq
		res = sip.NewResponseTag(req, sip.StatusOK, "", ic.tag)
	}
	if res.IsSuccess() {
		res.Set("Contact", ic.contact.String())
		u.advertise(res)
	}
	ic.mu.Unlock()
	u.respond(w, res)
	if res.IsSuccess() && offer {
		u.emit(Event{Kind: EventCallUpdated, Line: ic.line, CallID: ic.req.CallID(), SDP: req.Body()})
	}
}

// Update sends an UPDATE (RFC 3311) with a new offer made from ch in the
// early dialog of our reliable provisional response, and returns once its
// 2xx brings the answer, which the early session then follows; the host
// gets EventCallUpdated (Call nil, as the call is not answered yet).
// Answer then repeats our new SDP in the 2xx. For a call with a session
// of ours (Progress(nil)) ch sets its codecs and direction; for SDP the
// host brings, ch.SDP is the offer, and the host answers the INVITE with
// it. The exchange of the INVITE's offer must be complete: our reliable
// 1xx answered it (or carried our offer, answered in the PRACK) and its
// PRACK came (RFC 3311 §5.1).
//
// Errors: ErrNotEstablished without a reliable 1xx of ours (no early
// dialog); ErrUpdateNotAllowed when the INVITE's Allow does not list
// UPDATE (nothing is sent); dialog.ErrRequestPending while a reliable 1xx
// awaits its PRACK or an offer is outstanding; ErrAnswered once the INVITE
// has its final response; a *StatusError for a refusal (the session stays
// as it was; a 491 is retried after the RFC 3261 §14.1 back-off, at most
// Limits.MaxGlareRetries times); ctx's error. Answer called meanwhile
// returns dialog.ErrRequestPending.
func (ic *IncomingCall) Update(ctx context.Context, ch MediaChange) error {
	for glare := 0; ; glare++ {
		res, err := ic.updateOnce(ctx, ch)
		if err != nil || res.StatusCode != sip.StatusRequestPending || glare >= ic.u.cfg.Limits.MaxGlareRetries {
			return err
		}
		t := time.NewTimer(dialog.GlareBackoff(false, ic.u.cfg.Rand))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-ic.ctx.Done():
			t.Stop()
			return context.Cause(ic.ctx)
		}
	}
}

// updateOnce sends one UPDATE of Update; it returns the 491 that Update
// retries with a nil error.
func (ic *IncomingCall) updateOnce(ctx context.Context, ch MediaChange) (*sip.Response, error) {
	u := ic.u
	ic.mu.Lock()
	m := ic.media
	var err error
	switch {
	case ic.final:
		err = ErrAnswered
	case ic.dlg == nil:
		err = ErrNotEstablished
	case !allows(ic.req, sip.UPDATE):
		err = ErrUpdateNotAllowed
	case ic.rel.pending != nil || ic.early.offered || ic.updating:
		err = dialog.ErrRequestPending
	case m != nil && len(ch.SDP) > 0:
		err = fmt.Errorf("%w: SDP given for a call with a media session of ours", sdp.ErrOfferConfig)
	case m == nil && len(ch.SDP) == 0:
		err = fmt.Errorf("%w: no SDP for a call whose host brings its own", sdp.ErrOfferConfig)
	}
	if err != nil {
		ic.mu.Unlock()
		return nil, err
	}
	offer, prev := bytes.Clone(ch.SDP), sdp.Config{}
	if m != nil {
		if offer, prev, err = m.reoffer(&ch); err != nil {
			ic.mu.Unlock()
			return nil, err
		}
	}
	d := ic.dlg
	d.Negotiation().OfferAnswered(false) // the INVITE's offer has its answer
	req, err := d.NewRequest(sip.UPDATE, offer, "application/sdp")
	if err != nil {
		if m != nil {
			m.cancelReoffer(prev)
		}
		ic.mu.Unlock()
		return nil, err
	}
	ic.updating = true
	ic.mu.Unlock()
	u.advertise(req)
	u.addCommon(req)
	var res *sip.Response
	tx, err := u.send(ctx, ctx, req, ic.w.Flow().Network)
	if err == nil {
		res, err = tx.Final(ctx)
	}
	ic.mu.Lock()
	ic.updating = false
	if err == nil || ctx.Err() == nil {
		_ = d.ReceiveResponse(req, res)
	}
	switch {
	case err != nil:
	case !res.IsSuccess():
		err = &StatusError{Response: res}
	case len(res.Body()) == 0 || res.ContentType() != "application/sdp":
		err = fmt.Errorf("ua: media: %w: the 2xx to UPDATE carries no SDP", ErrNoAnswer)
	case m != nil:
		if err = m.applyAnswer(res.Body(), true); err != nil {
			err = fmt.Errorf("ua: media: %w", err)
		}
	}
	if err != nil {
		if m != nil {
			m.cancelReoffer(prev)
		}
		var se *StatusError
		if errors.As(err, &se) && se.Code() == sip.StatusRequestPending {
			ic.mu.Unlock()
			return res, nil
		}
		if res == nil || !res.IsSuccess() {
			ic.mu.Unlock()
			return res, err
		}
	} else {
		if m != nil {
			ic.mediaSDP = offer
		}
		ic.early.remote = bytes.Clone(res.Body())
	}
	ic.mu.Unlock()
	u.emit(Event{Kind: EventCallUpdated, Line: ic.line, CallID: ic.req.CallID(), Response: res, SDP: res.Body(), Err: err})
	return res, err
}

// earlyOutgoing returns the outgoing call being set up whose early dialog
// (the one Call.Update may use: its reliable 1xx answered our offer and
// was PRACKed) req, an UPDATE from the callee, belongs to; else nil. The
// calls being set up are scanned: early UPDATEs are rare.
func (u *UA) earlyOutgoing(ctx context.Context, req *sip.Request) *Call {
	id := dialog.RequestID(req)
	var same []*Call
	u.mu.Lock()
	for c := range u.setup {
		if c.callID == id.CallID {
			same = append(same, c)
		}
	}
	u.mu.Unlock()
	for wait := true; ; wait = false {
		var pending []chan struct{}
		for _, c := range same {
			c.mu.Lock()
			e, sent := c.early, c.prackSent
			c.mu.Unlock()
			if e != nil && e.d.ID() == id {
				return c
			}
			if sent != nil {
				pending = append(pending, sent)
			}
		}
		if !wait || len(pending) == 0 {
			return nil
		}
		// Our PRACK's 200 may not have been taken yet: the UPDATE
		// overtook it. Wait for the PRACKs in flight, then look again.
		for _, sent := range pending {
			select {
			case <-sent:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// serveEarlyUpdate answers req, an UPDATE from the callee in the early
// dialog of our outgoing call c (RFC 3311 §5.2), as an UPDATE of a
// confirmed call is answered (answerOffer: OnReinvite, else the call's
// session, else our SDP with the direction mirrored): 200 with the answer,
// the refusals of dialog.Dialog.ReceiveRequest (491 while our offer is
// out, 500 out of order), 488 when the offer cannot be taken. The 2xx to
// the INVITE then normally repeats the offer and changes nothing.
func (c *Call) serveEarlyUpdate(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	u := c.u
	d, lock, early, err := c.updateDialog()
	if errors.Is(err, ErrUpdateNotAllowed) {
		err = nil // the peer's Allow is for what we send
	}
	if err != nil || !early {
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
		return
	}
	unlock := lock()
	if err := d.ReceiveRequest(req); err != nil {
		res := d.NewResponse(req, dialog.StatusCode(err), "")
		if errors.Is(err, dialog.ErrOverlap) {
			res.Set("Retry-After", strconv.Itoa(int(dialog.OverlapRetryAfter(u.cfg.Rand)/time.Second)))
		}
		unlock()
		u.respond(w, res)
		return
	}
	unlock()
	offer := bytes.Clone(req.Body())
	answer, err := u.answerOffer(ctx, c, sip.UPDATE, offer)
	unlock = lock()
	if err != nil {
		code, reason := sip.StatusNotAcceptableHere, ""
		var ae *AnswerError
		if errors.As(err, &ae) {
			code, reason = ae.Code, ae.Reason
		}
		res := d.NewResponse(req, code, reason)
		unlock()
		u.respond(w, res)
		return
	}
	res := d.NewResponse(req, sip.StatusOK, "")
	u.advertise(res)
	if len(answer) > 0 {
		res.SetBody(answer, "application/sdp")
		c.local = answer
	}
	if len(offer) > 0 {
		c.remote = offer
		c.remoteHold = isHold(sdp.DirectionOf(offer))
	}
	unlock()
	if c.media != nil && len(offer) > 0 {
		c.media.earlyOffer(offer)
	}
	u.respond(w, res)
	if len(offer) > 0 {
		u.emit(Event{Kind: EventCallUpdated, Line: c.line, Call: c, CallID: c.callID, SDP: offer})
	}
}

// earlyOffer records the callee's offer answered in its early dialog as
// the early SDP: a 2xx to the INVITE that repeats it changes nothing.
func (m *callMedia) earlyOffer(offer []byte) {
	m.mu.Lock()
	m.early = bytes.Clone(offer)
	m.mu.Unlock()
}
