//go:build linux

package sockaddr

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Put writes ap into sa as the address to give a socket of the family
// six names (true for AF_INET6, false for AF_INET) and returns the
// address's length. For an AF_INET6 socket an IPv4 address is written
// v4-mapped; for an AF_INET socket a v4-mapped address is written as
// IPv4. An IPv6 address for an AF_INET socket stays IPv6, and the kernel
// refuses it.
func Put(sa *unix.RawSockaddrInet6, ap netip.AddrPort, six bool) uint32 {
	a := ap.Addr()
	if !six {
		a = a.Unmap()
	}
	if !six && a.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		putPort(&sa4.Port, ap.Port())
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	putPort(&sa.Port, ap.Port())
	return unix.SizeofSockaddrInet6
}

// Get returns the address the kernel wrote into sa: IPv4 or IPv6 as the
// family says (a v4-mapped IPv6 address stays mapped), and the zero
// AddrPort for any other family.
func Get(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), getPort(&sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// putPort stores p in network byte order.
func putPort(dst *uint16, p uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(p>>8), byte(p)
}

// getPort reads a port stored in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}
