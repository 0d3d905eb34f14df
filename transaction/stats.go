package transaction

import "sync/atomic"

// Stats counts what the layer did since New, for a host's metrics.
type Stats struct {
	// Live is the number of live transactions (Len).
	Live int
	// RetransmitsSent counts requests sent again by Timers A and E
	// (client side) and final responses sent again by Timer G (INVITE
	// server side).
	RetransmitsSent uint64
	// RetransmitsReceived counts retransmitted requests absorbed by a
	// server transaction, live or lingering (§17.2.1, §17.2.2).
	RetransmitsReceived uint64
}

type txCounters struct {
	rtxSent, rtxReceived atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (l *Layer) Stats() Stats {
	return Stats{
		Live:                l.Len(),
		RetransmitsSent:     l.st.rtxSent.Load(),
		RetransmitsReceived: l.st.rtxReceived.Load(),
	}
}
