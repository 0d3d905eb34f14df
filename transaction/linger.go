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
// bytes (non-INVITE only) and its To tag, kept as one record in the
// shard's tombStore, which expires them in deadline order. The serverTx
// itself stays reachable only from its handler, which may still send 2xx
// retransmissions through it (§13.3.1.4).
// Transactions with RFC 2543 keys keep their full state.

// lingers reports whether t has only retransmissions left to absorb.
func (t *serverTx) lingers() bool {
	if t.key.legacy || t.ended || t.entombed {
		return false
	}
	switch m := t.m.(type) {
	case *serverNonInvite:
		return m.state == Completed && (m.last != nil || m.final != nil)
	case *serverInvite:
		return m.state == Accepted
	}
	return false
}

// entomb replaces a lingering transaction by its tomb. Its handler's
// context ends now, with ErrTerminated: the transaction will not fail or
// end any other way. false means it could not be entombed and keeps its
// full state.
func (s *shard) entomb(t *serverTx, now time.Time) bool {
	var final []byte
	n, nonInvite := t.m.(*serverNonInvite)
	if nonInvite {
		final = n.final
		if n.last != nil {
			var scratch [1024]byte
			final = n.last.AppendTo(scratch[:0])
		}
	}
	d, ok := s.tombs.add(t.key.key, s.slack(t.m.deadline(), now), t.lastTag, !nonInvite, final)
	if !ok {
		return false
	}
	if cur, ok := s.servers[t.key.key]; ok && cur == t {
		delete(s.servers, t.key.key)
	}
	s.heap.Remove(&t.item)
	t.entombed = true
	t.lingerEnd.Store(d.UnixNano())
	t.m, t.invite = nil, nil
	if nonInvite {
		t.done.Store(true) // nothing more can be sent through it
	}
	t.hctx.end(ErrTerminated)
	return true
}

// expireTombs removes the tombs due at now.
func (s *shard) expireTombs(now time.Time) {
	for ns := now.UnixNano(); s.tombs.pop(ns); {
		s.l.release()
	}
}

// clearTombs drops every tomb when the layer closes.
func (s *shard) clearTombs() {
	for range s.tombs.len() {
		s.l.release()
	}
	s.tombs.reset()
}

// tombRequest handles a retransmitted request that matches a tomb:
// a non-INVITE one gets the final response again, an INVITE one is
// absorbed.
func (s *shard) tombRequest(tb tombRef, req *sip.Request, f transport.Flow) {
	if len(tb.final) == 0 {
		return
	}
	res := parseFinal(tb.final) // a copy: the record may be reused
	if res == nil {
		return
	}
	if err := s.l.t.SendResponse(s.l.ctx, res, f); err != nil {
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
	if err := s.l.t.SendResponse(s.l.ctx, res, t.flow); err != nil && !lost(err, t.flow) {
		return &TransportError{Err: err}
	}
	return nil
}
