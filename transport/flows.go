package transport

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// This file is what a client user agent needs to ride its own flows (RFC
// 5626 §4, RFC 5923): open the connection before it builds a Contact from
// it, ping it on its own schedule, learn when it closes, and exchange STUN
// messages on the UDP socket its SIP traffic uses.

// Connect returns the open stream flow to t (TCP, TLS, WS, WSS), dialing a
// connection when none is pooled. A client without a listener of t's
// network builds its Contact from the flow's local address, and its
// requests to t.Addr then leave on this connection. Failures wrap
// ErrUnreachable; a UDP target is ErrKeepaliveUnsupported (UDP has no
// connection).
func (l *Layer) Connect(ctx context.Context, t Target) (Flow, error) {
	if l.isClosed() {
		return Flow{}, ErrClosed
	}
	switch t.Network {
	case TCP, TLS, WS, WSS:
	case UDP:
		return Flow{}, ErrKeepaliveUnsupported
	default:
		return Flow{}, fmt.Errorf("%w: %q", ErrUnknownNetwork, t.Network)
	}
	dst := unmapAP(t.Addr)
	if !dst.IsValid() {
		return Flow{}, fmt.Errorf("%w: invalid target address", ErrUnreachable)
	}
	c, err := l.getConn(ctx, t.Network, dst, t.ServerName)
	if err != nil {
		return Flow{}, err
	}
	return c.flow(), nil
}

// HasListener reports whether the layer listens on network n.
func (l *Layer) HasListener(n Network) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n == UDP {
		return len(l.udp) > 0
	}
	for _, sl := range l.lns {
		if sl.network == n {
			return true
		}
	}
	return false
}

// FlowOpen reports whether the connection of stream flow f is open; a UDP
// flow is open while a socket can send to its remote address.
func (l *Layer) FlowOpen(f Flow) bool {
	if f.Network == UDP {
		return l.udpByLocal(f.Local, unmapAP(f.Remote)) != nil
	}
	return l.connByID(f.Conn) != nil
}

// Ping sends one RFC 5626 §4.4.1 keepalive on stream flow f now (a
// double CRLF, a WebSocket ping on WS and WSS) and expects its pong within
// DeadFlowTimeout: a late pong closes the flow with ErrDeadFlow, reported
// to Config.OnFlowClosed and the handler. The caller keeps the schedule
// (Layer.KeepAlive keeps one of the layer's own instead).
func (l *Layer) Ping(f Flow) error {
	if f.Network == UDP {
		return ErrKeepaliveUnsupported
	}
	c := l.connByID(f.Conn)
	if c == nil {
		return fmt.Errorf("%w: connection %d is gone", ErrUnreachable, f.Conn)
	}
	if c.ws == nil && c.pongDue.Load() == 0 {
		c.pongDue.Store(time.Now().Add(l.cfg.DeadFlowTimeout).UnixNano())
		c.kick.Store(true)
		_ = c.sock.SetReadDeadline(time.Unix(1, 0)) // wake the reader to watch the pong
	}
	c.sendPing()
	return nil
}

// SendDatagram sends b, which is not SIP (a STUN request, RFC 5626 §4.4.2,
// RFC 8489), from the local UDP socket of flow f to its remote address.
func (l *Layer) SendDatagram(f Flow, b []byte) error {
	if l.isClosed() {
		return ErrClosed
	}
	if f.Network != UDP {
		return fmt.Errorf("%w: datagram on %s", ErrUnknownNetwork, f.Network)
	}
	dst := unmapAP(f.Remote)
	s := l.udpByLocal(f.Local, dst)
	if s == nil {
		return fmt.Errorf("%w: udp for %v", ErrNoListener, dst)
	}
	return l.writeUDP(s, b, dst, Flow{Network: UDP, Local: s.local, Remote: dst})
}

// isSTUN tells a STUN message from SIP (RFC 7983 §7: a first byte of 0 to
// 3 is STUN; SIP starts with a letter) and checks its framing as RFC 8489
// §5 and §6.3.4 describe it: the magic cookie, and a length that is a
// multiple of 4 and counts the bytes after the header. Anything else goes
// to the SIP parser, which counts it as malformed.
func isSTUN(b []byte) bool {
	if len(b) < stunHeaderLen || b[0] >= 4 {
		return false
	}
	n := int(b[2])<<8 | int(b[3])
	return n%4 == 0 && n == len(b)-stunHeaderLen &&
		b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xa4 && b[7] == 0x42
}

// stunHeaderLen is the size of a STUN message header (RFC 8489 §5).
const stunHeaderLen = 20

// stunFlow is the flow a datagram read on s from src arrived on.
func stunFlow(s *udpSock, src netip.AddrPort) Flow {
	return Flow{Network: UDP, Local: s.local, Remote: src}
}
