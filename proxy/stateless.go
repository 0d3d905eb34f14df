package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// HandleDirect implements transaction.Handler: an ACK for a 2xx is a
// transaction of its own that the proxy forwards statelessly, end to end
// (RFC 3261 §16.11 via §13.2.2.4); it runs on a short goroutine of the
// Server (at most MaxStateless at once), since resolving and sending may
// block. The ACKs of one call are forwarded in the order they came, and a
// request of the call that comes after one (a BYE sent right after the
// ACK) waits until it is sent (waitACKs), so that it cannot overtake it.
// Responses that match no client transaction (a 2xx retransmitted after
// Timer M) are dropped: the UAS retransmits to the caller's ACK.
func (s *Server) HandleDirect(in transport.Incoming) {
	req, ok := in.Msg.(*sip.Request)
	if !ok || req.Method != sip.ACK {
		s.log.Debug("proxy: stray message dropped", "msg", sip.Short(in.Msg))
		return
	}
	callID := req.CallID()
	done := make(chan struct{})
	s.acksMu.Lock()
	prev := s.acks[callID]
	s.acks[callID] = done
	s.acksMu.Unlock()
	finish := func() {
		close(done)
		s.acksMu.Lock()
		if s.acks[callID] == done {
			delete(s.acks, callID)
		}
		s.acksMu.Unlock()
	}
	if !s.goStateless("ACK", callID, func() {
		defer finish()
		if prev != nil {
			select {
			case <-prev:
			case <-s.ctx.Done():
				return
			}
		}
		s.forwardACK(req)
	}) {
		finish()
	}
}

// waitACKs returns once the ACKs of call callID that arrived before it
// was called have been forwarded (or given up on, within
// StatelessTimeout each), or when ctx ends.
func (s *Server) waitACKs(ctx context.Context, callID string) {
	s.acksMu.Lock()
	ch := s.acks[callID]
	s.acksMu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// goStateless runs f on a short goroutine of the Server, one of at most
// MaxStateless at once, and reports whether it did; beyond that, or once
// the Server is closing, what f would forward is dropped (and said so for
// the limit).
func (s *Server) goStateless(what, callID string, f func()) bool {
	select {
	case s.sem <- struct{}{}:
	default:
		s.log.Warn("proxy: too many stateless forwards; "+what+" dropped", "call_id", callID)
		return false
	}
	if !s.g.Go(func() {
		defer func() { <-s.sem }()
		f()
	}) {
		<-s.sem
		return false
	}
	return true
}

// forwardACK sends an ACK for a 2xx on toward its Route or Request-URI.
func (s *Server) forwardACK(in *sip.Request) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StatelessTimeout)
	defer cancel()
	req := in.Clone()
	routed, dest, routes, err := s.preprocessRoute(req)
	if err != nil || !routed {
		// Not routed to us: no dialog of ours (RFC 3261 §16.4), so not
		// ours to relay.
		s.log.Debug("proxy: ACK without our Route dropped", "uri", req.URI.String())
		return
	}
	mf := sip.DefaultMaxForwards
	if req.Header("Max-Forwards") != "" {
		n, err := req.MaxForwards()
		if err != nil || n <= 0 {
			return
		}
		mf = n - 1
	}
	req.Set("Max-Forwards", strconv.Itoa(mf))
	if len(routes) == 0 && s.ourURI(req.URI) {
		s.log.Debug("proxy: ACK for ourselves dropped", "uri", req.URI.String())
		return
	}
	// The branch of a stateless forward is a function of the incoming
	// one, so a retransmitted ACK gets the same (RFC 3261 §16.11).
	v, err := req.TopVia()
	if err != nil {
		return
	}
	sum := sha256.Sum256([]byte(v.Branch() + "\x00" + v.SentBy()))
	req.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.MagicCookie+"dt"+s.id+".ack."+hex.EncodeToString(sum[:10]))
	var top *sip.URI
	if len(routes) > 0 {
		top = &routes[0].URI
	}
	hops, err := s.nextHops(ctx, req.URI, top, dest)
	if err != nil || len(hops) == 0 {
		s.log.Debug("proxy: ACK not forwarded", "uri", req.URI.String(), "err", err)
		return
	}
	if _, err := s.tp.SendRequest(ctx, req, hops[0]); err != nil {
		s.log.Debug("proxy: ACK not forwarded", "uri", req.URI.String(), "err", err)
	}
}

// forwardLate sends upstream a 2xx that came after the first one of a
// branch (a retransmission, or another fork's answer, RFC 6026 §8.4)
// through the server transaction w, which accepts 2xx until Timer L. It
// runs under the client transaction's lock (ClientTx.Detach), so the send
// happens on a short goroutine of the Server, within MaxStateless.
func (s *Server) forwardLate(w transaction.ResponseWriter, r *sip.Response) {
	if !r.IsSuccess() {
		return
	}
	s.goStateless("2xx", r.CallID(), func() {
		res := r.Clone()
		res.PopVia()
		if err := w.Respond(res); err != nil {
			s.log.Debug("proxy: late 2xx not forwarded", "call_id", res.CallID(), "err", err)
		}
	})
}
