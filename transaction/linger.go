package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// A server transaction that has sent its final response over an
// unreliable transport waits out 64·T1 only to absorb retransmissions: a
// non-INVITE one in Completed repeats its final response (Timer J, RFC
// 3261 §17.2.2), an INVITE one in Accepted swallows INVITE retransmissions
// and passes ACKs up (Timer L, RFC 6026 §8.7). At a few hundred calls a
// second that is tens of thousands of transactions at any time, so such a
// transaction trades its full state (machine, handler context, flow,
// heap item: about a kilobyte) for a tomb: its key, its final response as
// bytes (non-INVITE only), its To tag, and a place in a queue ordered by
// deadline. The serverTx itself stays reachable only from its handler,
// which may still send 2xx retransmissions through it (§13.3.1.4).
// Transactions with RFC 2543 keys keep their full state.

// tomb is what a lingering server transaction keeps.
type tomb struct {
	key      serverKey
	deadline time.Time
	final    []byte // non-INVITE: the final response to repeat
	tag      string // To tag of the responses, for a CANCEL's 200
	invite   bool
}

// tombQueue holds a shard's tombs in deadline order: every tomb lingers
// the same 64·T1 (rounded by the same slack), so they expire in the order
// they were made.
type tombQueue struct {
	q    []*tomb
	head int
}

func (q *tombQueue) push(t *tomb) {
	if n := len(q.q); n > q.head && t.deadline.Before(q.q[n-1].deadline) {
		t.deadline = q.q[n-1].deadline // keep the order; later is allowed
	}
	if q.head > 0 && q.head >= len(q.q)/2 {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	q.q = append(q.q, t)
}

// peek returns the earliest deadline.
func (q *tombQueue) peek() (time.Time, bool) {
	if q.head == len(q.q) {
		return time.Time{}, false
	}
	return q.q[q.head].deadline, true
}

// pop removes and returns the first tomb due at now, or nil.
func (q *tombQueue) pop(now time.Time) *tomb {
	if q.head == len(q.q) || q.q[q.head].deadline.After(now) {
		return nil
	}
	t := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return t
}

func (q *tombQueue) len() int { return len(q.q) - q.head }

// lingers reports whether t has only retransmissions left to absorb.
func (t *serverTx) lingers() bool {
	if t.key.legacy || t.ended || t.entombed {
		return false
	}
	switch m := t.m.(type) {
	case *serverNonInvite:
		return m.state == Completed && m.final != nil
	case *serverInvite:
		return m.state == Accepted
	}
	return false
}

// entomb replaces a lingering transaction by its tomb. Its handler's
// context ends now, with ErrTerminated: the transaction will not fail or
// end any other way.
func (s *shard) entomb(t *serverTx, now time.Time) {
	tb := &tomb{key: t.key.key, deadline: s.slack(t.m.deadline(), now), tag: t.lastTag}
	if n, ok := t.m.(*serverNonInvite); ok {
		tb.final = n.final
	} else {
		tb.invite = true
	}
	if cur, ok := s.servers[t.key.key]; ok && cur == t {
		delete(s.servers, t.key.key)
	}
	s.heap.Remove(&t.item)
	s.tombs[tb.key] = tb
	s.tombQ.push(tb)
	t.entombed = true
	t.lingerEnd.Store(tb.deadline.UnixNano())
	t.m, t.invite = nil, nil
	if !tb.invite {
		t.done.Store(true) // nothing more can be sent through it
	}
	t.cancel(ErrTerminated)
}

// expireTombs removes the tombs due at now.
func (s *shard) expireTombs(now time.Time) {
	for tb := s.tombQ.pop(now); tb != nil; tb = s.tombQ.pop(now) {
		if cur, ok := s.tombs[tb.key]; ok && cur == tb {
			delete(s.tombs, tb.key)
		}
		s.l.release()
	}
}

// clearTombs drops every tomb when the layer closes.
func (s *shard) clearTombs() {
	for s.tombQ.len() > 0 {
		s.tombQ.pop(time.Unix(1<<62, 0))
		s.l.release()
	}
	clear(s.tombs)
}

// tombRequest handles a retransmitted request that matches a tomb:
// a non-INVITE one gets the final response again, an INVITE one is
// absorbed.
func (s *shard) tombRequest(tb *tomb, req *sip.Request, f transport.Flow) {
	if tb.final == nil {
		return
	}
	res := parseFinal(tb.final)
	if res == nil {
		return
	}
	if err := s.l.cfg.Sender.SendResponse(s.l.ctx, res, f); err != nil {
		s.l.debug("repeating a final response failed", req)
	}
}

// respondEntombed sends a 2xx retransmission of the TU through an INVITE
// transaction in Accepted that has become a tomb (RFC 6026 §8.7: the
// transaction passes them to the transport). Other responses are dropped,
// as Accepted drops them.
func (s *shard) respondEntombed(t *serverTx, res *sip.Response) error {
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		return nil
	}
	if err := s.l.cfg.Sender.SendResponse(s.l.ctx, res, t.flow); err != nil {
		return &TransportError{Err: err}
	}
	return nil
}
