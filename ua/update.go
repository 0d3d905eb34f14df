package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/sip"
)

// A new offer in an UPDATE, RFC 3311, as the sender: Call.Update changes
// a call's media in its early dialog (once the INVITE's offer/answer was
// completed by a reliable provisional response and its PRACK, §5.1) or
// in the confirmed dialog, without a re-INVITE. The answer comes in the
// UPDATE's 2xx; until then no other offer may leave (RFC 3311 §5.1). A
// 491 (glare) is retried after the RFC 3261 §14.1 back-off as a
// re-INVITE is; any other refusal leaves the session as it was (RFC 3264
// §8).

// ErrUpdateNotAllowed: the peer's Allow (in its INVITE, or its 1xx or
// 2xx to ours) does not list UPDATE; Call.Update sent nothing.
var ErrUpdateNotAllowed = errors.New("ua: the peer does not allow UPDATE")

// earlyUpdate is the early dialog of an outgoing call in which Call.Update
// may send an offer: its INVITE's offer was answered in a reliable
// provisional response whose PRACK has its 200. lock guards d (the
// INVITE session's lock, taken before c.mu).
type earlyUpdate struct {
	d          *dialog.Dialog
	lock       func() func()
	peerUpdate bool // the 1xx's Allow lists UPDATE
}

// Update sends an UPDATE (RFC 3311) with a new offer made from ch and
// returns once its 2xx brings the answer, which the call's session then
// follows (the RTP goes where it says, with the codec it picks); the host
// gets EventCallUpdated. For a call with a session of ours ch sets its
// codecs and direction (ch.SDP is refused); for a call whose host brings
// its SDP, ch.SDP is the offer, sent as it is.
//
// It works in the confirmed dialog of a call (instead of a re-INVITE),
// and, for an outgoing call, in the early dialog whose reliable
// provisional response answered the INVITE's offer once its PRACK has
// its 200 (Event.Call of EventCallProgress is the early call). Errors:
// ErrUpdateNotAllowed when the peer's Allow does not list UPDATE (nothing
// is sent); dialog.ErrRequestPending while another offer of the call is
// outstanding (an UPDATE, re-INVITE or PRACK of ours, or one from the
// peer); ErrNotEstablished when there is no dialog to send it in yet;
// ErrCallEnded; a *StatusError for a refusal (the session stays as it
// was; a 491 is first retried after the §14.1 back-off, at most
// Limits.MaxGlareRetries times; a challenge is answered once);
// ErrDialogTerminated after a 481 or 408 of a confirmed call, which ends
// it; ctx's error.
func (c *Call) Update(ctx context.Context, ch MediaChange) error {
	if c.media != nil && len(ch.SDP) > 0 {
		return fmt.Errorf("%w: SDP given for a call with a media session of ours", sdp.ErrOfferConfig)
	}
	if c.media == nil && len(ch.SDP) == 0 {
		return fmt.Errorf("%w: no SDP for a call whose host brings its own", sdp.ErrOfferConfig)
	}
	u := c.u
	var auth []sip.Header
	glare, authTries := 0, 0
	for {
		d, lock, early, err := c.updateDialog()
		if err != nil {
			return err
		}
		offer, prev := bytes.Clone(ch.SDP), sdp.Config{}
		if c.media != nil {
			if offer, prev, err = c.media.reoffer(&ch); err != nil {
				if errors.Is(err, sdp.ErrOfferPending) {
					return fmt.Errorf("%w: %w", dialog.ErrRequestPending, err)
				}
				return err
			}
		}
		withdraw := func() {
			if c.media != nil {
				c.media.cancelReoffer(prev)
			}
		}
		unlock := lock()
		req, err := d.NewRequest(sip.UPDATE, offer, "application/sdp")
		unlock()
		if err != nil {
			withdraw()
			return err
		}
		applyAuth(req, auth)
		u.advertise(req)
		if !early {
			c.sessionRequest(req)
		}
		u.addCommon(req)
		res, err := c.sendUpdate(ctx, req, d, lock, early)
		if err != nil {
			withdraw()
			return err
		}
		if res.IsSuccess() {
			return c.updated(req, res, early, withdraw)
		}
		withdraw()
		switch {
		case res.StatusCode == sip.StatusRequestPending && glare < u.cfg.Limits.MaxGlareRetries:
			glare++
			unlock := lock()
			backoff := d.GlareBackoff(u.cfg.Rand)
			unlock()
			if err := c.glareWait(ctx, backoff); err != nil {
				return err
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

// updateDialog returns the dialog an UPDATE of c goes in, the lock that
// guards it, and whether it is early; or why there is none.
func (c *Call) updateDialog() (*dialog.Dialog, func() func(), bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == CallEnded:
		return nil, nil, false, ErrCallEnded
	case c.state == CallEstablished && c.d != nil:
		if !c.peerUpdate {
			return nil, nil, false, ErrUpdateNotAllowed
		}
		return c.d, c.lockCall, false, nil
	case c.early != nil && c.d == nil:
		if !c.early.peerUpdate {
			return nil, nil, false, ErrUpdateNotAllowed
		}
		e := c.early
		return e.d, func() func() {
			unlock := e.lock()
			c.mu.Lock()
			return func() { c.mu.Unlock(); unlock() }
		}, true, nil
	}
	return nil, nil, false, ErrNotEstablished
}

// lockCall locks c.mu and returns the unlock.
func (c *Call) lockCall() func() {
	c.mu.Lock()
	return c.mu.Unlock
}

// sendUpdate sends req, an UPDATE of c in d, and returns its final
// response. A 481 or 408 (or none) of a confirmed call ends it.
func (c *Call) sendUpdate(ctx context.Context, req *sip.Request, d *dialog.Dialog, lock func() func(), early bool) (*sip.Response, error) {
	tx, err := c.u.send(ctx, ctx, req, c.network)
	if err != nil {
		unlock := lock()
		_ = d.ReceiveResponse(req, nil)
		unlock()
		return nil, err
	}
	res, err := tx.Final(ctx)
	unlock := lock()
	if err == nil || ctx.Err() == nil {
		_ = d.ReceiveResponse(req, res)
	}
	terminated := d.State() == dialog.StateTerminated
	unlock()
	if terminated && !early {
		c.end(ErrDialogTerminated)
		if err == nil {
			err = fmt.Errorf("%w: %w", ErrDialogTerminated, &StatusError{Response: res})
		}
	}
	return res, err
}

// updated takes the 2xx to our UPDATE: its answer is applied to the
// session and reported as EventCallUpdated. A 2xx without an answer, or
// one that cannot be applied, withdraws the offer (the session stays as
// it was) and the error says why.
func (c *Call) updated(req *sip.Request, res *sip.Response, early bool, withdraw func()) error {
	var err error
	answer := res.Body()
	switch {
	case len(answer) == 0 || res.ContentType() != "application/sdp":
		err = fmt.Errorf("ua: media: %w: the 2xx to UPDATE carries no SDP", ErrNoAnswer)
	case c.media != nil:
		// Early, the answer is recorded as the early dialog's: a 2xx to
		// the INVITE that repeats it changes nothing (RFC 6337 §3.1.2).
		if err = c.media.applyAnswer(answer, early); err != nil {
			err = fmt.Errorf("ua: media: %w", err)
		}
	}
	if err != nil {
		withdraw()
	} else {
		c.mu.Lock()
		c.local, c.remote = req.Body(), bytes.Clone(answer)
		c.mu.Unlock()
		if !early {
			c.sessionRefreshed(res)
		}
	}
	c.u.emit(Event{Kind: EventCallUpdated, Line: c.line, Call: c, CallID: c.callID, Response: res, SDP: answer, Err: err})
	return err
}

// glareWait waits d (a glare back-off) unless ctx ends or the call does.
func (c *Call) glareWait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Done():
		return ErrCallEnded
	}
}

// earlyAnswered records the early dialog d of an outgoing call as one
// Update may send an offer in: the INVITE's offer/answer completed in a
// reliable 1xx and its PRACK has its 200 (RFC 3311 §5.1). peerUpdate:
// the 1xx's Allow lists UPDATE. lock guards d.
func (c *Call) earlyAnswered(d *dialog.Dialog, lock func() func(), peerUpdate bool) {
	unlock := lock()
	defer unlock()
	// The INVITE's offer is answered: only the INVITE itself stays open.
	d.Negotiation().OfferAnswered(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallRinging && c.d == nil {
		c.early = &earlyUpdate{d: d, lock: lock, peerUpdate: peerUpdate}
		c.peerUpdate = c.peerUpdate || peerUpdate
	}
}

// earlyUpdating reports whether d is the early dialog Update may use: a
// later 1xx of it repeats the answer it had (the offer/answer is over),
// and must not be taken for the answer to an UPDATE of ours in flight.
func (c *Call) earlyUpdating(d *dialog.Dialog) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return d != nil && c.early != nil && c.early.d == d
}
