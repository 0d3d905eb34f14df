package transaction

import "time"

// Default values of the RFC 3261 base timers (§17.1.1.1, table 4).
const (
	// DefaultT1 is the RTT estimate, 500 ms.
	DefaultT1 = 500 * time.Millisecond
	// DefaultT2 is the longest retransmission interval for non-INVITE
	// requests and INVITE responses, 4 s.
	DefaultT2 = 4 * time.Second
	// DefaultT4 is the longest time a message stays in the network, 5 s.
	DefaultT4 = 5 * time.Second
	// TryingDelay is how long an INVITE server transaction waits for the
	// transaction user to answer before it sends 100 Trying itself
	// (RFC 3261 §17.2.1).
	TryingDelay = 200 * time.Millisecond
	// minTimerD is the lower bound of Timer D over unreliable transports
	// (RFC 3261 §17.1.1.2: "at least 32 seconds").
	minTimerD = 32 * time.Second
)

// Timers holds the base timers of RFC 3261 §17 (table 4). A zero field
// means its default: T1 500 ms, T2 4 s, T4 5 s. The other timers derive
// from these through the methods below, which apply the defaults
// themselves, so the zero Timers is ready to use.
type Timers struct {
	// T1 is the round-trip time estimate (§17.1.1.1).
	T1 time.Duration
	// T2 is the maximum retransmit interval for non-INVITE requests and
	// INVITE responses (§17.1.2.2).
	T2 time.Duration
	// T4 is the maximum duration a message remains in the network
	// (§17.1.2.2).
	T4 time.Duration
}

// withDefaults returns t with zero fields replaced by their defaults.
func (t Timers) withDefaults() Timers {
	if t.T1 <= 0 {
		t.T1 = DefaultT1
	}
	if t.T2 <= 0 {
		t.T2 = DefaultT2
	}
	if t.T4 <= 0 {
		t.T4 = DefaultT4
	}
	return t
}

func (t Timers) t1() time.Duration { return t.withDefaults().T1 }
func (t Timers) t4() time.Duration { return t.withDefaults().T4 }

// A is the initial INVITE retransmission interval, T1; it doubles after
// each retransmission (RFC 3261 §17.1.1.2). Unreliable transports only.
func (t Timers) A() time.Duration { return t.t1() }

// B is the INVITE client transaction timeout, 64·T1 (RFC 3261 §17.1.1.2).
func (t Timers) B() time.Duration { return 64 * t.t1() }

// D is how long an INVITE client transaction waits in Completed for
// retransmitted final responses: at least 32 s (here max(32 s, 64·T1)) over
// unreliable transports, zero over reliable ones (RFC 3261 §17.1.1.2).
func (t Timers) D(reliable bool) time.Duration {
	if reliable {
		return 0
	}
	return max(minTimerD, 64*t.t1())
}

// E is the initial non-INVITE retransmission interval, T1; it doubles up to
// T2 in Trying and is T2 in Proceeding (RFC 3261 §17.1.2.2). Unreliable
// transports only.
func (t Timers) E() time.Duration { return t.t1() }

// F is the non-INVITE client transaction timeout, 64·T1
// (RFC 3261 §17.1.2.2).
func (t Timers) F() time.Duration { return 64 * t.t1() }

// G is the initial INVITE final response retransmission interval, T1; it
// doubles up to T2 (RFC 3261 §17.2.1). Unreliable transports only.
func (t Timers) G() time.Duration { return t.t1() }

// H is how long an INVITE server transaction waits for the ACK, 64·T1
// (RFC 3261 §17.2.1).
func (t Timers) H() time.Duration { return 64 * t.t1() }

// I is how long an INVITE server transaction absorbs ACK retransmissions
// in Confirmed: T4 over unreliable transports, zero over reliable ones
// (RFC 3261 §17.2.1).
func (t Timers) I(reliable bool) time.Duration {
	if reliable {
		return 0
	}
	return t.t4()
}

// J is how long a non-INVITE server transaction absorbs request
// retransmissions in Completed: 64·T1 over unreliable transports, zero over
// reliable ones (RFC 3261 §17.2.2).
func (t Timers) J(reliable bool) time.Duration {
	if reliable {
		return 0
	}
	return 64 * t.t1()
}

// K is how long a non-INVITE client transaction absorbs response
// retransmissions in Completed: T4 over unreliable transports, zero over
// reliable ones (RFC 3261 §17.1.2.2).
func (t Timers) K(reliable bool) time.Duration {
	if reliable {
		return 0
	}
	return t.t4()
}

// L is how long an INVITE server transaction stays in Accepted after a
// 2xx, 64·T1 (RFC 6026 §8.7).
func (t Timers) L() time.Duration { return 64 * t.t1() }

// M is how long an INVITE client transaction stays in Accepted after a
// 2xx, 64·T1 (RFC 6026 §8.4).
func (t Timers) M() time.Duration { return 64 * t.t1() }
