package ua

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Direction says who placed a call.
type Direction uint8

// Directions.
const (
	Outgoing Direction = iota
	Incoming
)

// String returns "outgoing" or "incoming".
func (d Direction) String() string {
	if d == Incoming {
		return "incoming"
	}
	return "outgoing"
}

// CallState is the state of a call.
type CallState uint8

// Call states.
const (
	// CallDialing: our INVITE is out, no provisional response yet.
	CallDialing CallState = iota
	// CallRinging: a provisional response came (an early dialog).
	CallRinging
	// CallAnswered: we sent a 2xx and wait for its ACK.
	CallAnswered
	// CallEstablished: the dialog is confirmed.
	CallEstablished
	// CallEnded: the call is over; Err says why.
	CallEnded
)

// String returns the state's name.
func (s CallState) String() string {
	switch s {
	case CallDialing:
		return "dialing"
	case CallRinging:
		return "ringing"
	case CallAnswered:
		return "answered"
	case CallEstablished:
		return "established"
	}
	return "ended"
}

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
}

// Call is a call, outgoing (Dial) or incoming (IncomingCall.Answer). Its
// methods are safe for concurrent use. An established call costs memory only:
// no goroutine waits on it.
type Call struct {
	u       *UA
	line    *Line
	dir     Direction
	callID  string
	network transport.Network
	done    chan struct{}

	mu         sync.Mutex
	state      CallState
	d          *dialog.Dialog
	id         dialog.ID
	local      []byte
	remote     []byte
	remoteHold bool
	endErr     error
	// Outgoing setup: the INVITE transaction, and whether the caller gave
	// up (the call is then canceled, or hung up when a 2xx crosses).
	tx        *transaction.ClientTx
	abandoned bool
	// The ACK of our latest 2xx-answered INVITE, resent for each
	// retransmission of that 2xx (RFC 3261 §13.2.2.4).
	ack     *sip.Request
	ackFlow transport.Flow
	// Our 2xx being retransmitted until its ACK (RFC 3261 §13.3.1.4).
	rtx      *retransmission
	byeOnAck bool
	// byeing: a BYE of ours is ending the call (see bye).
	byeing bool
	// media is the call's RTP session, nil when the host brings its SDP;
	// set at creation, never changed.
	media *callMedia
}

type retransmission struct {
	w        transaction.ResponseWriter
	res      *sip.Response
	seq      uint32
	interval time.Duration
	deadline time.Time
	timer    *time.Timer
}

// CallID returns the call's Call-ID.
func (c *Call) CallID() string { return c.callID }

// Direction returns who placed the call.
func (c *Call) Direction() Direction { return c.dir }

// Line returns the line of the call, or nil.
func (c *Call) Line() *Line { return c.line }

// State returns the call's state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err returns why the call ended (ErrLocalHangup, ErrRemoteHangup, ErrNoACK,
// ErrDialogTerminated, ErrClosed, a *StatusError for a failed Dial…), or nil
// while it lasts.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

// LocalSDP returns our current session description.
func (c *Call) LocalSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// RemoteSDP returns the peer's current session description.
func (c *Call) RemoteSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// RemoteHold reports whether the peer's latest offer put us on hold
// (sendonly or inactive).
func (c *Call) RemoteHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Remote returns the peer's address (To of an outgoing call, From of an
// incoming one), with its tag.
func (c *Call) Remote() sip.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return sip.Address{}
	}
	return c.d.RemoteAddress()
}

// RemoteTarget returns the peer's current Contact URI (RFC 3261 §12.2),
// or the zero URI before an answer.
func (c *Call) RemoteTarget() sip.URI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return sip.URI{}
	}
	return c.d.RemoteTarget()
}

// DialogID returns the dialog's ID (zero before an answer).
func (c *Call) DialogID() dialog.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

func (c *Call) creds() *credentials {
	if c.line == nil {
		return nil
	}
	return c.line.creds
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
	c := &Call{u: u, line: line, dir: Outgoing, network: network, done: make(chan struct{}), local: opts.SDP}
	o := &outgoing{c: c, target: uri, opts: opts, maxRedirects: maxRedirects, tried: map[string]bool{uri.String(): true}}
	first := uri
	if line != nil && line.proxy != nil {
		first = *line.proxy
	}
	var from sip.Address
	user := "dialtone"
	if line != nil {
		from, user = line.from(), line.user
	}
	ct, err := u.contactFor(ctx, user, network, first)
	if err != nil {
		return nil, err
	}
	if line != nil && line.cfg.Contact != "" {
		ct = line.Contact() // LineConfig.Contact: used in calls too
	}
	if line == nil {
		from = sip.Address{URI: ct.URI, Params: sip.Params(";tag=" + sip.NewTag())}
		from.URI.Params = ""
	}
	o.from, o.contact, o.callID = from, ct, sip.NewCallID()
	c.callID = o.callID
	if opts.SDP == nil && u.mediaEnabled() {
		m, err := u.newMedia(ctx, ct.URI.Host)
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
	}
	if err := u.addSetup(c); err != nil {
		c.media.close()
		return nil, err
	}
	if c.media != nil {
		c.media.forwardDTMF(c)
	}
	result := make(chan error, 1)
	o.result = result
	if !u.goTrack(o.run) {
		u.removeSetup(c)
		c.media.close()
		return nil, ErrClosed
	}
	select {
	case err := <-result:
		if err != nil {
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
	tried        map[string]bool
	queue        []sip.URI
	from         sip.Address
	contact      sip.Address
	callID       string
	cseq         uint32
	auth         []sip.Header
	result       chan error
	answered     bool
	// fsMu guards the fork set of the INVITE being read: once the
	// transaction is detached, late responses reach it on the transaction
	// layer's loop while read may still drain the channel.
	fsMu sync.Mutex
}

func (o *outgoing) newInvite(uri sip.URI) *sip.Request {
	u := o.c.u
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTo(sip.Address{URI: o.target})
	req.SetFrom(o.from)
	req.SetCallID(o.callID)
	o.cseq++
	req.SetCSeq(sip.CSeq{Seq: o.cseq, Method: sip.INVITE})
	req.Set("Contact", o.contact.String())
	if l := o.c.line; l != nil && l.proxy != nil {
		req.Set("Route", "<"+l.proxy.String()+">")
	}
	req.Set("Allow", u.allow)
	u.addCommon(req)
	for _, h := range o.opts.Headers {
		req.Add(h.Name, h.Value)
	}
	applyAuth(req, o.auth)
	if len(o.opts.SDP) > 0 {
		req.SetBody(o.opts.SDP, "application/sdp")
	}
	return req
}

func (o *outgoing) finish(err error) {
	if err == nil {
		o.result <- nil
		return
	}
	o.c.end(err)
	o.result <- err
}

func (o *outgoing) run() {
	c, u := o.c, o.c.u
	req := o.newInvite(o.target)
	authTries := 0
	for {
		tx, err := u.send(u.baseCtx, u.baseCtx, req, c.network)
		if err != nil {
			o.finish(fmt.Errorf("ua: INVITE %s: %w", req.URI.String(), err))
			return
		}
		c.mu.Lock()
		c.tx = tx
		abandoned := c.abandoned
		c.mu.Unlock()
		if abandoned {
			tx.Cancel()
		}
		u.emit(Event{Kind: EventCallDialing, Line: c.line, Call: c, CallID: c.callID})
		res, err := o.read(tx, req)
		if o.answered {
			return
		}
		if err != nil {
			o.finish(fmt.Errorf("ua: INVITE %s: %w", req.URI.String(), err))
			return
		}
		c.mu.Lock()
		abandoned = c.abandoned
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
		if o.tried[k] {
			continue
		}
		o.tried[k] = true
		o.queue = append(o.queue, uri)
		added = true
	}
	return added
}

// read handles the responses of one INVITE transaction. It returns the
// non-2xx final response, or the transaction's error when it ended without
// a final response. After the first 2xx it detaches from the transaction:
// the retransmissions and forked 2xx that follow until Timer M (RFC 6026
// §8.4) are acknowledged by late on the transaction layer's loop, so no
// goroutine waits on an answered call; read returns with o.answered set.
func (o *outgoing) read(tx *transaction.ClientTx, req *sip.Request) (*sip.Response, error) {
	c, u := o.c, o.c.u
	fs := dialog.NewForkSet(req, 0)
	receive := func(res *sip.Response) (dialog.ForkEvent, error) {
		o.fsMu.Lock()
		defer o.fsMu.Unlock()
		return fs.Receive(res)
	}
	for res := range tx.Responses() {
		if res.IsProvisional() {
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			_, _ = receive(res)
			c.mu.Lock()
			if c.state == CallDialing {
				c.state = CallRinging
			}
			c.mu.Unlock()
			if c.media != nil && !o.opts.NoOffer && len(res.Body()) > 0 && res.ContentType() == "application/sdp" {
				if err := c.media.applyAnswer(res.Body(), true); err != nil {
					u.log.Debug("early media answer not applied", "call_id", c.callID, "error", err.Error())
				}
			}
			u.emit(Event{Kind: EventCallProgress, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: res.Body()})
			continue
		}
		if !res.IsSuccess() {
			_, _ = receive(res)
			return res, nil
		}
		ev, err := receive(res)
		if err != nil || ev.Dialog == nil {
			continue
		}
		if ev.Outcome == dialog.ForkConfirmed {
			o.confirm(ev.Dialog, req, res)
			c.mu.Lock()
			ack, flow := c.ack, c.ackFlow
			c.mu.Unlock()
			tx.Detach(func(res *sip.Response) {
				if res.IsSuccess() {
					if ev, err := receive(res); err == nil {
						o.late(ev, req, res, ack, flow)
					}
				}
			})
			continue // drain what the channel already holds
		}
		o.late(ev, req, res, nil, transport.Flow{})
	}
	if o.answered {
		c.mu.Lock()
		c.ack = nil // late keeps its own reference for retransmissions
		c.tx = nil
		c.mu.Unlock()
		return nil, nil
	}
	if err := tx.Err(); err != nil {
		return nil, err
	}
	return nil, transaction.ErrTerminated
}

// late handles a 2xx after the first: a retransmission of ours is
// answered with the same ACK, another fork's 2xx gets its own ACK (and,
// when surplus, a BYE, §13.2.2.4). It runs on the transaction layer's loop
// once the INVITE is detached, so anything that may block runs on a
// goroutine of its own.
func (o *outgoing) late(ev dialog.ForkEvent, req *sip.Request, res *sip.Response, ack *sip.Request, flow transport.Flow) {
	c, u := o.c, o.c.u
	switch ev.Outcome {
	case dialog.ForkRetransmit:
		c.mu.Lock()
		mine := ev.Dialog == c.d
		if ack == nil {
			ack, flow = c.ack, c.ackFlow
		}
		c.mu.Unlock()
		if mine && ack != nil {
			u.goTrack(func() { _ = u.tp.SendOn(u.baseCtx, ack, flow) })
		} else if a, err := ev.Dialog.NewAck(req, res); err == nil {
			u.goTrack(func() { _, _ = u.sendAck(u.baseCtx, a, c.network) })
		}
	case dialog.ForkSurplus:
		d := ev.Dialog
		a, errAck := d.NewAck(req, res)
		bye, errBye := d.NewRequest(sip.BYE, nil, "")
		u.goTrack(func() {
			if errAck == nil {
				_, _ = u.sendAck(u.baseCtx, a, c.network)
			}
			if errBye == nil {
				u.fireAndForget(bye, c.network)
			}
		})
	}
}

// confirm makes the dialog of the first 2xx the call: ACK, then hand the
// call to Dial, or BYE it when Dial gave up.
func (o *outgoing) confirm(d *dialog.Dialog, req *sip.Request, res *sip.Response) {
	c, u := o.c, o.c.u
	ack, err := d.NewAck(req, res)
	var mediaErr error
	if err == nil && c.media != nil {
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
	c.remote = bytes.Clone(res.Body())
	c.state = CallEstablished
	abandoned := c.abandoned
	c.mu.Unlock()
	o.answered = true
	u.promote(c)
	var flow transport.Flow
	if err == nil {
		flow, err = u.sendAck(u.baseCtx, ack, c.network)
	}
	c.mu.Lock()
	c.ack, c.ackFlow = ack, flow
	c.mu.Unlock()
	u.emit(Event{Kind: EventCallAnswered, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: res.Body()})
	if err != nil {
		u.log.Warn("ACK not sent", "call_id", c.callID, "error", err.Error())
	}
	if abandoned {
		u.goTrack(func() { _ = c.Hangup(u.baseCtx) })
		o.result <- context.Canceled
		return
	}
	if mediaErr != nil {
		// RFC 3261 §13.2.2.4: an unacceptable answer is ACKed, then the
		// call is ended with BYE.
		why := fmt.Errorf("ua: media: %w", mediaErr)
		u.goTrack(func() { _ = c.hangup(u.baseCtx, why) })
		o.result <- why
		return
	}
	o.result <- nil
}

// fireAndForget sends req (a BYE for a surplus fork) and waits for its
// answer without looking at it.
func (u *UA) fireAndForget(req *sip.Request, network transport.Network) {
	tx, err := u.send(u.baseCtx, u.baseCtx, req, network)
	if err == nil {
		_, _ = tx.Final(u.baseCtx)
	}
}

// abandon is Dial's caller giving up: cancel the INVITE, or hang up if the
// call is already answered.
func (c *Call) abandon() {
	c.mu.Lock()
	c.abandoned = true
	tx, answered := c.tx, c.d != nil
	c.mu.Unlock()
	if answered {
		c.u.goTrack(func() { _ = c.Hangup(c.u.baseCtx) })
		return
	}
	if tx != nil {
		tx.Cancel()
	}
}

func (u *UA) addSetup(c *Call) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return ErrClosed
	}
	if int(u.nCalls.Load()) >= u.cfg.Limits.MaxCalls {
		return ErrTooManyCalls
	}
	u.nCalls.Add(1)
	u.setup[c] = struct{}{}
	return nil
}

func (u *UA) removeSetup(c *Call) {
	u.mu.Lock()
	if _, ok := u.setup[c]; ok {
		delete(u.setup, c)
		u.nCalls.Add(-1)
	}
	u.mu.Unlock()
}

// promote moves an outgoing call from setup to the dialog table.
func (u *UA) promote(c *Call) {
	u.mu.Lock()
	delete(u.setup, c)
	u.calls[c.id] = c
	u.mu.Unlock()
}

// addCall stores an answered incoming call.
func (u *UA) addCall(c *Call) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return ErrClosed
	}
	u.nCalls.Add(1)
	u.calls[c.id] = c
	return nil
}

// Hold puts the peer on hold: a re-INVITE with our SDP marked sendonly
// (RFC 3264 §8.4). With a media session the negotiator makes the offer
// (sendonly, or inactive when we only received) and the answer is applied:
// the peer stops sending to us.
func (c *Call) Hold(ctx context.Context) error {
	if c.media != nil {
		return c.mediaReinvite(ctx, true, false)
	}
	return c.Reinvite(ctx, SetSDPDirection(c.LocalSDP(), "sendonly"))
}

// Resume takes the peer off hold: a re-INVITE with our SDP marked
// sendrecv (with a media session, the configured direction again).
func (c *Call) Resume(ctx context.Context) error {
	if c.media != nil {
		return c.mediaReinvite(ctx, false, true)
	}
	return c.Reinvite(ctx, SetSDPDirection(c.LocalSDP(), "sendrecv"))
}

// mediaReinvite re-offers the call's session (after Hold or Resume when
// asked) and applies the answer. A failed re-INVITE leaves the session and
// the hold state as they were (RFC 3264 §8).
func (c *Call) mediaReinvite(ctx context.Context, hold, resume bool) error {
	m := c.media
	m.mu.Lock()
	wasHeld := m.neg.Held()
	switch {
	case hold:
		m.neg.Hold()
	case resume:
		m.neg.Resume()
	}
	restore := func() {
		if wasHeld {
			m.neg.Hold()
		} else {
			m.neg.Resume()
		}
	}
	offer, err := m.neg.CreateOffer()
	if err != nil {
		restore()
		m.mu.Unlock()
		if errors.Is(err, rtp.ErrOfferPending) {
			return fmt.Errorf("%w: %w", dialog.ErrRequestPending, err)
		}
		return err
	}
	m.mu.Unlock()
	err = c.reinvite(ctx, offer, func(answer []byte) error { return m.applyAnswer(answer, false) })
	if err != nil {
		m.mu.Lock()
		if m.neg.OfferPending() {
			m.neg.CancelOffer()
			restore()
		}
		m.mu.Unlock()
	}
	return err
}

// Reinvite sends a re-INVITE with sdp as the new offer (RFC 3261 §14.1) and
// returns once it is answered and acknowledged. On 491 Request Pending
// (glare) it waits the §14.1 back-off and retries, at most
// Limits.MaxGlareRetries times; a challenge is answered once. A 481 or 408
// ends the call. Errors: *StatusError, dialog.ErrRequestPending when a
// re-INVITE is already in progress, ErrCallEnded, ctx's error (the
// re-INVITE is then canceled).
//
// For a call with a media session, a nil sdp re-offers the session (a
// refresh, with a new o= version only if something changed) and applies
// the answer; SDP bytes are sent as they are and the answer is applied to
// the session when it fits them.
func (c *Call) Reinvite(ctx context.Context, sdp []byte) error {
	if c.media != nil {
		if len(sdp) == 0 {
			return c.mediaReinvite(ctx, false, false)
		}
		m := c.media
		return c.reinvite(ctx, sdp, func(answer []byte) error {
			off, err := rtp.ParseSDP(sdp)
			if err != nil {
				return nil // not ours to apply
			}
			ans, err := rtp.ParseSDP(answer)
			if err != nil {
				return err
			}
			p, err := rtp.ApplyAnswer(off, ans)
			if err != nil {
				return err
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.setRemote(p)
		})
	}
	return c.reinvite(ctx, sdp, nil)
}

// reinvite runs a re-INVITE carrying sdp; onAnswer, when set, gets the
// body of the 2xx once it is acknowledged.
func (c *Call) reinvite(ctx context.Context, sdp []byte, onAnswer func([]byte) error) error {
	u := c.u
	var auth []sip.Header
	glare, authTries := 0, 0
	for {
		c.mu.Lock()
		if c.state != CallEstablished || c.d == nil {
			st := c.state
			c.mu.Unlock()
			if st == CallEnded {
				return ErrCallEnded
			}
			return ErrNotEstablished
		}
		req, err := c.d.NewRequest(sip.INVITE, sdp, "application/sdp")
		c.mu.Unlock()
		if err != nil {
			return err
		}
		applyAuth(req, auth)
		u.addCommon(req)
		tx, err := u.send(ctx, ctx, req, c.network)
		if err != nil {
			c.mu.Lock()
			_ = c.d.ReceiveResponse(req, nil)
			c.mu.Unlock()
			c.end(ErrDialogTerminated)
			return err
		}
		res, err := tx.Final(ctx)
		if err != nil {
			c.mu.Lock()
			if ctx.Err() == nil {
				_ = c.d.ReceiveResponse(req, nil)
			}
			terminated := c.d.State() == dialog.StateTerminated
			c.mu.Unlock()
			if terminated {
				c.end(ErrDialogTerminated)
			} else {
				u.goTrack(func() { c.drainReinvite(tx, req, nil) })
			}
			return err
		}
		c.mu.Lock()
		_ = c.d.ReceiveResponse(req, res)
		terminated := c.d.State() == dialog.StateTerminated
		var ack *sip.Request
		if res.IsSuccess() {
			ack, err = c.d.NewAck(req, res)
			if len(sdp) > 0 {
				c.local = sdp
			}
			if b := res.Body(); len(b) > 0 {
				c.remote = bytes.Clone(b)
			}
		}
		backoff := c.d.GlareBackoff(u.cfg.Rand)
		c.mu.Unlock()
		switch {
		case res.IsSuccess():
			if err != nil {
				return err
			}
			// The answer is applied before the ACK leaves: the peer may
			// end the call as soon as it has the ACK, and the exchange
			// it answered has succeeded all the same.
			var aerr error
			if onAnswer != nil {
				if aerr = onAnswer(res.Body()); aerr != nil {
					aerr = fmt.Errorf("ua: media: %w", aerr)
				}
			}
			flow, err := u.sendAck(u.baseCtx, ack, c.network)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.ack, c.ackFlow = ack, flow
			c.mu.Unlock()
			u.goTrack(func() { c.drainReinvite(tx, req, ack) })
			u.emit(Event{Kind: EventCallUpdated, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: res.Body(), Err: aerr})
			return aerr
		case terminated:
			c.end(ErrDialogTerminated)
			return &StatusError{Response: res}
		case res.StatusCode == sip.StatusRequestPending && glare < u.cfg.Limits.MaxGlareRetries:
			glare++
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-c.done:
				t.Stop()
				return ErrCallEnded
			}
		case isChallenge(res) && authTries < 2:
			authTries++
			hs, err := c.creds().answer(res, req)
			if err != nil {
				return err
			}
			auth = c.creds().retryAuth(hs, req)
		default:
			return &StatusError{Response: res}
		}
	}
}

// drainReinvite reads a re-INVITE transaction to its end, acknowledging
// retransmissions of its 2xx.
func (c *Call) drainReinvite(tx *transaction.ClientTx, req, ack *sip.Request) {
	for res := range tx.Responses() {
		if !res.IsSuccess() {
			continue
		}
		c.mu.Lock()
		a, flow := c.ack, c.ackFlow
		if ack == nil && c.d != nil {
			// The 2xx came after Reinvite gave up: acknowledge it.
			_ = c.d.ReceiveResponse(req, res)
			if na, err := c.d.NewAck(req, res); err == nil {
				ack, a = na, nil
			}
		}
		c.mu.Unlock()
		if a != nil && a == ack {
			_ = c.u.tp.SendOn(c.u.baseCtx, a, flow)
		} else if ack != nil {
			if f, err := c.u.sendAck(c.u.baseCtx, ack, c.network); err == nil {
				c.mu.Lock()
				c.ack, c.ackFlow = ack, f
				c.mu.Unlock()
			}
		}
	}
	c.mu.Lock()
	if c.ack == ack {
		c.ack = nil
	}
	c.mu.Unlock()
}

// resendAck answers a 2xx retransmission that arrived after its INVITE
// transaction ended (the transaction layer hands it to HandleDirect).
func (c *Call) resendAck(res *sip.Response) {
	cs, err := res.CSeq()
	if err != nil {
		return
	}
	c.mu.Lock()
	ack, flow := c.ack, c.ackFlow
	c.mu.Unlock()
	if ack == nil {
		return
	}
	if acs, err := ack.CSeq(); err != nil || acs.Seq != cs.Seq {
		return
	}
	_ = c.u.tp.SendOn(c.u.baseCtx, ack, flow)
}

// startRetransmit retransmits res (our 2xx to an INVITE with CSeq seq)
// until its ACK, from T1 doubling up to T2, for at most 64·T1 (RFC 3261
// §13.3.1.4). Called with c.mu held.
func (c *Call) startRetransmit(w transaction.ResponseWriter, res *sip.Response, seq uint32) {
	if c.rtx != nil {
		c.rtx.timer.Stop()
	}
	r := &retransmission{w: w, res: res, seq: seq, interval: c.u.t1, deadline: time.Now().Add(64 * c.u.t1)}
	r.timer = c.u.afterFunc(r.interval, func() { c.retransmit(r) })
	c.rtx = r
}

func (c *Call) retransmit(r *retransmission) {
	c.mu.Lock()
	if c.rtx != r {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	if !now.Before(r.deadline) {
		// §13.3.1.4: no ACK within 64·T1: confirm, then end with BYE.
		c.rtx = nil
		c.mu.Unlock()
		_ = c.bye(c.u.baseCtx, ErrNoACK)
		return
	}
	r.interval = min(2*r.interval, c.u.t2)
	r.timer = c.u.afterFunc(min(r.interval, r.deadline.Sub(now)), func() { c.retransmit(r) })
	w, res := r.w, r.res
	c.mu.Unlock()
	if err := w.Respond(res); err != nil && !errors.Is(err, transaction.ErrTerminated) {
		c.u.log.Debug("2xx retransmission failed", "call_id", c.callID, "error", err.Error())
	}
}

// receiveAck takes the ACK of our 2xx: the retransmissions stop and the
// call is confirmed.
func (c *Call) receiveAck(ack *sip.Request) {
	cs, err := ack.CSeq()
	if err != nil {
		return
	}
	c.mu.Lock()
	r := c.rtx
	if r == nil || r.seq != cs.Seq {
		c.mu.Unlock()
		return
	}
	r.timer.Stop()
	c.rtx = nil
	first := c.state == CallAnswered
	if first {
		c.state = CallEstablished
	}
	if b := ack.Body(); len(b) > 0 {
		c.remote = bytes.Clone(b)
	}
	bye := c.byeOnAck
	c.mu.Unlock()
	var mediaErr error
	if m := c.media; m != nil && !bye {
		m.mu.Lock()
		pending := m.neg.OfferPending()
		m.mu.Unlock()
		if pending {
			// Our offer was in the 2xx: the ACK carries the answer
			// (RFC 3264 §4, late offer and offerless re-INVITE).
			mediaErr = m.applyAnswer(ack.Body(), false)
		}
	}
	if first {
		c.u.emit(Event{Kind: EventCallConfirmed, Line: c.line, Call: c, CallID: c.callID, SDP: ack.Body(), Err: mediaErr})
	}
	switch {
	case bye:
		c.u.goTrack(func() { _ = c.Hangup(c.u.baseCtx) })
	case mediaErr != nil && first:
		why := fmt.Errorf("ua: media: %w", mediaErr)
		c.u.goTrack(func() { _ = c.hangup(c.u.baseCtx, why) })
	}
}

// SDPDirection returns the media direction attribute of sdp (RFC 3264
// §5.1, RFC 4566 §6): that of the first media section that has one, else
// the session-level one, else "sendrecv".
func SDPDirection(sdp []byte) string {
	session, media := "", ""
	inMedia := false
	for line := range bytes.Lines(sdp) {
		line = bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(line, []byte("m=")) {
			inMedia = true
			continue
		}
		if d := directionOf(line); d != "" {
			if inMedia && media == "" {
				media = d
			} else if !inMedia && session == "" {
				session = d
			}
		}
	}
	switch {
	case media != "":
		return media
	case session != "":
		return session
	}
	return "sendrecv"
}

func directionOf(line []byte) string {
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if string(line) == "a="+d {
			return d
		}
	}
	return ""
}

// SetSDPDirection returns a copy of sdp whose media sections (or the
// session, when there is no media section) carry direction dir ("sendrecv",
// "sendonly", "recvonly" or "inactive") in place of any direction they had,
// with the o= line's session version incremented (RFC 3264 §8, §8.4: hold is
// a new offer marked sendonly). It is enough to hold and resume a call
// without a media layer; nil in gives nil.
func SetSDPDirection(sdp []byte, dir string) []byte {
	if len(sdp) == 0 {
		return nil
	}
	out := make([]byte, 0, len(sdp)+16)
	attr := "a=" + dir + "\r\n"
	sawMedia := false
	for line := range bytes.Lines(sdp) {
		body := bytes.TrimRight(line, "\r\n")
		switch {
		case directionOf(body) != "":
			continue
		case bytes.HasPrefix(body, []byte("o=")):
			out = append(out, bumpVersion(body)...)
			out = append(out, "\r\n"...)
			continue
		case bytes.HasPrefix(body, []byte("m=")):
			sawMedia = true
			out = append(out, body...)
			out = append(out, "\r\n"...)
			out = append(out, attr...)
			continue
		}
		out = append(out, body...)
		out = append(out, "\r\n"...)
	}
	if !sawMedia {
		out = append(out, attr...)
	}
	return out
}

// bumpVersion increments the sess-version of an o= line (RFC 4566 §5.2).
func bumpVersion(o []byte) []byte {
	f := bytes.Fields(o)
	if len(f) < 6 {
		return o
	}
	v := f[2]
	n := uint64(0)
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return o
		}
		n = n*10 + uint64(ch-'0')
	}
	f[2] = fmt.Appendf(nil, "%d", n+1)
	return bytes.Join(f, []byte(" "))
}

// mirrorDirection is the direction that answers an offer's (RFC 3264
// §6.1).
func mirrorDirection(offer string) string {
	switch offer {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// Request sends an in-dialog request of method m (INFO, OPTIONS, UPDATE,
// MESSAGE, …; not INVITE, BYE, ACK or CANCEL, which have their own methods)
// with an optional body, answering a challenge once, and returns the final
// response: a 2xx, else a *StatusError carrying it. A 481 or 408 ends the
// call (RFC 3261 §12.2.1.2).
func (c *Call) Request(ctx context.Context, m sip.Method, body []byte, contentType string) (*sip.Response, error) {
	switch m {
	case sip.INVITE, sip.BYE, sip.ACK, sip.CANCEL:
		return nil, dialog.ErrMethod
	}
	var auth []sip.Header
	for try := 0; ; try++ {
		c.mu.Lock()
		if c.state == CallEnded || c.d == nil {
			c.mu.Unlock()
			return nil, ErrCallEnded
		}
		req, err := c.d.NewRequest(m, body, contentType)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		applyAuth(req, auth)
		c.u.addCommon(req)
		tx, err := c.u.send(ctx, ctx, req, c.network)
		if err != nil {
			return nil, err
		}
		res, err := tx.Final(ctx)
		c.mu.Lock()
		if err == nil || ctx.Err() == nil {
			_ = c.d.ReceiveResponse(req, res)
		}
		terminated := c.d.State() == dialog.StateTerminated
		c.mu.Unlock()
		if terminated {
			c.end(ErrDialogTerminated)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case res.IsSuccess():
			return res, nil
		case isChallenge(res) && try < 2:
			hs, err := c.creds().answer(res, req)
			if err != nil {
				return nil, err
			}
			auth = c.creds().retryAuth(hs, req)
		default:
			return nil, &StatusError{Response: res}
		}
	}
}
