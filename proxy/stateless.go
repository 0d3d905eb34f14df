package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// StatelessTimeout bounds the resolution and send of one statelessly
// forwarded ACK.
const StatelessTimeout = 5 * time.Second

// HandleDirect implements transaction.Handler: an ACK for a 2xx is a
// transaction of its own that the proxy forwards statelessly, end to end
// (RFC 3261 §16.11 via §13.2.2.4); it runs on a short goroutine of the
// Server (at most MaxStateless at once), since resolving and sending may
// block. Responses that match no client transaction (a 2xx retransmitted
// after Timer M) are dropped: the UAS retransmits to the caller's ACK.
func (s *Server) HandleDirect(in transport.Incoming) {
	req, ok := in.Msg.(*sip.Request)
	if !ok || req.Method != sip.ACK {
		s.log.Debug("proxy: stray message dropped", "msg", sip.Short(in.Msg))
		return
	}
	s.goStateless("ACK", req.CallID(), func() { s.forwardACK(req) })
}

// goStateless runs f on a short goroutine of the Server, one of at most
// MaxStateless at once; beyond that, or once the Server is closing, what
// f would forward is dropped (and said so for the limit).
func (s *Server) goStateless(what, callID string, f func()) {
	select {
	case s.sem <- struct{}{}:
	default:
		s.log.Warn("proxy: too many stateless forwards; "+what+" dropped", "call_id", callID)
		return
	}
	if !s.g.Go(func() {
		defer func() { <-s.sem }()
		f()
	}) {
		<-s.sem
	}
}

// forwardACK sends an ACK for a 2xx on toward its Route or Request-URI.
func (s *Server) forwardACK(in *sip.Request) {
	ctx, cancel := context.WithTimeout(s.ctx, StatelessTimeout)
	defer cancel()
	req := in.Clone()
	routed, dest, err := s.preprocessRoute(req)
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
	routes, _ := req.Routes()
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
	hops, err := s.nextHops(ctx, req, target{uri: req.URI, dest: dest})
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
