package transaction

import (
	"bytes"
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
	timers *Timers
	last   *sip.Response // most recent response sent; nil once released
	// final is the final response, serialized, once released: all that
	// waiting out Timer J needs.
	final    []byte
	state    State
	reliable bool
	j        time.Time // Timer J deadline; zero means disarmed
	out      outBuf    // the outputs of the last step
}

// release drops what waiting out Timer J does not need: once Completed,
// the final response is kept only as its bytes (a few hundred, where the
// parsed response costs about four times that and points into the
// request's buffer), so the request and its buffer can be collected. A
// retransmitted request, which is rare, gets the bytes parsed again.
func (s *serverNonInvite) release() {
	if s.state != Completed || s.last == nil {
		return
	}
	var scratch [1024]byte
	s.final = bytes.Clone(s.last.AppendTo(scratch[:0]))
	s.last = nil
}

// lastResponse returns the response to repeat.
func (s *serverNonInvite) lastResponse() *sip.Response {
	if s.last != nil || s.final == nil {
		return s.last
	}
	return parseFinal(s.final)
}

// parseFinal parses a final response the transaction serialized itself,
// for a retransmission; nil cannot happen for bytes we wrote.
func parseFinal(b []byte) *sip.Response {
	m, err := sip.Parse(bytes.Clone(b))
	if r, ok := m.(*sip.Response); err == nil && ok {
		return r
	}
	return nil
}

// newServerNonInvite starts the machine in Trying at now, when the request
// has been passed to the TU.
func newServerNonInvite(now time.Time, timers *Timers, reliable bool) *serverNonInvite {
	s := new(serverNonInvite)
	s.init(now, timers, reliable)
	return s
}

// init starts s in Trying, in place (s is allocated with its transaction).
func (s *serverNonInvite) init(_ time.Time, timers *Timers, reliable bool) {
	*s = serverNonInvite{timers: timers, state: Trying, reliable: reliable}
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
			if res := s.lastResponse(); res != nil {
				return s.out.put(output{kind: outSendResponse, res: res})
			}
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
		return s.out.put(output{kind: outSendResponse, res: in.res})
	case inTransportError:
		if s.state == Proceeding || s.state == Completed {
			s.terminate()
			return s.out.put(output{kind: outFail, err: in.err})
		}
	}
	return nil
}
