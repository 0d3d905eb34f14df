package memnet

import (
	"errors"
	"net"
)

// Errors returned by memnet have the shapes of real socket errors, so code
// written for the net package handles them unchanged:
//
//   - operations on a closed socket, listener or network return a
//     *net.OpError wrapping [net.ErrClosed];
//   - an expired deadline returns a *net.OpError wrapping
//     [os.ErrDeadlineExceeded], a [net.Error] whose Timeout method reports
//     true;
//   - a dial nobody listens for returns a *net.OpError wrapping
//     syscall.ECONNREFUSED; binding a taken address wraps
//     syscall.EADDRINUSE; writing to a stream the peer has closed wraps
//     syscall.ECONNRESET, and writing after CloseWrite wraps syscall.EPIPE;
//   - an unknown network name is a [net.UnknownNetworkError], and a bad
//     address a *net.AddrError.
//
// The errors below are memnet's own.
var (
	// ErrNATOverlap is returned by Network.AddNAT when the new NAT's public
	// address or inside prefix is already used by another NAT.
	ErrNATOverlap = errors.New("memnet: NAT overlaps an existing NAT")
	// ErrInvalidNAT is returned by Network.AddNAT for an invalid prefix,
	// public address or type, or a public address inside its own prefix.
	ErrInvalidNAT = errors.New("memnet: invalid NAT")
	// ErrNoPorts is returned when no free port is left for a binding or a
	// NAT mapping.
	ErrNoPorts = errors.New("memnet: no free port")
)

// The conns implement the net package's interfaces.
var (
	_ net.PacketConn = (*PacketConn)(nil)
	_ net.Conn       = (*PacketConn)(nil)
	_ net.Conn       = (*Conn)(nil)
	_ net.Listener   = (*Listener)(nil)
)
