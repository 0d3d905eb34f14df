package ua

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// The UAS half of the INVITE session's reliability, RFC 3261 §13.3.1.4:
// the UAS retransmits its 2xx until the ACK (BYE after 64·T1 without one).
// The UAC half (an ACK for every 2xx) is dialog.InviteClient, driven from
// dial.go.

// retransmission is the UAS core's wait for the ACK of a 2xx it sent
// (§13.3.1.4): the schedule is dialog.AckWait's, the timer the UA clock's.
type retransmission struct {
	c     *Call
	w     transaction.ResponseWriter
	res   *sip.Response
	wait  dialog.AckWait
	timer *clockTimer
	tm    clockTimer // where timer points once armed (no allocation)
	// offered: the INVITE had no SDP, so the 2xx carries our offer and
	// the ACK its answer (RFC 3264 §4).
	offered bool
}

// startRetransmit retransmits res (our 2xx to an INVITE with CSeq seq)
// until its ACK, from T1 doubling up to T2, for at most 64·T1 (RFC 3261
// §13.3.1.4). Called with c.mu held.
func (c *Call) startRetransmit(w transaction.ResponseWriter, res *sip.Response, seq uint32, offered bool) {
	if c.rtx != nil {
		c.rtx.timer.Stop()
	}
	r := &retransmission{c: c, w: w, res: res, wait: dialog.NewAckWait(time.Now(), seq, c.u.t1, c.u.t2), offered: offered}
	c.arm(r)
	c.rtx = r
}

// arm sets r's timer for its next step. Called with c.mu held.
func (c *Call) arm(r *retransmission) {
	if next, ok := r.wait.Next(); ok {
		r.timer = c.u.clock.fireIn(&r.tm, time.Until(next), r)
	}
}

// fire implements firer: the next step of the retransmission.
func (r *retransmission) fire() { r.c.retransmit(r) }

// retransmit steps r on the UA clock: it sends the 2xx again, or gives up
// and ends the call with BYE on a goroutine of the UA.
func (c *Call) retransmit(r *retransmission) {
	c.mu.Lock()
	if c.rtx != r {
		c.mu.Unlock()
		return
	}
	switch r.wait.Step(time.Now()) {
	case dialog.AckWaitGiveUp:
		// §13.3.1.4: no ACK within 64·T1: confirm, then end with BYE.
		c.rtx = nil
		c.mu.Unlock()
		c.u.goTrack(func() { _ = c.bye(c.u.baseCtx, ErrNoACK) })
		return
	case dialog.AckWaitRetransmit:
		c.arm(r)
	default:
		c.arm(r) // woken early: wait on
		c.mu.Unlock()
		return
	}
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
	if r == nil || !r.wait.Ack(cs.Seq) {
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
	if m := c.media; m != nil && !bye && r.offered {
		m.mu.Lock()
		pending := m.neg.OfferPending()
		m.mu.Unlock()
		// Only the ACK of a 2xx that carried our offer answers it: an
		// offer of ours pending now may be a re-INVITE of our own sent
		// before this ACK arrived, whose answer comes in its 2xx.
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
