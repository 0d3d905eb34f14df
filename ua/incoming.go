package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// IncomingCall is a new INVITE waiting for the host's decision, as
// Config.OnCall gets it. Ring and Progress send provisional responses;
// Answer, Redirect and Reject send the final one (only the first of them
// counts). They may be called from any goroutine, during or after OnCall.
type IncomingCall struct {
	u       *UA
	ctx     context.Context
	w       transaction.ResponseWriter
	req     *sip.Request
	tag     string
	contact sip.Address
	line    *Line

	mu    sync.Mutex
	final bool
	// final fires once ic has its final response (finalChan).
	finalSig signal
	call     *Call
	// media is the session opened for Progress or Answer without host
	// SDP, and mediaSDP our answer (or offer, for an offerless INVITE).
	media    *callMedia
	mediaSDP []byte
	// replaces is the call an INVITE with Replaces takes the place of
	// (replaces.go), nil for most calls; set before OnCall.
	replaces *Call
	// rel is the reliable provisional state (reliable.go), nil until one.
	rel *reliableOut
	// early is the offer/answer of the early dialog (prackoffer.go).
	early earlyOA
	// dlg is the early dialog of our first reliable 1xx, in which Update
	// sends (updatein.go); the 2xx confirms it. Nil without one.
	dlg *dialog.Dialog
	// updating: an UPDATE of ours awaits its final response; Answer
	// waits for none and refuses meanwhile.
	updating bool
	// tagRoom holds our To tag (tag points into it: one allocation
	// less); written once, before ic is shared.
	tagRoom [sip.TagLen]byte
}

// Request returns the INVITE (read-only).
func (ic *IncomingCall) Request() *sip.Request { return ic.req }

// CallID returns the INVITE's Call-ID.
func (ic *IncomingCall) CallID() string { return ic.req.CallID() }

// From returns the caller's address.
func (ic *IncomingCall) From() sip.Address { a, _ := ic.req.From(); return a }

// To returns the called address.
func (ic *IncomingCall) To() sip.Address { a, _ := ic.req.To(); return a }

// Offer returns the SDP offer of the INVITE, or nil (a late offer).
func (ic *IncomingCall) Offer() []byte { return ic.req.Body() }

// Line returns the line whose AOR user matches the Request-URI, or nil.
func (ic *IncomingCall) Line() *Line { return ic.line }

// Context ends when the caller cancels the call (context.Cause is
// transaction.ErrCanceled) or the UA closes.
func (ic *IncomingCall) Context() context.Context { return ic.ctx }

// Ring sends 180 Ringing.
func (ic *IncomingCall) Ring() error { return ic.provisional(sip.StatusRinging, nil) }

// Progress sends 183 Session Progress with sdp as early media (RFC 3261
// §13.3.1.1). With a nil sdp and media enabled, the call's RTP session is
// opened now and its answer to the INVITE's offer goes in the 183, so that
// audio written to Media flows before the call is answered; Answer(nil)
// then answers with the same session. An offer that cannot be accepted
// gives 488 Not Acceptable Here and an error wrapping sdp.ErrNotAcceptable.
func (ic *IncomingCall) Progress(sdp []byte) error {
	return ic.provisional(sip.StatusSessionProgress, sdp)
}

// Media returns the RTP session opened by Progress(nil), to play early
// media, or nil.
func (ic *IncomingCall) Media() *rtp.Session {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.media == nil {
		return nil
	}
	return ic.media.sess
}

// prepareMedia opens the session and answers the offer (or makes one for
// an offerless INVITE). On failure it sends the final response: 488 when
// the offer cannot be accepted, 500 otherwise. ic.mu is held.
func (ic *IncomingCall) prepareMedia() error {
	if ic.media != nil {
		return nil
	}
	m, err := ic.u.newMedia(ic.ctx, ic.line, ic.contact.URI.Host, ic.req.URI.Scheme)
	if err != nil {
		ic.failMedia(sip.StatusServerInternalError, err)
		return err
	}
	var local []byte
	if offer := ic.req.Body(); len(offer) > 0 {
		local, err = m.answer(offer)
	} else {
		local, err = m.offer()
	}
	if err != nil {
		m.close()
		code := sip.StatusServerInternalError
		if errors.Is(err, sdp.ErrNotAcceptable) || errors.Is(err, sdp.ErrMalformed) {
			code = sip.StatusNotAcceptableHere
		}
		err = fmt.Errorf("ua: media: %w", err)
		ic.failMedia(code, err)
		return err
	}
	ic.media, ic.mediaSDP = m, local
	return nil
}

// failMedia refuses the call with code after a media failure; ic.mu is
// held.
func (ic *IncomingCall) failMedia(code int, why error) {
	res := sip.NewResponseTag(ic.req, code, "", ic.tag)
	if code == sip.StatusNotAcceptableHere {
		res.Set("Warning", `304 `+ic.u.cfg.UserAgent+` "Media type not available"`)
	}
	ic.finish(res, why)
}

// dropMedia closes a session opened for a call that was not answered;
// ic.mu is held.
func (ic *IncomingCall) dropMedia() {
	ic.media.close()
	ic.media = nil
}

func (ic *IncomingCall) provisional(code int, sdp []byte) error {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.final {
		return ErrAnswered
	}
	if code == sip.StatusSessionProgress && len(sdp) == 0 {
		var err error
		if sdp, err = ic.early183(); err != nil {
			return err
		}
	}
	res := sip.NewResponseTag(ic.req, code, "", ic.tag)
	dialog.PrepareResponseContact(ic.req, res, ic.tag, ic.u.contacts.wire(ic.contact))
	if len(sdp) > 0 {
		res.SetBody(sdp, "application/sdp")
	}
	if sent, err := ic.sendReliableLocked(res); sent {
		if err == nil && len(sdp) > 0 {
			ic.sentReliableSDP()
		}
		return err
	}
	ic.u.respond(ic.w, res)
	return nil
}

// Answer accepts the call with 200 OK carrying local, our SDP, as the answer (RFC 3261
// §13.3.1.4) and returns the call. The 200 is retransmitted until the ACK
// arrives; without an ACK within 64·T1 the call is ended with a BYE
// (Call.Err is ErrNoACK).
//
// With a nil local and media enabled (Config.Media), the UA opens the call's
// RTP session (Call.Media) and answers the INVITE's offer with it; an
// INVITE without SDP gets our offer in the 200 and its answer is taken
// from the ACK (RFC 3264 §4). An offer with no usable audio stream is
// refused with 488 Not Acceptable Here and the error wraps
// sdp.ErrNotAcceptable. Given SDP bytes, no session is created.
//
// While a reliable provisional response carrying SDP awaits its PRACK,
// Answer waits for it (RFC 3262 §3), at most 64·T1, after which the
// INVITE has had its 500 and Answer returns ErrProvisionalUnacknowledged;
// a CANCEL ends the wait with its cause. With Config.InlineOnCall, an
// OnCall that sent such a response must answer from a goroutine of its
// own: the PRACK comes in on the transport goroutine OnCall runs on.
func (ic *IncomingCall) Answer(local []byte) (*Call, error) {
	u := ic.u
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if err := ic.waitPrackLocked(); err != nil {
		return nil, err
	}
	if ic.final {
		return nil, ErrAnswered
	}
	if ic.updating {
		return nil, fmt.Errorf("%w: our UPDATE awaits its answer", dialog.ErrRequestPending)
	}
	if err := ic.ctx.Err(); err != nil {
		ic.dropMedia()
		return nil, context.Cause(ic.ctx)
	}
	var media *callMedia
	if len(local) == 0 && u.mediaEnabled() {
		if err := ic.prepareMedia(); err != nil {
			return nil, err
		}
		media, local = ic.media, ic.mediaSDP
	} else {
		ic.dropMedia()
	}
	// The 2xx confirms the early dialog of our reliable 1xx, whose CSeq
	// our UPDATEs have used, or makes a new one.
	d := ic.dlg
	var res *sip.Response
	if d != nil {
		res = d.NewResponse(ic.req, sip.StatusOK, "")
	} else {
		res = sip.NewResponseTag(ic.req, sip.StatusOK, "", ic.tag)
		dialog.PrepareResponseContact(ic.req, res, ic.tag, ic.u.contacts.wire(ic.contact))
	}
	u.advertise(res)
	if len(local) > 0 {
		res.SetBody(local, "application/sdp")
	}
	var c *Call
	if d == nil {
		// A new dialog comes with its call: one allocation for both.
		cd := new(struct {
			c Call
			d dialog.Dialog
		})
		if err := cd.d.InitUAS(ic.req, res); err != nil {
			return nil, err
		}
		c, d = &cd.c, &cd.d
	} else {
		c = new(Call)
	}
	*c = Call{u: u, line: ic.line, dir: Incoming, callID: d.ID().CallID, network: ic.w.Flow().Network,
		state: CallAnswered, d: d, id: d.ID(), local: local, media: media,
		peerUpdate: allows(ic.req, sip.UPDATE)}
	if media != nil {
		media.call.Store(c)
	}
	remote := ic.req.Body()
	if ic.early.remote != nil {
		remote = ic.early.remote // the PRACK's answer or newer offer
	}
	if len(remote) > 0 {
		c.remote = bytes.Clone(remote)
		c.remoteHold = isHold(sdp.DirectionOf(remote))
	}
	if err := u.addCall(c); err != nil {
		ic.final = true
		ic.dropMedia()
		u.respond(ic.w, sip.NewResponse(ic.req, sip.StatusServiceUnavailable, ""))
		ic.closeFinal()
		return nil, err
	}
	ic.media = nil // the call owns it now
	if media != nil {
		media.forwardDTMF(c)
	}
	cs, _ := ic.req.CSeq()
	c.mu.Lock()
	c.answerSessionLocked(ic.req, res)
	c.armSessionLocked()
	c.armMediaWatchLocked()
	// An offer of ours is answered in the ACK unless the PRACK did (RFC
	// 3262 §5).
	c.startRetransmit(ic.w, res, cs.Seq, media != nil && len(ic.req.Body()) == 0 && ic.early.remote == nil)
	c.mu.Unlock()
	ic.final, ic.call = true, c
	// The event goes out before the 2xx: the ACK it brings may arrive at
	// once, and EventCallConfirmed must not overtake EventCallAnswered.
	u.emit(Event{Kind: EventCallAnswered, Line: c.line, Call: c, CallID: c.callID, SDP: local})
	u.respond(ic.w, res)
	ic.closeFinal()
	ic.endReplaced()
	return c, nil
}

// Redirect answers 302 Moved Temporarily with contacts (RFC 3261 §21.3.3).
func (ic *IncomingCall) Redirect(contacts ...sip.URI) error {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.final {
		return ErrAnswered
	}
	res := sip.NewResponseTag(ic.req, sip.StatusMovedTemporarily, "", ic.tag)
	for _, c := range contacts {
		res.Add("Contact", "<"+c.String()+">")
	}
	ic.finish(res, &StatusError{Response: res})
	return nil
}

// Reject refuses the call with code (400–699; other codes, 3xx among
// them, give 500: Redirect sends 3xx) and reason ("" for the standard
// phrase).
func (ic *IncomingCall) Reject(code int, reason string) error {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.final {
		return ErrAnswered
	}
	if code < 400 || code > 699 {
		code = sip.StatusServerInternalError
	}
	res := sip.NewResponseTag(ic.req, code, reason, ic.tag)
	ic.finish(res, &StatusError{Response: res})
	return nil
}

// finish sends a final non-2xx; ic.mu is held.
func (ic *IncomingCall) finish(res *sip.Response, why error) {
	ic.final = true
	ic.dropMedia()
	ic.u.respond(ic.w, res)
	ic.closeFinal()
	ic.u.emit(Event{Kind: EventCallEnded, Line: ic.line, CallID: ic.req.CallID(), Response: res, Err: why})
}

// finalChan returns the channel closed once ic has its final response,
// made when first asked for: an OnCall that answers at once needs none.
func (ic *IncomingCall) finalChan() <-chan struct{} {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.finalSig.wait()
}

// closeFinal records that ic has its final response; ic.mu is held.
func (ic *IncomingCall) closeFinal() {
	ic.stopReliableLocked()
	ic.finalSig.fire()
	u := ic.u
	u.mu.Lock()
	delete(u.incoming, ic)
	u.noteCallGoneLocked()
	u.mu.Unlock()
}

// addPending records an incoming call waiting for its final response, so
// that Close can refuse it; it reports false once Close has started.
func (u *UA) addPending(ic *IncomingCall) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return false
	}
	if u.incoming == nil {
		u.incoming = make(map[*IncomingCall]struct{})
	}
	u.incoming[ic] = struct{}{}
	return true
}

// refusePending answers 480 Temporarily Unavailable to every incoming call
// still waiting for the host's answer (Close).
func (u *UA) refusePending() {
	u.mu.Lock()
	pending := make([]*IncomingCall, 0, len(u.incoming))
	for ic := range u.incoming {
		pending = append(pending, ic)
	}
	u.mu.Unlock()
	for _, ic := range pending {
		_ = ic.Reject(sip.StatusTemporarilyUnavailable, "")
	}
}

func (ic *IncomingCall) answered() bool {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.final
}

// isHold reports whether an offer with direction dir puts us on hold: the
// peer will not receive (sendonly or inactive, RFC 3264 §8.4).
func isHold(dir sdp.Direction) bool { return !dir.Receives() }

// incomingInvite runs an initial INVITE: the host's OnCall decides. On a
// transport reader (inline, with Config.InlineOnCall) it leaves the wait
// for a late answer to a goroutine of its own.
func (u *UA) incomingInvite(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, inline bool) {
	u.met.incoming.Add(1)
	u.mu.Lock()
	refuse := u.stopping || int(u.nCalls.Load()) >= u.cfg.Limits.MaxCalls
	u.mu.Unlock()
	if refuse {
		res := sip.NewResponse(req, sip.StatusServiceUnavailable, "")
		res.Set("Retry-After", "5")
		u.respond(w, res)
		return
	}
	var line *Line
	for _, l := range u.builtLines() {
		if l.user != "" && l.user == req.URI.User {
			line = l
			break
		}
	}
	user := req.URI.User
	if user == "" {
		user = "dialtone"
	}
	fl := w.Flow()
	var ct sip.Address
	var err error
	if lc, ok := line.callContact(fl.Network, nil); ok && lc.URI.Host != "" {
		ct, err = makeContact(user, lc.URI.HostPort(), fl.Network) // LineConfig.Contact or the line's public address
	} else if fl.Local.IsValid() && !fl.Local.Addr().IsUnspecified() {
		ct, err = u.contacts.at(user, fl.Local, fl.Network)
	} else {
		hp, aerr := u.contactAddr(ctx, fl.Network, sip.URI{Scheme: "sip", Host: fl.Remote.Addr().Unmap().String(), Port: int(fl.Remote.Port())})
		if aerr != nil {
			hp = req.URI.HostPort()
		}
		ct, err = makeContact(user, hp, fl.Network)
	}
	if err != nil {
		u.respond(w, sip.NewResponse(req, sip.StatusServerInternalError, ""))
		return
	}
	ic := &IncomingCall{u: u, ctx: ctx, w: w, req: req, contact: ct, line: line}
	ic.tag = unsafe.String(&ic.tagRoom[0], len(sip.AppendTag(ic.tagRoom[:0])))
	var code int
	if ic.replaces, code = u.replacedCall(req); code != 0 {
		u.respond(w, sip.NewResponse(req, code, ""))
		return
	}
	if min := u.sessionTooSmall(req, line); min > 0 {
		res := sip.NewResponse(req, sip.StatusSessionIntervalTooSmall, "")
		res.Set("Min-SE", strconv.Itoa(int(min/time.Second)))
		u.respond(w, res)
		return
	}
	if !u.addPending(ic) {
		res := sip.NewResponse(req, sip.StatusServiceUnavailable, "")
		res.Set("Retry-After", "5")
		u.respond(w, res)
		return
	}
	u.emit(Event{Kind: EventCallIncoming, Line: line, CallID: req.CallID()})
	if u.cfg.OnCall == nil {
		_ = ic.Reject(sip.StatusTemporarilyUnavailable, "")
		return
	}
	if !u.guard("OnCall", func() { u.cfg.OnCall(ctx, ic) }) {
		_ = ic.Reject(sip.StatusServerInternalError, "")
		return
	}
	if ic.answered() {
		return
	}
	if inline {
		if !u.goTrack(func() { u.awaitAnswer(ctx, ic) }) {
			_ = ic.Reject(sip.StatusServiceUnavailable, "") // closing
		}
		return
	}
	u.awaitAnswer(ctx, ic)
}

// awaitAnswer waits, after OnCall returned, for the host to answer ic, for
// a CANCEL, or for Limits.AnswerTimeout (480).
func (u *UA) awaitAnswer(ctx context.Context, ic *IncomingCall) {
	req := ic.req
	t := time.NewTimer(u.cfg.Limits.AnswerTimeout)
	defer t.Stop()
	select {
	case <-ic.finalChan():
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), transaction.ErrCanceled) {
			ic.mu.Lock()
			if !ic.final {
				res := sip.NewResponseTag(req, sip.StatusRequestTerminated, "", ic.tag)
				ic.finish(res, ErrCallCanceled)
			}
			ic.mu.Unlock()
		}
	case <-t.C:
		_ = ic.Reject(sip.StatusTemporarilyUnavailable, "")
	}
	ic.mu.Lock()
	if !ic.final {
		ic.dropMedia() // the UA is closing
	}
	ic.mu.Unlock()
}

// admitInDialog checks a request that came in a dialog, with mu (the
// dialog owner's lock) held: when gone (the dialog has ended) it is
// answered 481; else d checks its CSeq (RFC 3261 §12.2.2), and a refusal
// is answered as d says (a re-INVITE overlapping ours gets 491 with a
// Retry-After, RFC 3261 §14.1). On refusal mu is unlocked and it returns
// false; when the request may go on, mu stays held.
func (u *UA) admitInDialog(w transaction.ResponseWriter, req *sip.Request, mu *sync.Mutex, d *dialog.Dialog, gone bool) bool {
	if gone {
		mu.Unlock()
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
		return false
	}
	if err := d.ReceiveRequest(req); err != nil {
		res := d.NewResponse(req, dialog.StatusCode(err), "")
		if errors.Is(err, dialog.ErrOverlap) {
			res.Set("Retry-After", strconv.Itoa(int(dialog.OverlapRetryAfter(u.cfg.Rand)/time.Second)))
		}
		mu.Unlock()
		u.respond(w, res)
		return false
	}
	return true
}

// inDialog serves a request with a To tag: BYE, re-INVITE, UPDATE, INFO,
// OPTIONS and MESSAGE of a call (RFC 3261 §12.2.2).
func (u *UA) inDialog(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	c := u.lookup(dialog.RequestID(req))
	if c == nil && req.Method == sip.UPDATE {
		if ic := u.subs.earlyFor(req); ic != nil {
			ic.serveUpdate(w, req)
			return
		}
		if oc := u.earlyOutgoing(ctx, req); oc != nil {
			oc.serveEarlyUpdate(ctx, w, req)
			return
		}
	}
	if c == nil {
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
		return
	}
	c.mu.Lock()
	if !u.admitInDialog(w, req, &c.mu, c.d, c.state == CallEnded || c.d == nil) {
		return
	}
	switch req.Method {
	case sip.BYE:
		res := c.d.NewResponse(req, sip.StatusOK, "")
		c.mu.Unlock()
		// The 200 goes out before the call ends: a host that closes the
		// UA once Done is closed must not cut it off.
		u.respond(w, res)
		c.end(ErrRemoteHangup)
	case sip.INVITE, sip.UPDATE:
		offer := bytes.Clone(req.Body())
		c.peerUpdate = c.peerUpdate || allows(req, sip.UPDATE)
		c.mu.Unlock()
		answer, err := u.answerOffer(ctx, c, req.Method, offer)
		c.mu.Lock()
		if err != nil {
			code, reason := sip.StatusNotAcceptableHere, ""
			var ae *AnswerError
			if errors.As(err, &ae) {
				code, reason = ae.Code, ae.Reason
			}
			res := c.d.NewResponse(req, code, reason)
			c.mu.Unlock()
			u.respond(w, res)
			return
		}
		res := c.d.NewResponse(req, sip.StatusOK, "")
		u.advertise(res)
		c.answerSessionLocked(req, res)
		c.armSessionLocked()
		if len(answer) > 0 {
			res.SetBody(answer, "application/sdp")
			c.local = answer
		}
		if len(offer) > 0 {
			c.remote = offer
			c.remoteHold = isHold(sdp.DirectionOf(offer))
		}
		if req.Method == sip.INVITE {
			cs, _ := req.CSeq()
			c.startRetransmit(w, res, cs.Seq, len(offer) == 0)
		}
		c.mu.Unlock()
		u.respond(w, res)
		u.emit(Event{Kind: EventCallUpdated, Line: c.line, Call: c, CallID: c.callID, SDP: offer})
	case sip.INFO:
		res := c.d.NewResponse(req, sip.StatusOK, "")
		c.mu.Unlock()
		u.receiveInfoDTMF(c, req)
		if u.cfg.OnInfo != nil && !u.guard("OnInfo", func() { u.cfg.OnInfo(ctx, c, req) }) {
			res = c.d.NewResponse(req, sip.StatusServerInternalError, "")
		}
		u.respond(w, res)
	case sip.OPTIONS:
		res := c.d.NewResponse(req, sip.StatusOK, "")
		c.mu.Unlock()
		u.decorateOptions(res)
		u.respond(w, res)
	case sip.MESSAGE:
		c.mu.Unlock()
		u.incomingMessage(ctx, w, req, c)
	default:
		res := c.d.NewResponse(req, sip.StatusNotImplemented, "")
		c.mu.Unlock()
		res.Set("Allow", u.allow)
		u.respond(w, res)
	}
}
