package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// HandleDirect implements transaction.Handler: an ACK for a 2xx is a
// transaction of its own that the proxy forwards statelessly, end to end
// (RFC 3261 §16.11 via §13.2.2.4): on the delivering goroutine when its
// next hop is an IP address over UDP and no earlier ACK of the call is
// still on its way, else on a short goroutine of the Server (at most
// MaxStateless at once), since resolving and sending may block. The ACKs
// of one call are forwarded in the order they came, and a request of the
// call that comes after one (a BYE sent right after the ACK) waits until
// it is sent (waitACKs), so that it cannot overtake it.
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
	if prev == nil && s.forwardACKNow(req) {
		finish()
		return
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

// ackPending reports whether an ACK of req's call is being forwarded,
// which req, in a dialog, must wait for (waitACKs).
func (s *Server) ackPending(req *sip.Request) bool {
	s.acksMu.Lock()
	n := len(s.acks)
	s.acksMu.Unlock()
	if n == 0 || !inDialog(req) {
		return false
	}
	s.acksMu.Lock()
	defer s.acksMu.Unlock()
	return s.acks[req.CallID()] != nil
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

// forwardACK sends an ACK for a 2xx on toward its Route or Request-URI,
// resolving it by DNS if need be.
func (s *Server) forwardACK(in *sip.Request) {
	req, top, dest, ok := s.prepareACK(in)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StatelessTimeout)
	defer cancel()
	hops, err := s.nextHops(ctx, req.URI, top, dest)
	if err != nil || len(hops) == 0 {
		s.log.Debug("proxy: ACK not forwarded", "uri", req.URI.String(), "err", err)
		return
	}
	s.sendACK(ctx, req, hops[0])
}

// forwardACKNow forwards an ACK for a 2xx on the calling goroutine when
// that cannot block (its next hop is an IP address over UDP), or drops
// it when it is not to be forwarded; it reports whether it did either.
func (s *Server) forwardACKNow(in *sip.Request) bool {
	req, top, dest, ok := s.prepareACK(in)
	if !ok {
		return true
	}
	hops, ok := s.numericHops(req.URI, top, dest)
	if !ok || hops[0].Network != transport.UDP {
		return false
	}
	s.sendACK(s.ctx, req, hops[0])
	return true
}

// sendACK sends a prepared ACK to hop.
func (s *Server) sendACK(ctx context.Context, req *sip.Request, hop transport.Target) {
	if _, err := s.tp.SendRequest(ctx, req, hop); err != nil {
		s.log.Debug("proxy: ACK not forwarded", "uri", req.URI.String(), "err", err)
	}
}

// prepareACK readies our copy of an ACK for a 2xx for forwarding (Route
// pre-processing, Max-Forwards, our Via), and returns where it goes: its
// first Route left, or the flow of our Record-Route's token. ok is false
// when it is not ours to forward.
func (s *Server) prepareACK(in *sip.Request) (req *sip.Request, top *sip.URI, dest *transport.Target, ok bool) {
	req = in.Clone()
	routed, dest, routes, err := s.preprocessRoute(req)
	if err != nil || !routed {
		// Not routed to us: no dialog of ours (RFC 3261 §16.4), so not
		// ours to relay.
		s.log.Debug("proxy: ACK without our Route dropped", "uri", req.URI.String())
		return nil, nil, nil, false
	}
	mf := sip.DefaultMaxForwards
	if req.Header("Max-Forwards") != "" {
		n, err := req.MaxForwards()
		if err != nil || n <= 0 {
			return nil, nil, nil, false
		}
		mf = n - 1
	}
	req.Set("Max-Forwards", strconv.Itoa(mf))
	if len(routes) == 0 && s.ourURI(req.URI) {
		s.log.Debug("proxy: ACK for ourselves dropped", "uri", req.URI.String())
		return nil, nil, nil, false
	}
	// The branch of a stateless forward is a function of the incoming
	// one, so a retransmitted ACK gets the same (RFC 3261 §16.11).
	v, err := req.TopVia()
	if err != nil {
		return nil, nil, nil, false
	}
	sum := sha256.Sum256([]byte(v.Branch() + "\x00" + v.SentBy()))
	req.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.MagicCookie+"dt"+s.id+".ack."+hex.EncodeToString(sum[:10]))
	if len(routes) > 0 {
		top = &routes[0].URI
	}
	return req, top, dest, true
}
