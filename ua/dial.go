package ua

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// The outgoing call, RFC 3261 §13.2: the INVITE, its provisional and final
// responses, challenges, redirects, forks and the ACK for each 2xx.

// DialOptions are the settings of one outgoing call.
type DialOptions struct {
	// Line places the call: its AOR is the From, its credentials answer
	// challenges, its outbound proxy is the first hop. Nil: the UA's first
	// line, or an anonymous From when there is none.
	Line *Line
	// SDP is the offer sent in the INVITE (application/sdp). Nil: the UA
	// opens an RTP session (Call.Media) and offers it, unless
	// Config.Media.DisableMedia is set or NoOffer asks for a late offer.
	// Given SDP bytes, no session is created: media is the host's.
	SDP []byte
	// NoOffer sends the INVITE without SDP (a late offer, RFC 3261
	// §13.2.1): the 2xx then carries the peer's offer and the ACK our
	// answer. With media enabled the UA answers it from the call's session;
	// without, the ACK carries no body.
	NoOffer bool
	// MaxRedirects bounds the 3xx responses followed (0:
	// Limits.MaxRedirects; negative: none followed).
	MaxRedirects int
	// Transport forces a network (udp, tcp, tls); empty: the line's, else
	// the target's.
	Transport transport.Network
	// Headers are added to the INVITE (Subject, X-…).
	Headers []sip.Header
	// PrackOffer, when set, is asked once per early dialog, when a
	// reliable provisional response carries the answer to our INVITE's
	// offer, for a new offer to send in its PRACK (RFC 3262 §5): nil
	// sends none. It runs on the call's INVITE reader before the PRACK
	// and the response's EventCallProgress, so it must not block. The
	// PRACK's 200 carries the answer, which the session then follows
	// (EventCallUpdated); see prackreoffer.go.
	PrackOffer func(early *Call, res *sip.Response) *MediaChange

	// progress, when set, sees each provisional response but 100 (a
	// transferee's NOTIFYs, referred.go).
	progress func(*sip.Response)
}

// Dial places a call to target, a SIP URI ("sip:bob@example.com"; "sip:"
// is added when missing), and returns it once a 2xx has answered and been
// acknowledged. See DialURI.
func (u *UA) Dial(ctx context.Context, target string, opts DialOptions) (*Call, error) {
	uri, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	return u.DialURI(ctx, uri, opts)
}

// DialURI places a call to uri (RFC 3261 §13.2): it sends the INVITE
// through the line's outbound proxy or to the resolved target, reports
// provisional responses as EventCallProgress, answers 401/407 once per
// challenge, follows 3xx (Contacts by q, at most MaxRedirects, never the
// same URI twice), ACKs the 2xx from the UA core and again for each of its
// retransmissions, and with forking keeps the first 2xx and ends the others
// with ACK and BYE.
//
// It returns the established call, a *StatusError for a final non-2xx
// answer (an *AuthError when credentials fail), a wrapped transaction error
// (Timer B: errors.Is(err, transaction.ErrTimeout)), or ctx's error. ctx
// bounds the wait, not the protocol: when it ends first the INVITE is
// canceled (CANCEL once a provisional response came), and a 2xx that
// crosses the CANCEL gets its ACK and then a BYE. Once the callee rings
// nothing but ctx bounds the wait for an answer (RFC 3261 has no timer in
// Proceeding), so give it a deadline as a ring timeout.
func (u *UA) DialURI(ctx context.Context, uri sip.URI, opts DialOptions) (*Call, error) {
	line := opts.Line
	if line == nil && len(u.lines) > 0 {
		line = u.lines[0]
	}
	maxRedirects := opts.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = u.cfg.Limits.MaxRedirects
	}
	network := opts.Transport
	if network == "" && line != nil {
		network = line.network
	}
	if network == "" {
		network = uriNetwork(uri)
	}
	c := &Call{u: u, line: line, dir: Outgoing, network: network, local: opts.SDP}
	o := &outgoing{c: c, target: uri, opts: opts, maxRedirects: maxRedirects}
	first := uri
	if line != nil && line.proxy != nil {
		first = *line.proxy
	}
	var from sip.Address
	user := "dialtone"
	if line != nil {
		from, user = line.from(), line.user
	}
	ct, err := u.contactVia(ctx, line, user, network, first) // LineConfig.Contact, public address: contact.go
	if err != nil {
		return nil, err
	}
	if line == nil {
		from = sip.Address{URI: ct.URI}
		from.URI.Params = ""
	}
	// The From and To lines, written once for every INVITE of the setup,
	// in o's room; without a line From gets its tag here.
	used := 0
	fw := from.AppendTo(o.rest(used))
	if line == nil {
		fw = sip.AppendTag(append(fw, ";tag="...))
	}
	o.from = o.keep(&used, fw)
	to := sip.Address{URI: uri}
	o.to = o.keep(&used, to.AppendTo(o.rest(used)))
	c.callID = unsafe.String(&c.idRoom[0], len(sip.AppendCallID(c.idRoom[:0])))
	o.contact, o.callID = ct, c.callID
	if opts.SDP == nil && u.mediaEnabled() {
		m, err := u.newMedia(ctx, line, ct.URI.Host, ct.URI.Scheme)
		if err != nil {
			return nil, err
		}
		if !opts.NoOffer {
			offer, err := m.offer()
			if err != nil {
				m.close()
				return nil, fmt.Errorf("ua: media: %w", err)
			}
			o.opts.SDP, c.local = offer, offer
		}
		c.media = m
		m.call.Store(c)
	}
	if err := u.addSetup(c); err != nil {
		c.media.close()
		return nil, err
	}
	u.met.outgoing.Add(1)
	if c.media != nil {
		c.media.forwardDTMF(c)
	}
	result := make(chan struct{}, 1)
	o.result = result
	// Not goTrack(o.run): the method value would be one more allocation.
	if !u.g.Enter() {
		u.removeSetup(c)
		c.media.close()
		return nil, ErrClosed
	}
	go func() {
		defer u.g.Done()
		o.run()
	}()
	select {
	case <-result:
		if err := o.resultErr; err != nil {
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.abandon()
		return nil, ctx.Err()
	}
}

// outgoing is the setup of an outgoing call: one INVITE after another
// (authentication, redirects) until a 2xx or a final failure.
type outgoing struct {
	c            *Call
	target       sip.URI
	opts         DialOptions
	maxRedirects int
	redirects    int
	tried        map[string]bool // targets tried, by URI; nil until a 3xx
	queue        []sip.URI
	from         string // the From line's value
	contact      sip.Address
	callID       string
	cseq         uint32
	auth         []sip.Header
	// result gets one value when the setup has a result, resultErr
	// (written before it is sent): nil for a 2xx.
	result    chan struct{}
	resultErr error
	answered  bool
	// last is the target that answered the last INVITE (failover_invite.go).
	last     transport.Target
	haveLast bool
	// reoffered: the early dialogs (To tag) whose PRACK the host was
	// asked to put a new offer in; reoffer is that exchange while it is
	// open (prackreoffer.go). Both belong to the INVITE's reader.
	reoffered map[string]bool
	reoffer   *prackOffer
	// plan is the send plan of the INVITE being sent, one attempt after
	// another (failover_invite.go).
	plan sendPlan
	// to is the To line's value, the same in every INVITE of the setup;
	// room holds it and from when they fit (written once, by DialURI).
	to   string
	room [outgoingRoom]byte
}

// outgoingRoom is the room an outgoing call keeps for its INVITEs' From
// (with its tag) and To values: one allocation less for each that fits.
const outgoingRoom = 192

// keep returns b, written at the start of rest (o.room after what it
// holds), as a string: in place when it fit there, which then counts as
// used; else b grew apart, an allocation of its own. The room is written
// once and never again.
func (o *outgoing) keep(used *int, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if *used < len(o.room) && &b[0] == &o.room[*used] {
		*used += len(b)
	}
	return unsafe.String(&b[0], len(b))
}

// rest returns the unused part of o.room as an empty slice whose
// capacity ends with the room.
func (o *outgoing) rest(used int) []byte { return o.room[used:used:len(o.room)] }

func (o *outgoing) newInvite(uri sip.URI) *sip.Request {
	u := o.c.u
	// Built from a bare request: NewRequest's To, Call-ID and CSeq would
	// each be replaced at once, three strings made for nothing.
	req := sip.NewBareRequest(sip.INVITE, uri, sip.BareRequestRoom)
	req.Add("Max-Forwards", strconv.Itoa(sip.DefaultMaxForwards))
	req.Set("To", o.to) // Address{URI: o.target}
	req.Set("From", o.from)
	req.SetCallID(o.callID)
	o.cseq++
	req.SetCSeq(sip.CSeq{Seq: o.cseq, Method: sip.INVITE})
	req.Set("Contact", u.contacts.wire(o.contact))
	if l := o.c.line; l != nil && l.proxy != nil {
		req.Set("Route", "<"+l.proxy.String()+">")
	}
	u.advertise(req)
	u.advertiseInvite(req, o.c.line)
	u.addCommon(req)
	for _, h := range o.opts.Headers {
		req.Add(h.Name, h.Value)
	}
	applyAuth(req, o.auth)
	o.c.offerSession(req)
	if len(o.opts.SDP) > 0 {
		req.SetBody(o.opts.SDP, "application/sdp")
	}
	return req
}

// report hands Dial its result; it is called once.
func (o *outgoing) report(err error) {
	o.resultErr = err
	o.result <- struct{}{}
}

func (o *outgoing) finish(err error) {
	if err == nil {
		o.report(nil)
		return
	}
	o.c.u.met.dialFailed(err)
	o.c.end(err)
	o.report(err)
}

func (o *outgoing) run() {
	c := o.c
	req := o.newInvite(o.target)
	authTries := 0
	for {
		res, err := o.attempt(req) // failover.go: each target in turn
		if o.answered {
			return
		}
		if err != nil {
			o.finish(fmt.Errorf("ua: INVITE %s: %w", req.URI.String(), err))
			return
		}
		c.mu.Lock()
		abandoned := c.abandoned
		c.mu.Unlock()
		if abandoned {
			o.finish(&StatusError{Response: res})
			return
		}
		switch {
		case isChallenge(res) && authTries < 4:
			authTries++
			hs, err := c.creds().answer(res, req)
			if err != nil {
				o.finish(err)
				return
			}
			o.auth = c.creds().retryAuth(hs, req)
			req = o.newInvite(req.URI)
			continue
		case res.StatusCode == sip.StatusSessionIntervalTooSmall && c.retrySession(res):
			req = o.newInvite(req.URI) // RFC 4028 §7.3: ask for Min-SE
			continue
		case res.StatusCode >= 300 && res.StatusCode < 400:
			if o.maxRedirects < 0 || o.redirects >= o.maxRedirects {
				o.finish(fmt.Errorf("%w: %w", ErrTooManyRedirects, &StatusError{Response: res}))
				return
			}
			o.redirects++
			added := o.addContacts(res)
			if !added && len(o.queue) == 0 {
				o.finish(fmt.Errorf("%w: %w", ErrRedirectLoop, &StatusError{Response: res}))
				return
			}
		}
		if len(o.queue) > 0 {
			next := o.queue[0]
			o.queue = o.queue[1:]
			o.auth = nil
			authTries = 0
			req = o.newInvite(next)
			continue
		}
		o.finish(&StatusError{Response: res})
		return
	}
}

// addContacts queues the Contacts of a 3xx not tried yet, by decreasing q
// (RFC 3261 §8.1.3.4).
func (o *outgoing) addContacts(res *sip.Response) bool {
	cs, err := res.Contacts()
	if err != nil {
		return false
	}
	slices.SortStableFunc(cs, func(a, b sip.Address) int { return cmp.Compare(b.Q(), a.Q()) })
	added := false
	for _, ct := range cs {
		if ct.Wildcard || !ct.URI.IsSIP() {
			continue
		}
		uri := ct.URI
		uri.Headers = ""
		uri.Params = uri.Params.Del("method")
		k := uri.String()
		if o.tried == nil { // made on the first 3xx: most calls never see one
			o.tried = map[string]bool{o.target.String(): true}
		}
		if o.tried[k] {
			continue
		}
		o.tried[k] = true
		o.queue = append(o.queue, uri)
		added = true
	}
	return added
}

// read handles the responses of one INVITE transaction through the UAC
// half of the INVITE session (dialog.InviteClient). It returns the non-2xx
// final response, or the transaction's error when it ended without a final
// response. After the first 2xx it detaches from the transaction: the
// retransmissions and forked 2xx that follow until Timer M (RFC 6026 §8.4)
// are acknowledged by late on the transaction layer's loop, so no
// goroutine waits on an answered call; read returns with o.answered set.
// After Timer M the session is dropped with the transaction: a 2xx that
// matches no transaction is discarded (RFC 6026 §8.9).
//
// silent, when not nil, closes when the target has gone FailoverAfter
// without a response: read then returns errSilent.
func (o *outgoing) read(tx *transaction.ClientTx, req *sip.Request, silent <-chan struct{}) (*sip.Response, error) {
	c, u := o.c, o.c.u
	s := new(uacSession)
	s.ic.Init(req, 0)
	s.flows = s.flow1[:0]
	for {
		res, ok, err := nextResponse(tx.Responses(), &silent)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if res.IsProvisional() {
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			st, _ := s.receive(res)
			rseq, fresh := o.newReliable(res, st.Dialog)
			c.mu.Lock()
			if c.state == CallDialing {
				c.state = CallRinging
			}
			c.mu.Unlock()
			// The SDP of a reliable 1xx seen before is that of its first
			// copy: a retransmission must not undo a PRACK's exchange.
			answered := false
			if fresh && !o.opts.NoOffer && !c.earlyUpdating(st.Dialog) && len(o.opts.SDP) > 0 && len(res.Body()) > 0 && res.ContentType() == "application/sdp" {
				o.awaitPrackOffer()
				answered = true
				if c.media != nil {
					if err := c.media.applyAnswer(res.Body(), true); err != nil {
						u.log.Debug("early media answer not applied", "call_id", c.callID, "error", err.Error())
						answered = false
					}
				}
			}
			if rseq > 0 && fresh {
				o.prack(req, res, st.Dialog, s.lock, rseq, answered)
			}
			u.emit(Event{Kind: EventCallProgress, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: res.Body()})
			if o.opts.progress != nil {
				o.opts.progress(res)
			}
			continue
		}
		if !res.IsSuccess() {
			_, _ = s.receive(res)
			return res, nil
		}
		o.awaitPrackOffer() // the 2xx may have overtaken the PRACK's 200
		st, err := s.receive(res)
		if err != nil {
			continue
		}
		if st.Action == dialog.InviteAnswer {
			o.confirm(s, st.Dialog, req, res)
			tx.Detach(func(res *sip.Response) {
				if res.IsSuccess() {
					o.late(s, res)
				}
			})
			continue // drain what the channel already holds
		}
		o.do(s, st)
	}
	if o.answered {
		c.mu.Lock()
		c.tx = nil
		c.mu.Unlock()
		return nil, nil
	}
	if err := tx.Err(); err != nil {
		return nil, err
	}
	return nil, transaction.ErrTerminated
}

// uacSession is the UAC half of one INVITE's session and the flows its
// ACKs left on. mu serializes read and, once the INVITE is detached, late
// on the transaction layer's loop; sendMu serializes the sends of the
// session's ACKs, so that an ACK is sent whole before it is sent again.
type uacSession struct {
	mu sync.Mutex
	ic dialog.InviteClient // in the session's allocation

	sendMu sync.Mutex
	flows  []ackFlow // few: one per 2xx-confirmed dialog
	flow1  [1]ackFlow
}

// ackFlow is the flow a dialog's ACK was first sent on, for its resends.
type ackFlow struct {
	d    *dialog.Dialog
	flow transport.Flow
}

// lock locks the session (its dialogs among them) and returns the unlock.
func (s *uacSession) lock() func() {
	s.mu.Lock()
	return s.mu.Unlock
}

func (s *uacSession) receive(res *sip.Response) (dialog.InviteStep, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ic.Receive(res)
}

// sendAck sends ack, d's ACK: the first time resolved like any request
// (sendAck of the UA), after that again on the same flow.
func (s *uacSession) sendAck(u *UA, d *dialog.Dialog, ack *sip.Request, network transport.Network) (transport.Flow, error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for _, af := range s.flows {
		if af.d == d {
			return af.flow, u.tp.SendOn(u.baseCtx, ack, af.flow)
		}
	}
	flow, err := u.sendAck(u.baseCtx, ack, network)
	if err == nil {
		s.flows = append(s.flows, ackFlow{d: d, flow: flow})
	}
	return flow, err
}

// late handles a 2xx after the first, on the transaction layer's loop once
// the INVITE is detached.
func (o *outgoing) late(s *uacSession, res *sip.Response) {
	if st, err := s.receive(res); err == nil {
		o.do(s, st)
	}
}

// do carries out what the session asked for a 2xx after the first: the
// same ACK again for a retransmission, ACK and then BYE for another fork's
// 2xx (§13.2.2.4). Sending may block, so it runs on a goroutine of the UA.
func (o *outgoing) do(s *uacSession, st dialog.InviteStep) {
	c, u := o.c, o.c.u
	switch st.Action {
	case dialog.InviteResendAck:
		u.goTrack(func() { _, _ = s.sendAck(u, st.Dialog, st.Ack, c.network) })
	case dialog.InviteAckAndBye:
		u.goTrack(func() {
			_, _ = s.sendAck(u, st.Dialog, st.Ack, c.network)
			u.fireAndForget(st.Bye, c.network)
		})
	}
}

// confirm makes the dialog of the first 2xx the call: ACK, then hand the
// call to Dial, or BYE it when Dial gave up.
func (o *outgoing) confirm(s *uacSession, d *dialog.Dialog, req *sip.Request, res *sip.Response) {
	c, u := o.c, o.c.u
	ack, err := d.NewAck(req, res)
	var mediaErr error
	c.mu.Lock()
	earlyOffer, earlyDone := c.earlyOffer[d.ID().RemoteTag]
	c.mu.Unlock()
	remote := res.Body()
	if earlyDone && len(remote) == 0 {
		remote = earlyOffer
	}
	if err == nil && c.media != nil && !earlyDone {
		if o.opts.NoOffer {
			// Late offer: the 2xx carries the peer's offer, our ACK the
			// answer (RFC 3264 §4).
			var answer []byte
			if answer, mediaErr = c.media.answer(res.Body()); mediaErr == nil {
				ack.SetBody(answer, "application/sdp")
				c.mu.Lock()
				c.local = answer
				c.mu.Unlock()
			}
		} else {
			mediaErr = c.media.applyAnswer(res.Body(), false)
		}
	}
	// The call joins the dialog table before the ACK goes out: the peer
	// may send BYE as soon as it has the ACK, and must not get 481.
	c.mu.Lock()
	c.d, c.id = d, d.ID()
	c.remote = bytes.Clone(remote)
	c.peerUpdate = c.peerUpdate || allows(res, sip.UPDATE)
	c.early = nil
	c.state = CallEstablished
	c.armMediaWatchLocked()
	abandoned := c.abandoned
	c.mu.Unlock()
	c.sessionConfirmed(res)
	o.answered = true
	u.promote(c)
	if err == nil {
		_, err = s.sendAck(u, d, ack, c.network)
		s.mu.Lock()
		s.ic.Acked(d, ack)
		s.mu.Unlock()
	}
	u.emit(Event{Kind: EventCallAnswered, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: res.Body()})
	if err != nil {
		u.log.Warn("ACK not sent", "call_id", c.callID, "error", err.Error())
	}
	if abandoned {
		u.goTrack(func() { _ = c.Hangup(u.baseCtx) })
		o.report(context.Canceled)
		return
	}
	if mediaErr != nil {
		// RFC 3261 §13.2.2.4: an unacceptable answer is ACKed, then the
		// call is ended with BYE.
		why := fmt.Errorf("ua: media: %w", mediaErr)
		u.goTrack(func() { _ = c.hangup(u.baseCtx, why) })
		o.report(why)
		return
	}
	o.report(nil)
}

// fireAndForget sends req (a BYE for a surplus fork) and waits for its
// answer without looking at it.
func (u *UA) fireAndForget(req *sip.Request, network transport.Network) {
	tx, err := u.send(u.baseCtx, u.baseCtx, req, network)
	if err == nil {
		_, _ = tx.Final(u.baseCtx)
	}
}
