package dialog

import "time"

// AckWait is the UAS core's wait for the ACK of its 2xx to an INVITE (RFC
// 3261 §13.3.1.4): the 2xx is retransmitted from T1, the interval doubling
// up to T2, until the ACK arrives; 64·T1 after the 2xx was first sent the
// wait gives up, and the UAS confirms the dialog and ends it with BYE.
//
// It is a pure machine like the transaction layer's: no clock, no timer,
// no goroutine, no lock. Its owner arms a timer for Next, calls Step when
// that time has come, and does what Step returns; Ack ends the wait.
type AckWait struct {
	seq      uint32
	interval time.Duration
	t2       time.Duration
	next     time.Time
	deadline time.Time
	done     bool
}

// AckWaitAction is what the owner of an AckWait does after a Step.
type AckWaitAction uint8

// The actions.
const (
	// AckWaitNone: nothing is due.
	AckWaitNone AckWaitAction = iota
	// AckWaitRetransmit: send the 2xx again.
	AckWaitRetransmit
	// AckWaitGiveUp: no ACK came within 64·T1: end the dialog with BYE.
	AckWaitGiveUp
)

// NewAckWait starts the wait for the ACK of the 2xx sent at now to the
// INVITE with CSeq number seq, with the RFC 3261 timers t1 and t2.
func NewAckWait(now time.Time, seq uint32, t1, t2 time.Duration) AckWait {
	return AckWait{seq: seq, interval: t1, t2: t2, next: now.Add(t1), deadline: now.Add(64 * t1)}
}

// Seq is the CSeq number of the INVITE whose ACK is awaited.
func (a *AckWait) Seq() uint32 { return a.seq }

// Next returns when Step is next due, and false once the wait is over
// (acknowledged or given up).
func (a *AckWait) Next() (time.Time, bool) {
	if a.done {
		return time.Time{}, false
	}
	return a.next, true
}

// Step advances the wait to now. At or after the deadline it gives up;
// at or after the next retransmission time it asks for one and schedules
// the following one, the interval doubled up to T2 and never past the
// deadline; before that, or once the wait is over, it asks for nothing.
func (a *AckWait) Step(now time.Time) AckWaitAction {
	switch {
	case a.done || now.Before(a.next):
		return AckWaitNone
	case !now.Before(a.deadline):
		a.done = true
		return AckWaitGiveUp
	}
	a.interval = min(2*a.interval, a.t2)
	a.next = now.Add(min(a.interval, a.deadline.Sub(now)))
	return AckWaitRetransmit
}

// Ack takes an ACK with CSeq number seq. It reports whether that ACK ends
// the wait: it must match the INVITE's CSeq and the wait must not be over.
func (a *AckWait) Ack(seq uint32) bool {
	if a.done || seq != a.seq {
		return false
	}
	a.done = true
	return true
}
