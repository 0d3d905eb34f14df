package ua

import (
	"errors"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Stats is a snapshot of what a user agent did since New and what it holds
// now: the figures an operator graphs (calls in progress, calls per second
// as the rate of a counter, failures by status, retransmissions, live
// transactions, malformed input dropped, RTP loss). UA.Stats returns it;
// it costs a few atomic loads and one pass over the live calls, so a
// metrics scrape every few seconds is cheap. Counters only grow; the
// examples export them to Prometheus (-metrics).
type Stats struct {
	// CallsActive is the number of calls being set up (outgoing) or
	// established (Calls); CallsRinging the incoming calls waiting for the
	// host's final answer.
	CallsActive, CallsRinging int
	// CallsIncoming counts initial INVITEs received (refused ones too),
	// CallsOutgoing the calls placed with Dial, CallsEstablished the calls
	// of either direction that got their 2xx.
	CallsIncoming, CallsOutgoing, CallsEstablished uint64
	// Failures counts calls that ended without being established, by the
	// final status: the one the UA sent to an INVITE it refused (re-INVITE
	// refusals included), or the one a Dial received. Status 0 counts
	// dials that got no final response (timeout, transport error,
	// canceled). The map is the caller's own copy.
	Failures map[int]uint64
	// Transactions are the transaction layer's figures: live transactions
	// and retransmissions sent and absorbed.
	Transactions transaction.Stats
	// Transport are the transport layer's counters, among them the
	// malformed messages dropped (MalformedDatagrams, MalformedStream)
	// and the 400s answered to them (BadRequestsSent).
	Transport transport.Stats
	// RTP sums the media sessions of every call, ended or live.
	RTP RTPStats
}

// RTPStats sums RTP sessions' counters (RFC 3550 §6.4.1).
type RTPStats struct {
	// Sessions counts the media sessions summed.
	Sessions uint64
	// PacketsReceived counts valid RTP packets received; PacketsLost the
	// peer's packets that never arrived (negative contributions, from
	// duplicates, included).
	PacketsReceived uint64
	PacketsLost     int64
}

// metrics are the UA's own counters behind Stats.
type metrics struct {
	incoming, outgoing, established atomic.Uint64

	mu       sync.Mutex
	failures map[int]uint64

	// ended sums the media of calls that have ended; guarded by UA.mu,
	// taken in the same critical section that removes the call from the
	// UA's tables, so that a snapshot counts every session once.
	ended RTPStats
}

// failed counts a call that ended with status (0: no final response).
func (m *metrics) failed(status int) {
	m.mu.Lock()
	if m.failures == nil {
		m.failures = make(map[int]uint64)
	}
	m.failures[status]++
	m.mu.Unlock()
}

// responded counts a final non-2xx the UA sends to an INVITE.
func (m *metrics) responded(res *sip.Response) {
	if res.StatusCode < 300 {
		return
	}
	if cs, err := res.CSeq(); err == nil && cs.Method == sip.INVITE {
		m.failed(res.StatusCode)
	}
}

// dialFailed counts a Dial that ended with err.
func (m *metrics) dialFailed(err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Response != nil {
		m.failed(se.Response.StatusCode)
		return
	}
	m.failed(0)
}

// addMedia adds a session's counters to sum.
func addMedia(sum *RTPStats, s *rtp.Session) {
	if s == nil {
		return
	}
	st := s.Stats()
	sum.Sessions++
	sum.PacketsReceived += st.PacketsReceived
	sum.PacketsLost += st.PacketsLost
}

// endMedia adds an ending call's media to the ended sum; u.mu is held.
func (u *UA) endMedia(c *Call) { addMedia(&u.met.ended, c.Media()) }

// Stats returns a snapshot of the user agent's counters.
func (u *UA) Stats() Stats {
	st := Stats{
		CallsActive:      u.Calls(),
		CallsIncoming:    u.met.incoming.Load(),
		CallsOutgoing:    u.met.outgoing.Load(),
		CallsEstablished: u.met.established.Load(),
		Transactions:     u.tx.Stats(),
		Transport:        u.tp.Stats(),
	}
	u.met.mu.Lock()
	st.Failures = maps.Clone(u.met.failures)
	u.met.mu.Unlock()
	if st.Failures == nil {
		st.Failures = map[int]uint64{}
	}
	u.mu.Lock()
	st.CallsRinging = len(u.incoming)
	st.RTP = u.met.ended
	for _, c := range u.calls {
		addMedia(&st.RTP, c.Media())
	}
	for c := range u.setup {
		addMedia(&st.RTP, c.Media())
	}
	u.mu.Unlock()
	return st
}
