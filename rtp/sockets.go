package rtp

import (
	"context"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/internal/rtpsock"
	"github.com/dialtone/dialtone/rtp/dtmf"

	pionrtp "github.com/pion/rtp"
)

// sockets are the sockets of one session (internal/rtpsock) with the port
// they hold in their PortAllocator.
type sockets struct {
	*rtpsock.Pair
	port     int
	alloc    *PortAllocator
	released bool
}

// openSockets binds the sockets of a session from alloc.
func openSockets(ctx context.Context, alloc *PortAllocator, addr netip.Addr, mux bool) (*sockets, error) {
	p, port, err := allocatePorts(ctx, alloc, addr, mux, rtpsock.Bind)
	if err != nil {
		return nil, err
	}
	return &sockets{Pair: p, port: port, alloc: alloc}, nil
}

// start starts the readers of the sockets where they have their own (see
// rtpsock.Pair.Start); on raw sockets the engine worker reads them at each
// tick instead.
func (k *sockets) start(s *Session) {
	k.Start(func() rtpsock.Receiver { return &sessionReceiver{s: s} })
}

// receive hands s what arrived on its sockets since its last tick; the
// worker calls it at each tick, before the tick itself.
func (k *sockets) receive(s *Session, sc *recvScratch, now time.Time) {
	sc.rx.s = s
	k.Receive(&sc.rx, &sc.Scratch, now)
	sc.rx.s = nil
}

// close closes the sockets and releases the port; it is idempotent. The
// session has left its worker, so nothing reads them any more.
func (k *sockets) close() error {
	err := k.Close()
	if !k.released {
		k.released = true
		k.alloc.release(k.port)
	}
	return err
}

// recvScratch is a worker's receive memory, shared by the sessions it
// drives: one read batch and the parsing scratch.
type recvScratch struct {
	rtpsock.Scratch
	rx sessionReceiver
}

// sessionReceiver hands a session the datagrams its sockets read, with the
// parsing scratch of the reader (a worker, or one reader goroutine).
type sessionReceiver struct {
	s      *Session
	h      pionrtp.Header
	digits []dtmf.Digit
}

// Datagram implements rtpsock.Receiver.
func (r *sessionReceiver) Datagram(pkt []byte, from netip.AddrPort, arrival time.Time, rtcpOnly bool) {
	s := r.s
	if isSTUN(pkt) {
		s.handleSTUN(pkt, from, rtcpOnly)
		return
	}
	if isDTLS(pkt) {
		s.handleDTLS(pkt, from, rtcpOnly)
		return
	}
	s.traceIn(arrival, rtcpOnly, from, pkt)
	rtcp := rtcpOnly || isRTCP(pkt)
	pkt, ok := s.unprotect(pkt, rtcp)
	if !ok {
		return
	}
	if rtcp {
		s.handleRTCP(pkt, from, arrival)
		return
	}
	r.digits = s.handleRTP(&r.h, pkt, from, arrival, r.digits[:0])
	s.deliverDTMF(r.digits)
}

// ReadError implements rtpsock.Receiver.
func (r *sessionReceiver) ReadError() { r.s.readErrors.Add(1) }
