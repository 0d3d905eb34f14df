package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

// clientNonInvite is the non-INVITE client transaction of RFC 3261
// §17.1.2 (figure 6).
//
//	Trying --1xx--> Proceeding --200-699--> Completed --K--> Terminated
//	   \--200-699--> Completed
//	Trying, Proceeding --F or transport error--> Terminated
type clientNonInvite struct {
	timers   *Timers
	state    State
	reliable bool
	interval time.Duration // current Timer E interval
	e, f, k  time.Time     // deadlines; zero means disarmed
	out      outBuf        // the outputs of the last step
}

// newClientNonInvite starts the machine in Trying at now, the instant the
// request was handed to the transport.
func newClientNonInvite(now time.Time, timers *Timers, reliable bool) *clientNonInvite {
	c := new(clientNonInvite)
	c.init(now, timers, reliable)
	return c
}

// init starts c in Trying at now, in place (c is allocated with its
// transaction).
func (c *clientNonInvite) init(now time.Time, timers *Timers, reliable bool) {
	*c = clientNonInvite{timers: timers, state: Trying, reliable: reliable}
	if !reliable {
		c.interval = timers.E()
		c.e = now.Add(c.interval)
	}
	c.f = now.Add(timers.F())
}

func (c *clientNonInvite) current() State { return c.state }

func (c *clientNonInvite) deadline() time.Time { return earliest(c.e, c.f, c.k) }

func (c *clientNonInvite) terminate() {
	c.state = Terminated
	c.e, c.f, c.k = time.Time{}, time.Time{}, time.Time{}
}

// step applies one input at now and returns the outputs in order.
func (c *clientNonInvite) step(now time.Time, in input) []output {
	switch in.kind {
	case inTimer:
		switch c.state {
		case Trying, Proceeding:
			if due(c.f, now) {
				c.terminate()
				return c.out.put(output{kind: outFail, err: &TimeoutError{Timer: "F", Waited: c.timers.F()}})
			}
			if due(c.e, now) {
				if c.state == Trying {
					c.interval = min(2*c.interval, c.timers.T2) // §17.1.2.2
				} else {
					c.interval = c.timers.T2 // Proceeding: every T2
				}
				c.e = now.Add(c.interval)
				return c.out.put(output{kind: outResend})
			}
		case Completed:
			if due(c.k, now) {
				c.terminate()
			}
		}
	case inResponse:
		if in.res == nil || (c.state != Trying && c.state != Proceeding) {
			return nil // Completed absorbs retransmissions
		}
		return c.response(now, in.res)
	case inTransportError:
		if c.state == Trying || c.state == Proceeding {
			c.terminate()
			return c.out.put(output{kind: outFail, err: in.err})
		}
	}
	return nil
}

func (c *clientNonInvite) response(now time.Time, res *sip.Response) []output {
	if res.StatusCode < 200 {
		c.state = Proceeding
		return c.out.put(output{kind: outPassUp, res: res})
	}
	c.e, c.f = time.Time{}, time.Time{}
	if k := c.timers.K(c.reliable); k > 0 {
		c.state = Completed
		c.k = now.Add(k)
	} else {
		c.terminate()
	}
	return c.out.put(output{kind: outPassUp, res: res})
}
