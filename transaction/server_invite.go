package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

// serverInvite is the INVITE server transaction of RFC 3261 §17.2.1
// (figure 7) with the Accepted state and Timer L of RFC 6026 §8.7.
//
//	Proceeding --2xx from TU--> Accepted --L--> Terminated
//	Proceeding --300-699 from TU--> Completed --ACK--> Confirmed --I--> Terminated
//	Completed --H or transport error--> Terminated
type serverInvite struct {
	timers   *Timers
	req      *sip.Request
	released bool // last was detached from the request's buffer
	// last is the most recent response sent: the provisional to repeat
	// in Proceeding, the final to repeat in Completed.
	last *sip.Response

	state    State
	reliable bool
	interval time.Duration // current Timer G interval
	// Deadlines; zero means disarmed. trying is the 200 ms 100 Trying
	// deadline of §17.2.1.
	trying, g, h, i, l time.Time
	out                outBuf // the outputs of the last step
}

// newServerInvite starts the machine in Proceeding at now, when the INVITE
// has been passed to the TU.
func newServerInvite(now time.Time, timers *Timers, req *sip.Request, reliable bool) *serverInvite {
	s := new(serverInvite)
	s.init(now, timers, req, reliable)
	return s
}

// init starts s in Proceeding at now, in place (s is allocated with its
// transaction).
func (s *serverInvite) init(now time.Time, timers *Timers, req *sip.Request, reliable bool) {
	*s = serverInvite{
		timers: timers, req: req, state: Proceeding, reliable: reliable,
		trying: now.Add(TryingDelay),
	}
}

func (s *serverInvite) current() State { return s.state }

// release drops what the states after a final response do not need: the
// request (only the 100 Trying of Proceeding is built from it), and in
// Accepted the 2xx (the TU retransmits its own); Completed keeps its
// non-2xx final as its own copy, to repeat it, so the request's buffer can
// be collected while Timers H, I or L run.
func (s *serverInvite) release() {
	switch s.state {
	case Proceeding:
		return
	case Completed:
		if !s.released {
			s.released = true
			s.last = detached(s.last)
		}
	default:
		s.last = nil // Accepted: the TU retransmits its 2xx itself
	}
	s.req = nil
}

func (s *serverInvite) deadline() time.Time { return earliest(s.trying, s.g, s.h, s.i, s.l) }

func (s *serverInvite) terminate() {
	s.state = Terminated
	s.trying, s.g, s.h, s.i, s.l = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
}

// trying100 builds the 100 Trying the transaction sends on its own.
func (s *serverInvite) trying100() *sip.Response {
	s.last = sip.NewResponse(s.req, 100, "")
	return s.last
}

// step applies one input at now and returns the outputs in order.
func (s *serverInvite) step(now time.Time, in input) []output {
	switch in.kind {
	case inTimer:
		return s.timer(now)
	case inRequest:
		switch s.state {
		case Proceeding:
			// §17.2.1: repeat the most recent provisional; with none
			// sent yet, answer 100 Trying now.
			s.trying = time.Time{}
			if s.last == nil {
				s.trying100()
			}
			return s.out.put(output{kind: outSendResponse, res: s.last})
		case Completed:
			return s.out.put(output{kind: outSendResponse, res: s.last})
		}
		// Accepted absorbs INVITE retransmissions (RFC 6026 §8.7),
		// Confirmed absorbs everything.
	case inAck:
		switch s.state {
		case Completed:
			s.g, s.h = time.Time{}, time.Time{}
			if d := s.timers.I(s.reliable); d > 0 {
				s.state = Confirmed
				s.i = now.Add(d)
			} else {
				s.terminate()
			}
		case Accepted:
			return s.out.put(output{kind: outPassAck})
		}
	case inResponse:
		if in.res == nil {
			return nil
		}
		return s.response(now, in.res)
	case inTransportError:
		switch s.state {
		case Proceeding, Completed:
			s.terminate()
			return s.out.put(output{kind: outFail, err: in.err})
		case Accepted:
			// Tell the TU, which retransmits its 2xx itself; the
			// transaction stays to absorb INVITE retransmissions.
			return s.out.put(output{kind: outFail, err: in.err})
		}
	}
	return nil
}

func (s *serverInvite) timer(now time.Time) []output {
	switch s.state {
	case Proceeding:
		if due(s.trying, now) {
			s.trying = time.Time{}
			return s.out.put(output{kind: outSendResponse, res: s.trying100()})
		}
	case Completed:
		if due(s.h, now) {
			s.terminate()
			return s.out.put(output{kind: outFail, err: &TimeoutError{Timer: "H", Waited: s.timers.H()}})
		}
		if due(s.g, now) {
			s.interval = min(2*s.interval, s.timers.T2) // §17.2.1
			s.g = now.Add(s.interval)
			return s.out.put(output{kind: outSendResponse, res: s.last})
		}
	case Confirmed:
		if due(s.i, now) {
			s.terminate()
		}
	case Accepted:
		if due(s.l, now) {
			s.terminate()
		}
	}
	return nil
}

func (s *serverInvite) response(now time.Time, res *sip.Response) []output {
	code := res.StatusCode
	switch s.state {
	case Proceeding:
		s.trying = time.Time{}
		s.last = res
		switch {
		case code < 200:
		case code < 300:
			s.state = Accepted
			s.l = now.Add(s.timers.L())
		default:
			s.state = Completed
			if !s.reliable {
				s.interval = s.timers.G()
				s.g = now.Add(s.interval)
			}
			s.h = now.Add(s.timers.H())
		}
		return s.out.put(output{kind: outSendResponse, res: res})
	case Accepted:
		// RFC 6026 §8.7: the TU's 2xx retransmissions go out; nothing
		// else does.
		if code >= 200 && code < 300 {
			s.last = res
			return s.out.put(output{kind: outSendResponse, res: res})
		}
	}
	return nil
}
