package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

// serverNonInvite is the non-INVITE server transaction of RFC 3261 §17.2.2
// (figure 8).
//
//	Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --J--> Terminated
//	   \--200-699 from TU--> Completed
//	Proceeding, Completed --transport error--> Terminated
type serverNonInvite struct {
	timers   *Timers
	last     *sip.Response // most recent response sent
	state    State
	reliable bool
	j        time.Time // Timer J deadline; zero means disarmed
	released bool      // last was detached from the request's buffer
}

// release drops what waiting out Timer J does not need: once Completed,
// the final response is kept as its own copy, so the request it was built
// from (and that request's buffer) can be collected.
func (s *serverNonInvite) release() {
	if s.state != Completed || s.released {
		return
	}
	s.released = true
	s.last = detached(s.last)
}

// newServerNonInvite starts the machine in Trying at now, when the request
// has been passed to the TU.
func newServerNonInvite(_ time.Time, timers *Timers, reliable bool) *serverNonInvite {
	return &serverNonInvite{timers: timers, state: Trying, reliable: reliable}
}

func (s *serverNonInvite) current() State { return s.state }

func (s *serverNonInvite) deadline() time.Time { return s.j }

func (s *serverNonInvite) terminate() {
	s.state = Terminated
	s.j = time.Time{}
}

// step applies one input at now and returns the outputs in order.
func (s *serverNonInvite) step(now time.Time, in input) []output {
	switch in.kind {
	case inTimer:
		if s.state == Completed && due(s.j, now) {
			s.terminate()
		}
	case inRequest:
		// Trying absorbs retransmissions; Proceeding and Completed
		// repeat the last response.
		if s.state == Proceeding || s.state == Completed {
			return []output{{kind: outSendResponse, res: s.last}}
		}
	case inResponse:
		if in.res == nil || (s.state != Trying && s.state != Proceeding) {
			return nil // Completed discards further responses
		}
		s.last = in.res
		if in.res.StatusCode < 200 {
			s.state = Proceeding
		} else if j := s.timers.J(s.reliable); j > 0 {
			s.state = Completed
			s.j = now.Add(j)
		} else {
			s.terminate()
		}
		return []output{{kind: outSendResponse, res: in.res}}
	case inTransportError:
		if s.state == Proceeding || s.state == Completed {
			s.terminate()
			return []output{{kind: outFail, err: in.err}}
		}
	}
	return nil
}
