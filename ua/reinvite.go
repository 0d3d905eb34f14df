package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Modifying a call, RFC 3261 §14 and RFC 3264 §8: re-INVITE, hold and
// resume, glare back-off.

// Hold puts the peer on hold: a re-INVITE with our SDP marked sendonly
// (RFC 3264 §8.4). With a media session the negotiator makes the offer
// (sendonly, or inactive when we only received) and the answer is applied:
// the peer stops sending to us.
func (c *Call) Hold(ctx context.Context) error {
	if c.media != nil {
		return c.mediaReinvite(ctx, true, false)
	}
	return c.Reinvite(ctx, sdp.SetDirection(c.LocalSDP(), sdp.SendOnly))
}

// Resume takes the peer off hold: a re-INVITE with our SDP marked
// sendrecv (with a media session, the configured direction again).
func (c *Call) Resume(ctx context.Context) error {
	if c.media != nil {
		return c.mediaReinvite(ctx, false, true)
	}
	return c.Reinvite(ctx, sdp.SetDirection(c.LocalSDP(), sdp.SendRecv))
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
	// The re-offer goes out under the call's SRTP policy: the key in use
	// once the stream is secured (media_srtp.go).
	err := m.prepareOfferLocked()
	var offer []byte
	if err == nil {
		offer, err = m.neg.CreateOffer()
	}
	if err != nil {
		restore()
		m.mu.Unlock()
		if errors.Is(err, sdp.ErrOfferPending) {
			return fmt.Errorf("%w: %w", dialog.ErrRequestPending, err)
		}
		return err
	}
	m.mu.Unlock()
	err = c.reinvite(ctx, offer, func(answer []byte) error { return m.applyAnswer(answer, false) })
	if err == nil {
		m.holdMusic(hold, resume)
	}
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

// holdMusic starts MediaConfig.HoldMusic when our side put the call on
// hold, and stops it on resume.
func (m *callMedia) holdMusic(hold, resume bool) {
	music := m.u.cfg.Media.HoldMusic
	switch {
	case music == nil:
	case hold:
		m.sess.SetLoop(music)
	case resume:
		m.sess.SetLoop(nil)
	}
}

// Reinvite sends a re-INVITE with sdp as the new offer (RFC 3261 §14.1) and
// returns once it is answered and acknowledged. On 491 Request Pending
// (glare) it waits the §14.1 back-off and retries, at most
// Limits.MaxGlareRetries times; a challenge is answered once. A 481 or 408
// ends the call. Errors: *StatusError, dialog.ErrRequestPending when a
// re-INVITE is already in progress, ErrCallEnded, ctx's error (the
// re-INVITE is then canceled).
//
// For a call with a media session, a nil offer re-offers the session (a
// refresh, with a new o= version only if something changed) and applies
// the answer; offer bytes are sent as they are and the answer is applied to
// the session when it fits them.
func (c *Call) Reinvite(ctx context.Context, offer []byte) error {
	if c.media != nil {
		if len(offer) == 0 {
			return c.mediaReinvite(ctx, false, false)
		}
		m := c.media
		return c.reinvite(ctx, offer, func(answer []byte) error {
			off, err := sdp.Parse(offer)
			if err != nil {
				return nil // not ours to apply
			}
			ans, err := sdp.Parse(answer)
			if err != nil {
				return err
			}
			p, err := sdp.ApplyAnswer(off, ans)
			if err != nil {
				return err
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.setRemote(p)
		})
	}
	return c.reinvite(ctx, offer, nil)
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
		u.advertise(req)
		c.sessionRequest(req)
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
				u.goTrack(func() { c.drainReinvite(tx, req, nil, transport.Flow{}) })
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
			c.sessionRefreshed(res)
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
			u.goTrack(func() { c.drainReinvite(tx, req, ack, flow) })
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
			case <-c.Done():
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

// drainReinvite reads a re-INVITE transaction to its end (Timer M),
// acknowledging each retransmission of its 2xx with ack, sent on flow. When
// the re-INVITE gave up before its 2xx (ack nil), a 2xx that still comes is
// acknowledged all the same (RFC 3261 §13.2.2.4).
func (c *Call) drainReinvite(tx *transaction.ClientTx, req, ack *sip.Request, flow transport.Flow) {
	for res := range tx.Responses() {
		if !res.IsSuccess() {
			continue
		}
		if ack != nil {
			_ = c.u.tp.SendOn(c.u.baseCtx, ack, flow)
			continue
		}
		c.mu.Lock()
		var late *sip.Request
		if c.d != nil {
			_ = c.d.ReceiveResponse(req, res)
			late, _ = c.d.NewAck(req, res)
		}
		c.mu.Unlock()
		if late == nil {
			continue
		}
		if f, err := c.u.sendAck(c.u.baseCtx, late, c.network); err == nil {
			ack, flow = late, f
		}
	}
}

// answerOffer asks OnReinvite for the answer to a re-INVITE or UPDATE
// offer; else a call with media answers with its session (and makes an
// offer for an offerless re-INVITE, answered in the ACK); else it mirrors
// the offer's direction on our current SDP.
func (u *UA) answerOffer(ctx context.Context, c *Call, m sip.Method, offer []byte) ([]byte, error) {
	if u.cfg.OnReinvite != nil {
		var answer []byte
		var err error
		if !u.guard("OnReinvite", func() { answer, err = u.cfg.OnReinvite(ctx, c, offer) }) {
			return nil, &AnswerError{Code: sip.StatusServerInternalError}
		}
		return answer, err
	}
	if c.media != nil {
		var local []byte
		var err error
		switch {
		case len(offer) > 0:
			local, err = c.media.answer(offer)
		case m == sip.INVITE:
			local, err = c.media.offer()
		default:
			return c.LocalSDP(), nil
		}
		if errors.Is(err, sdp.ErrOfferPending) {
			// Glare: our re-INVITE is out (RFC 3261 §14.2).
			return nil, &AnswerError{Code: sip.StatusRequestPending, Reason: ""}
		}
		return local, err
	}
	local := c.LocalSDP()
	if len(offer) == 0 {
		return local, nil
	}
	return sdp.SetDirection(local, sdp.DirectionOf(offer).Reverse()), nil
}
