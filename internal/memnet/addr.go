package memnet

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
)

// proto is the transport protocol of a socket.
type proto uint8

const (
	protoUDP proto = iota
	protoTCP
)

// family restricts the address family of a network name ("udp4", "tcp6").
type family uint8

const (
	familyAny family = iota
	family4
	family6
)

// Ephemeral port range (RFC 6335 §6, dynamic ports) used for port 0 and for
// the local side of dialed connections.
const (
	ephemeralFirst = 49152
	ephemeralLast  = 65535
)

func parseNetwork(network string) (proto, family, error) {
	switch network {
	case "udp":
		return protoUDP, familyAny, nil
	case "udp4":
		return protoUDP, family4, nil
	case "udp6":
		return protoUDP, family6, nil
	case "tcp":
		return protoTCP, familyAny, nil
	case "tcp4":
		return protoTCP, family4, nil
	case "tcp6":
		return protoTCP, family6, nil
	}
	return 0, 0, net.UnknownNetworkError(network)
}

// parseAddress parses "host:port". host must be an IP literal, "localhost",
// or empty; empty (and an unspecified IP) yields an unspecified address of
// the family (IPv6 "::" for familyAny). No name resolution happens.
func parseAddress(fam family, address string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "missing or malformed port", Addr: address}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: address}
	}
	var ip netip.Addr
	switch host {
	case "":
		ip = netip.IPv6Unspecified()
		if fam == family4 {
			ip = netip.IPv4Unspecified()
		}
	case "localhost":
		ip = netip.MustParseAddr("127.0.0.1")
		if fam == family6 {
			ip = netip.IPv6Loopback()
		}
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, &net.AddrError{Err: "not an IP address (memnet does not resolve names)", Addr: host}
		}
		ip = ip.Unmap().WithZone("")
	}
	if fam == family4 && !ip.Is4() {
		if !ip.IsUnspecified() {
			return netip.AddrPort{}, &net.AddrError{Err: "not an IPv4 address", Addr: host}
		}
		ip = netip.IPv4Unspecified()
	}
	if fam == family6 && ip.Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "not an IPv6 address", Addr: host}
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// loopback returns the loopback address of the family of like.
func loopback(like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}

// covers reports whether a socket bound to bound receives datagrams for dst.
// An unspecified IPv6 binding is dual-stack.
func covers(bound, dst netip.Addr) bool {
	if bound == dst {
		return true
	}
	if !bound.IsUnspecified() {
		return false
	}
	return bound.Is6() || dst.Is4()
}

// conflicts reports whether two bindings of the same port overlap.
func conflicts(a, b netip.Addr) bool {
	return covers(a, b) || covers(b, a)
}

func udpAddr(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }
func tcpAddr(ap netip.AddrPort) *net.TCPAddr { return net.TCPAddrFromAddrPort(ap) }

// netAddr returns ap as a *net.UDPAddr or *net.TCPAddr, or nil for the zero
// AddrPort.
func netAddr(p proto, ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	if p == protoTCP {
		return tcpAddr(ap)
	}
	return udpAddr(ap)
}

// addrPortOf converts a destination net.Addr to a normalized AddrPort.
func addrPortOf(a net.Addr) (netip.AddrPort, error) {
	switch a := a.(type) {
	case *net.UDPAddr:
		if a != nil {
			return normalize(a.AddrPort()), nil
		}
	case *net.TCPAddr:
		if a != nil {
			return normalize(a.AddrPort()), nil
		}
	case nil:
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err == nil {
			return normalize(ap), nil
		}
		return netip.AddrPort{}, &net.AddrError{Err: "unsupported address", Addr: a.String()}
	}
	return netip.AddrPort{}, &net.AddrError{Err: "missing address"}
}

func normalize(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// errno wraps a system error number the way the net package does, so that
// errors.Is(err, syscall.ECONNREFUSED) and friends hold as with real sockets.
func errno(call string, e syscall.Errno) error { return os.NewSyscallError(call, e) }
