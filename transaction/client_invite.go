package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

// clientInvite is the INVITE client transaction of RFC 3261 §17.1.1
// (figure 5) with the Accepted state and Timer M of RFC 6026 §8.4. It is a
// pure state machine: the request has been sent when it is created, and
// step tells the owner what to send and what to pass up.
//
//	Calling --1xx--> Proceeding --2xx--> Accepted --M--> Terminated
//	   |  \--2xx--> Accepted                  ^
//	   |--300-699 (ACK)--> Completed --D--> Terminated
//	   |--B or transport error--> Terminated
type clientInvite struct {
	timers *Timers
	req    *sip.Request
	ack    *sip.Request // ACK for the non-2xx final, built once

	state    State
	reliable bool
	// wantCancel: the TU asked to cancel before any provisional response;
	// the CANCEL goes out with the first one (§9.1).
	wantCancel bool
	// canceled: the CANCEL has been sent.
	canceled bool

	interval time.Duration // current Timer A interval
	// Deadlines; zero means disarmed.
	a, b, d, m time.Time
	// giveUp is 64·T1 after the CANCEL: with no final by then the
	// transaction is considered canceled (§9.1).
	giveUp time.Time
	out    outBuf // the outputs of the last step
}

// newClientInvite starts the machine in Calling at now, the instant the
// INVITE was handed to the transport. timers must have its defaults filled.
func newClientInvite(now time.Time, timers *Timers, req *sip.Request, reliable bool) *clientInvite {
	c := new(clientInvite)
	c.init(now, timers, req, reliable)
	return c
}

// init starts c in Calling at now, in place (c is allocated with its
// transaction).
func (c *clientInvite) init(now time.Time, timers *Timers, req *sip.Request, reliable bool) {
	*c = clientInvite{timers: timers, req: req, state: Calling, reliable: reliable}
	if !reliable {
		c.interval = timers.A()
		c.a = now.Add(c.interval)
	}
	c.b = now.Add(timers.B())
}

func (c *clientInvite) current() State { return c.state }

func (c *clientInvite) deadline() time.Time { return earliest(c.a, c.b, c.d, c.m, c.giveUp) }

func (c *clientInvite) terminate() {
	c.state = Terminated
	c.a, c.b, c.d, c.m, c.giveUp = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
}

// step applies one input at now and returns the outputs in order.
func (c *clientInvite) step(now time.Time, in input) []output {
	switch in.kind {
	case inTimer:
		return c.timer(now)
	case inResponse:
		if in.res == nil {
			return nil
		}
		return c.response(now, in.res)
	case inTransportError:
		switch c.state {
		case Calling, Proceeding, Completed:
			c.terminate()
			return c.out.put(output{kind: outFail, err: in.err})
		}
	case inCancel:
		switch c.state {
		case Calling:
			c.wantCancel = true
		case Proceeding:
			return c.cancel(now, nil)
		}
	}
	return nil
}

// cancel sends the CANCEL (once) and arms the §9.1 give-up deadline.
func (c *clientInvite) cancel(now time.Time, out []output) []output {
	if c.canceled {
		return out
	}
	c.canceled, c.wantCancel = true, false
	c.giveUp = now.Add(c.timers.B())
	return append(out, output{kind: outSendCancel})
}

func (c *clientInvite) timer(now time.Time) []output {
	switch c.state {
	case Calling:
		if due(c.b, now) {
			c.terminate()
			return c.out.put(output{kind: outFail, err: &TimeoutError{Timer: "B", Waited: c.timers.B()}})
		}
		if due(c.a, now) {
			c.interval *= 2 // §17.1.1.2: Timer A doubles, no cap
			c.a = now.Add(c.interval)
			return c.out.put(output{kind: outResend})
		}
	case Proceeding:
		if due(c.giveUp, now) {
			c.terminate()
			return c.out.put(output{kind: outFail, err: &TimeoutError{Timer: "CANCEL", Waited: c.timers.B()}})
		}
	case Completed:
		if due(c.d, now) {
			c.terminate()
		}
	case Accepted:
		if due(c.m, now) {
			c.terminate()
		}
	}
	return nil
}

func (c *clientInvite) response(now time.Time, res *sip.Response) []output {
	code := res.StatusCode
	switch c.state {
	case Calling, Proceeding:
		switch {
		case code < 200:
			out := c.out.put(output{kind: outPassUp, res: res})
			if c.state == Calling {
				c.state = Proceeding
				c.a, c.b = time.Time{}, time.Time{}
				if c.wantCancel {
					out = c.cancel(now, out)
				}
			}
			return out
		case code < 300:
			c.state = Accepted
			c.a, c.b, c.giveUp = time.Time{}, time.Time{}, time.Time{}
			c.m = now.Add(c.timers.M())
			return c.out.put(output{kind: outPassUp, res: res})
		default:
			c.ack = newAck(c.req, res)
			out := c.out.put(output{kind: outSendAck, req: c.ack}, output{kind: outPassUp, res: res})
			c.a, c.b, c.giveUp = time.Time{}, time.Time{}, time.Time{}
			if d := c.timers.D(c.reliable); d > 0 {
				c.state = Completed
				c.d = now.Add(d)
			} else {
				c.terminate()
			}
			return out
		}
	case Completed:
		// §17.1.1.2: retransmitted finals are acknowledged again and
		// not passed up.
		if code >= 300 {
			return c.out.put(output{kind: outSendAck, req: c.ack})
		}
	case Accepted:
		// RFC 6026 §8.4: every 2xx (retransmissions, forks) goes up.
		if code >= 200 && code < 300 {
			return c.out.put(output{kind: outPassUp, res: res})
		}
	}
	return nil
}
