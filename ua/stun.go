package ua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/stun/v3"

	"github.com/dialtone/dialtone/transport"
)

// STUN (RFC 8489) on the SIP UDP socket: the transport hands us what it
// reads there whose first byte says STUN (RFC 7983); we send binding
// requests to a line's STUN server to learn the socket's public mapping,
// and to the registrar's address as RFC 5626 §4.4.2 keepalives.

// STUN settings.
const (
	// STUNRetransmit is the first retransmission interval of a STUN
	// binding request; it doubles for each retransmission (RFC 8489
	// §6.2.1 RTO, shortened to fit a registration's first attempt).
	STUNRetransmit = 500 * time.Millisecond
	// STUNAttempts is how many times a discovery request is sent before
	// the server is given up for this registration.
	STUNAttempts = 4
	// MaxSTUNPending bounds the STUN transactions a UA waits for at once;
	// past it the oldest is forgotten.
	MaxSTUNPending = 256
)

// ErrSymmetricNAT is the Err of an EventNATDetected for a NAT that maps the
// SIP socket to a different public port for each destination (RFC 4787
// address-and-port-dependent mapping): what STUN learns is of no use to
// others, so the line relies on the registrar's received/rport over its
// own flow, on keepalives, and on symmetric RTP at the peer (or its
// proxy's NAT handling) for media.
var ErrSymmetricNAT = errors.New("ua: symmetric NAT: the public mapping differs per destination")

// ErrSTUN: the line's STUN server did not answer or answered badly.
var ErrSTUN = errors.New("ua: STUN")

// stunPing is the state of a line's UDP keepalive.
type stunPing struct {
	id       [stun.TransactionIDSize]byte
	pending  bool // a keepalive request awaits its answer
	answered bool // the flow's peer has answered STUN: a missing answer means a dead flow
	missed   int
}

// stunClient matches STUN answers with their requests.
type stunClient struct {
	mu      sync.Mutex
	pending map[[stun.TransactionIDSize]byte]func(netip.AddrPort)
	order   [][stun.TransactionIDSize]byte
}

func (s *stunClient) add(id [stun.TransactionIDSize]byte, cb func(netip.AddrPort)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = make(map[[stun.TransactionIDSize]byte]func(netip.AddrPort))
	}
	for len(s.pending) >= MaxSTUNPending && len(s.order) > 0 {
		delete(s.pending, s.order[0])
		s.order = s.order[1:]
	}
	s.pending[id] = cb
	s.order = append(s.order, id)
}

func (s *stunClient) take(id [stun.TransactionIDSize]byte) func(netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.pending[id]
	if !ok {
		return nil
	}
	delete(s.pending, id)
	for i, x := range s.order {
		if x == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return cb
}

// stunSend sends a binding request from the UDP socket of f (f.Local; an
// invalid one picks the socket for f.Remote) to f.Remote; cb gets the
// mapped address of the answer, on a transport reader (it must not
// block).
func (u *UA) stunSend(f transport.Flow, cb func(netip.AddrPort)) ([stun.TransactionIDSize]byte, error) {
	return u.stunSendNoted(f, cb, nil)
}

// stunSendNoted is stunSend calling noted with the transaction ID before
// the request leaves, so that state about it is in place when the answer
// comes.
func (u *UA) stunSendNoted(f transport.Flow, cb func(netip.AddrPort), noted func([stun.TransactionIDSize]byte)) ([stun.TransactionIDSize]byte, error) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return [stun.TransactionIDSize]byte{}, fmt.Errorf("%w: %w", ErrSTUN, err)
	}
	u.stunc.add(m.TransactionID, cb)
	if noted != nil {
		noted(m.TransactionID)
	}
	if err := u.tp.SendDatagram(f, m.Raw); err != nil {
		u.stunc.take(m.TransactionID)
		return m.TransactionID, fmt.Errorf("%w: %w", ErrSTUN, err)
	}
	return m.TransactionID, nil
}

// onSTUN gets a STUN message read on a SIP UDP socket.
func (u *UA) onSTUN(_ transport.Flow, b []byte) {
	m := &stun.Message{Raw: b}
	if err := m.Decode(); err != nil || m.Type != stun.BindingSuccess {
		return
	}
	cb := u.stunc.take(m.TransactionID)
	if cb == nil {
		return
	}
	var ap netip.AddrPort
	var xa stun.XORMappedAddress
	if err := xa.GetFrom(m); err == nil {
		ap = addrPortFromIP(xa.IP, xa.Port)
	} else {
		var ma stun.MappedAddress
		if err := ma.GetFrom(m); err != nil {
			return
		}
		ap = addrPortFromIP(ma.IP, ma.Port)
	}
	if ap.IsValid() {
		cb(ap)
	}
}

func addrPortFromIP(ip net.IP, port int) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || port <= 0 || port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// stunServer resolves the line's STUN server ("host:port", port 3478 when
// missing).
func (l *Line) stunServer(ctx context.Context) (netip.AddrPort, error) {
	s := l.cfg.STUNServer
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "3478"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: server %q: bad port", ErrSTUN, s)
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: server %q: %v", ErrSTUN, s, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

// discover asks the line's STUN server for the public mapping of the UDP
// socket that sends to t, retransmitting from STUNRetransmit. It reports
// false when the server is unknown or silent.
func (l *Line) discover(ctx context.Context, t transport.Target) (netip.AddrPort, bool) {
	srv, err := l.stunServer(ctx)
	if err != nil {
		l.u.log.Warn("STUN server unusable", "server", l.cfg.STUNServer, "error", err.Error())
		return netip.AddrPort{}, false
	}
	_ = t // the socket is the one the transport picks for the server: the SIP socket
	got := make(chan netip.AddrPort, 1)
	cb := func(ap netip.AddrPort) {
		select {
		case got <- ap:
		default:
		}
	}
	rto := STUNRetransmit
	f := transport.Flow{Network: transport.UDP, Remote: srv}
	for range STUNAttempts {
		id, err := l.u.stunSend(f, cb)
		if err != nil {
			l.u.log.Warn("STUN request failed", "server", srv.String(), "error", err.Error())
			return netip.AddrPort{}, false
		}
		tm := time.NewTimer(rto)
		select {
		case ap := <-got:
			tm.Stop()
			l.mu.Lock()
			l.nat.mapped = ap
			l.mu.Unlock()
			return ap, true
		case <-ctx.Done():
			tm.Stop()
			l.u.stunc.take(id)
			return netip.AddrPort{}, false
		case <-tm.C:
			// Keep the old ID registered: a late answer still counts.
		}
		rto *= 2
	}
	l.u.log.Warn("STUN server did not answer", "server", srv.String())
	return netip.AddrPort{}, false
}
