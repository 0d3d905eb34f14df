package transport

import (
	"errors"
	"net/netip"
)

// Errors that say why a destination could not be reached. The errors
// that carry them, *UnreachableError and *SourceError, also match
// ErrUnreachable.
var (
	// ErrPortUnreachable: the destination host answered a UDP datagram
	// with ICMP port unreachable (ICMPv6 type 1 code 4): nothing listens
	// on that port. Linux only; elsewhere such a peer just never answers.
	ErrPortUnreachable = errors.New("transport: port unreachable")
	// ErrLoopbackSource: a socket bound to a loopback address was asked
	// to send to an address outside the host, which the kernel refuses.
	// Listen on a wildcard or a routable address to reach other hosts.
	ErrLoopbackSource = errors.New("transport: socket bound to loopback")
)

// UnreachableError names a destination the layer could not reach and
// why: Err is ErrPortUnreachable when the host said nothing listens
// there, else the system's error. errors.Is(err, ErrUnreachable) holds,
// and Unwrap gives Err. The layer reports an ICMP port unreachable to
// Handler.HandleFlowError with this error, so the transactions waiting
// on the destination end at once instead of at Timer B or F.
type UnreachableError struct {
	Network Network
	Addr    netip.AddrPort
	Err     error
}

// Error says what happened, e.g. "nothing listens on 127.0.0.1:5099
// over UDP (ICMP port unreachable)".
func (e *UnreachableError) Error() string {
	where := e.Addr.String() + " over " + e.Network.ViaTransport()
	switch {
	case errors.Is(e.Err, ErrPortUnreachable):
		return "nothing listens on " + where + " (ICMP port unreachable)"
	case e.Err == nil:
		return "cannot reach " + where
	}
	return "cannot reach " + where + ": " + e.Err.Error()
}

// Is reports whether target is ErrUnreachable.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// SourceError: a socket bound to a loopback address (Local) cannot send
// to Addr, an address outside the host. errors.Is(err, ErrUnreachable)
// and errors.Is(err, ErrLoopbackSource) hold. The UDP layer refuses such
// a send before the system does; Err is the system's error when it was
// the system that refused, else nil.
type SourceError struct {
	Network Network
	Local   netip.AddrPort
	Addr    netip.AddrPort
	Err     error
}

// Error says what happened: "cannot reach 192.0.2.1:5060 from a socket
// bound to 127.0.0.1".
func (e *SourceError) Error() string {
	return "cannot reach " + e.Addr.String() + " from a socket bound to " + e.Local.Addr().String()
}

// Is reports whether target is ErrUnreachable or ErrLoopbackSource.
func (e *SourceError) Is(target error) bool {
	return target == ErrUnreachable || target == ErrLoopbackSource
}

// Unwrap returns the system's error.
func (e *SourceError) Unwrap() error { return e.Err }

// sendError turns a failed datagram send from local to dst into an
// error that names both: a *SourceError when a loopback socket was asked
// to leave the host, else an *UnreachableError.
func sendError(n Network, local, dst netip.AddrPort, err error) error {
	if leavesLoopback(local, dst) {
		return &SourceError{Network: n, Local: local, Addr: dst, Err: err}
	}
	return &UnreachableError{Network: n, Addr: dst, Err: err}
}

// leavesLoopback reports whether a datagram from local to dst would leave
// a socket bound to a loopback address for another host, which no system
// delivers.
func leavesLoopback(local, dst netip.AddrPort) bool {
	return local.Addr().IsLoopback() && !dst.Addr().Unmap().IsLoopback()
}
