package rtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v3"
)

// STUN on the media sockets (RFC 8489): a session asks a STUN server for
// the public mapping of its RTP and RTCP sockets, so that the SDP can
// announce where a NAT's outside really reaches them. The answers arrive on
// the media sockets among RTP and RTCP; the first byte tells them apart
// (RFC 7983 §7: 0-3 is STUN, 128-191 RTP and RTCP), and the session
// consumes them.

// STUN settings of a session.
const (
	// STUNRetransmit is the first retransmission interval of a binding
	// request sent from a media socket; it doubles for each
	// retransmission until the caller's context ends. It is shorter than
	// RFC 8489 §6.2.1's 500 ms because the wait delays a call's offer or
	// answer, which the caller bounds (ua.MediaConfig.STUNTimeout).
	STUNRetransmit = 100 * time.Millisecond
	// MaxSTUNPending bounds the binding requests a session waits for
	// answers to at once; DiscoverMapping past it fails.
	MaxSTUNPending = 32
)

// ErrSTUN reports a DiscoverMapping that learnt nothing: the server did not
// answer before the context ended, or could not be asked.
var ErrSTUN = errors.New("rtp: STUN")

// Mapping is the public side of a session's sockets as a STUN server saw
// them: RTP is the RTP socket's mapped address; RTCP the RTCP socket's
// (equal to RTP with rtcp-mux, when the session has one socket).
type Mapping struct {
	RTP, RTCP netip.AddrPort
}

// stunWaits matches binding answers read on the media sockets with the
// requests DiscoverMapping sent.
type stunWaits struct {
	mu      sync.Mutex
	pending map[[stun.TransactionIDSize]byte]stunWait
}

type stunWait struct {
	server netip.AddrPort
	rtcp   bool // asked from the RTCP socket
	got    chan<- stunAnswer
}

type stunAnswer struct {
	rtcp   bool
	mapped netip.AddrPort
}

// DiscoverMapping sends STUN binding requests to server from the session's
// RTP socket and, when it has a separate one, its RTCP socket,
// retransmitting from STUNRetransmit, and returns what the server saw.
// ctx bounds the wait: when it ends before both sockets are answered the
// error wraps ErrSTUN (and the context's error). A closed session gives
// ErrSessionClosed.
func (s *Session) DiscoverMapping(ctx context.Context, server netip.AddrPort) (Mapping, error) {
	if !server.IsValid() {
		return Mapping{}, fmt.Errorf("%w: no server address", ErrSTUN)
	}
	twoSockets := s.socks.HasRTCP()
	got := make(chan stunAnswer, 2*MaxSTUNPending)
	var ids [][stun.TransactionIDSize]byte
	defer func() { s.stun.forget(ids) }()

	var m Mapping
	haveRTP, haveRTCP := false, !twoSockets
	rto := STUNRetransmit
	tm := time.NewTimer(0)
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return Mapping{}, fmt.Errorf("%w: %v: no answer from %v: %w", ErrSTUN, s.LocalAddr(), server, ctx.Err())
		case a := <-got:
			if a.rtcp {
				m.RTCP, haveRTCP = a.mapped, true
			} else {
				m.RTP, haveRTP = a.mapped, true
			}
			if haveRTP && haveRTCP {
				if !twoSockets {
					m.RTCP = m.RTP
				}
				return m, nil
			}
		case <-tm.C:
			for _, rtcp := range []bool{false, true} {
				if (!rtcp && haveRTP) || (rtcp && haveRTCP) {
					continue
				}
				id, err := s.sendBinding(server, rtcp, got)
				if err != nil {
					return Mapping{}, err
				}
				ids = append(ids, id)
			}
			tm.Reset(rto)
			rto *= 2
		}
	}
}

// sendBinding sends one binding request to server from the RTP or RTCP
// socket, registered to answer on got.
func (s *Session) sendBinding(server netip.AddrPort, rtcp bool, got chan<- stunAnswer) ([stun.TransactionIDSize]byte, error) {
	msg, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return [stun.TransactionIDSize]byte{}, fmt.Errorf("%w: %w", ErrSTUN, err)
	}
	if err := s.stun.add(msg.TransactionID, stunWait{server: server, rtcp: rtcp, got: got}); err != nil {
		return msg.TransactionID, err
	}
	// s.mu orders the send before Close closes the sockets; the worker's
	// reads and sends go on beside it (a socket send is safe alongside).
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return msg.TransactionID, ErrSessionClosed
	}
	if err := s.socks.Send(msg.Raw, server, rtcp); err != nil {
		return msg.TransactionID, fmt.Errorf("%w: %w", ErrSTUN, err)
	}
	return msg.TransactionID, nil
}

func (w *stunWaits) add(id [stun.TransactionIDSize]byte, sw stunWait) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) >= MaxSTUNPending {
		return fmt.Errorf("%w: more than MaxSTUNPending (%d) requests pending", ErrSTUN, MaxSTUNPending)
	}
	if w.pending == nil {
		w.pending = make(map[[stun.TransactionIDSize]byte]stunWait)
	}
	w.pending[id] = sw
	return nil
}

func (w *stunWaits) forget(ids [][stun.TransactionIDSize]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		delete(w.pending, id)
	}
}

// isSTUN tells a STUN message from RTP, RTCP (first byte 128-191) and
// the rest by its first byte (RFC 7983 §7).
func isSTUN(b []byte) bool { return len(b) > 0 && b[0] <= 3 }

// handleSTUN consumes a STUN message read on the media sockets: a binding
// answer to one of our requests, from the server it was sent to and on the
// socket it left from, goes to its waiter; anything else is dropped.
func (s *Session) handleSTUN(b []byte, from netip.AddrPort, rtcpOnly bool) {
	s.mu.Lock()
	s.rx.stun++
	s.mu.Unlock()
	msg := &stun.Message{Raw: b}
	if err := msg.Decode(); err != nil || msg.Type != stun.BindingSuccess {
		return
	}
	w := &s.stun
	w.mu.Lock()
	sw, ok := w.pending[msg.TransactionID]
	if ok && sw.server == from && sw.rtcp == rtcpOnly {
		delete(w.pending, msg.TransactionID)
	} else {
		ok = false
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	mapped, ok := mappedAddress(msg)
	if !ok {
		return
	}
	select {
	case sw.got <- stunAnswer{rtcp: sw.rtcp, mapped: mapped}:
	default: // the waiter is gone or has its answers
	}
}

// mappedAddress reads XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 8489
// §14.1, §14.2; RFC 3489 servers send only the latter).
func mappedAddress(m *stun.Message) (netip.AddrPort, bool) {
	var ip net.IP
	var port int
	var xa stun.XORMappedAddress
	if err := xa.GetFrom(m); err == nil {
		ip, port = xa.IP, xa.Port
	} else {
		var ma stun.MappedAddress
		if err := ma.GetFrom(m); err != nil {
			return netip.AddrPort{}, false
		}
		ip, port = ma.IP, ma.Port
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}
