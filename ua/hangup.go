package ua

import (
	"context"
	"errors"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// ByeOutcome says how the BYE that ended a call of ours fared; the call's
// EventCallEnded carries it in Event.Bye.
type ByeOutcome uint8

// BYE outcomes.
const (
	// ByeNone: no BYE of ours ended the call (the peer hung up, the call
	// failed, was canceled or refused, or the UA closed).
	ByeNone ByeOutcome = iota
	// ByeAnswered: the BYE got a final response, in Event.Response: a
	// 2xx, a 481 (the peer had ended the dialog already) or a refusal.
	ByeAnswered
	// ByeTimedOut: no final response came before Timer F (64·T1, 32 s
	// with the default T1): the peer may still hold the call.
	ByeTimedOut
	// ByeNotWaited: the outcome was not waited for: the context given to
	// Hangup ended, or Close's bound passed, before a final response or
	// Timer F. The transaction went on (until the UA closed); whether the
	// BYE arrived is not known.
	ByeNotWaited
	// ByeFailed: the BYE could not be sent (the target did not resolve,
	// the transport failed).
	ByeFailed
)

var byeNames = [...]string{
	ByeNone:      "none",
	ByeAnswered:  "answered",
	ByeTimedOut:  "timed-out",
	ByeNotWaited: "not-waited",
	ByeFailed:    "failed",
}

// String returns the outcome's name.
func (o ByeOutcome) String() string {
	if int(o) < len(byeNames) {
		return byeNames[o]
	}
	return "bye(?)"
}

// Hangup ends the call: BYE for an established call (RFC 3261 §15.1.1),
// CANCEL for an outgoing call not answered yet (Dial then fails), and for an
// incoming call whose 2xx awaits its ACK, BYE once the ACK came (or 64·T1
// passed). Hanging up an ended call does nothing.
//
// The call ends here at once: Done is closed, media stops and the call
// leaves Calls as soon as the BYE is handed to the transaction layer. The
// BYE's transaction runs on by itself — retransmitted over UDP from T1
// doubling to T2 — until a final response or Timer F (64·T1), whether or
// not Hangup waits; Close and Shutdown let it finish (see Close), so a host
// may close the UA as soon as Done fires. Hangup returns when the BYE has
// its final response (nil for a 2xx or a 481, else a *StatusError; a
// 401/407 is answered once), when Timer F expired (an error matching
// transaction.ErrTimeout), or when ctx ends (ctx's error). Then the call's
// EventCallEnded reports the outcome in Event.Bye — ByeAnswered with the
// response in Event.Response, ByeTimedOut, or ByeNotWaited when ctx ended
// first — and Event.Err is ErrLocalHangup.
func (c *Call) Hangup(ctx context.Context) error {
	return c.hangup(ctx, ErrLocalHangup)
}

// hangup is Hangup ending the call with why.
func (c *Call) hangup(ctx context.Context, why error) error {
	c.mu.Lock()
	switch {
	case c.state == CallEnded || c.byeing:
		c.mu.Unlock()
		return nil
	case c.d == nil:
		c.abandoned = true
		tx := c.tx
		c.mu.Unlock()
		if tx != nil {
			tx.Cancel()
		}
		return c.wait(ctx)
	case c.rtx != nil && c.state == CallAnswered:
		c.byeOnAck = true
		c.mu.Unlock()
		return c.wait(ctx)
	}
	c.mu.Unlock()
	return c.bye(ctx, why)
}

// bye ends the call with why by a BYE: the call ends as soon as the BYE is
// in the transaction layer, bye waits for the BYE's outcome until ctx ends,
// then reports the end with that outcome (EventCallEnded, Event.Bye).
func (c *Call) bye(ctx context.Context, why error) error {
	c.mu.Lock()
	if c.state == CallEnded || c.byeing {
		c.mu.Unlock()
		return nil
	}
	if c.d == nil {
		c.mu.Unlock()
		c.end(why)
		return nil
	}
	c.byeing = true
	req, err := c.d.NewRequest(sip.BYE, nil, "")
	c.mu.Unlock()
	if err != nil {
		c.end(why)
		return err
	}
	c.u.addCommon(req)
	tx, err := c.u.send(ctx, ctx, req, c.network)
	// The call ends once its BYE is in the transaction layer, which Close
	// lets finish: a host that closes the UA when Done fires does not cut
	// it off.
	ended := c.finish(why)
	report := func(o ByeOutcome, res *sip.Response) {
		if ended {
			c.u.emit(Event{Kind: EventCallEnded, Line: c.line, Call: c, CallID: c.callID, Err: why, Bye: o, Response: res, Quality: c.media.quality()})
		}
	}
	if err != nil {
		report(ByeFailed, nil)
		return err
	}
	res, err := c.byeFinal(ctx, tx, req)
	switch {
	case res != nil:
		report(ByeAnswered, res)
		if err != nil {
			return err // a challenge we cannot answer
		}
	case errors.Is(err, transaction.ErrTimeout):
		report(ByeTimedOut, nil)
		return err
	case errors.Is(err, transaction.ErrTransport):
		report(ByeFailed, nil)
		return err
	default: // ctx ended, the UA closed
		report(ByeNotWaited, nil)
		return err
	}
	if !res.IsSuccess() && res.StatusCode != sip.StatusCallTransactionDoesNotExist {
		return &StatusError{Response: res}
	}
	return nil
}

// byeFinal waits for the final response of the BYE sent in tx, answering a
// challenge once with a new BYE. With a final response it returns it, and
// the error of answering its challenge if that failed.
func (c *Call) byeFinal(ctx context.Context, tx *transaction.ClientTx, req *sip.Request) (*sip.Response, error) {
	res, err := tx.Final(ctx)
	if err != nil || !isChallenge(res) {
		return res, err
	}
	hs, err := c.creds().answer(res, req)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	req2, err := c.d.NewRequest(sip.BYE, nil, "")
	c.mu.Unlock()
	if err != nil {
		return res, err
	}
	applyAuth(req2, hs)
	c.u.addCommon(req2)
	if tx, err = c.u.send(ctx, ctx, req2, c.network); err != nil {
		return nil, err
	}
	return tx.Final(ctx)
}

func (c *Call) wait(ctx context.Context) error {
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end ends the call with err (once) and reports it.
func (c *Call) end(err error) {
	if c.finish(err) {
		c.u.emit(Event{Kind: EventCallEnded, Line: c.line, Call: c, CallID: c.callID, Err: err, Quality: c.media.quality()})
	}
}

// finish ends the call with err unless it has ended already, without
// reporting it, and says whether it did: the 2xx retransmissions stop,
// the call leaves the UA's tables, its media stops, and then Done is
// closed.
func (c *Call) finish(err error) bool {
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return false
	}
	c.state, c.endErr = CallEnded, err
	c.stopSessionLocked()
	c.stopMediaWatchLocked()
	if c.rtx != nil {
		c.rtx.timer.Stop()
		c.rtx = nil
	}
	id, hasID := c.id, c.d != nil
	c.mu.Unlock()
	u := c.u
	u.mu.Lock()
	u.endMedia(c)
	u.removeSetupLocked(c)
	if hasID && u.calls[id] == c {
		delete(u.calls, id)
		u.nCalls.Add(-1)
		u.noteCallGoneLocked()
	}
	u.mu.Unlock()
	c.media.close()
	c.mu.Lock()
	c.done.fire()
	c.mu.Unlock()
	return true
}

// finishing tells the requests whose transactions Close lets get their
// final response: BYE, CANCEL, and REGISTER removing bindings (every
// Contact with expires 0, RFC 3261 §10.2.2). It runs under a transaction
// shard's lock.
func finishing(req *sip.Request) bool {
	switch req.Method {
	case sip.BYE, sip.CANCEL:
		return true
	case sip.REGISTER:
		return unregistering(req)
	}
	return false
}

func unregistering(req *sip.Request) bool {
	cts, err := req.Contacts()
	if err != nil || len(cts) == 0 {
		return false
	}
	header := req.Header("Expires")
	for _, ct := range cts {
		if e, ok := ct.Expires(); ok && !ct.Wildcard {
			if e != 0 {
				return false
			}
			continue
		}
		if header != "0" {
			return false
		}
	}
	return true
}
