package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
)

// Bounds of [FreeUDPPorts]' search.
const (
	// PortSearchMin and PortSearchMax bound the ports FreeUDPPorts tries:
	// above the well-known and registered ports most services use, below
	// the top of the range.
	PortSearchMin = 20000
	PortSearchMax = 60000
	// PortSearchAttempts is how many random starting points it tries.
	PortSearchAttempts = 200
)

// ErrNoFreePorts is the error of a search that found no free range.
var ErrNoFreePorts = errors.New("no free port range")

// FreeUDPPorts returns the first port of n consecutive UDP ports, the first
// even, that are free on addr when it returns: each was bound, then all
// were released. Another process may take one in between; for the tests of
// components that take a port range instead of port 0. It fails the test
// when no such range is found.
func FreeUDPPorts(t testing.TB, addr netip.Addr, n int) uint16 {
	t.Helper()
	lo, err := freeUDPPorts(addr, n)
	if err != nil {
		t.Fatalf("%d free UDP ports on %s: %v", n, addr, err)
	}
	return lo
}

func freeUDPPorts(addr netip.Addr, n int) (uint16, error) {
	if n < 1 || n > (PortSearchMax-PortSearchMin)/2 {
		return 0, fmt.Errorf("%w: %d ports asked", ErrNoFreePorts, n)
	}
	span := PortSearchMax - PortSearchMin - n
	for range PortSearchAttempts {
		lo := PortSearchMin + rand.IntN(span/2)*2
		if tryRange(addr, lo, n) {
			return uint16(lo), nil
		}
	}
	return 0, fmt.Errorf("%w of %d ports in %d attempts", ErrNoFreePorts, n, PortSearchAttempts)
}

// tryRange binds every port of lo..lo+n-1 and releases them; it reports
// whether all were free.
func tryRange(addr netip.Addr, lo, n int) bool {
	conns := make([]*net.UDPConn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for p := lo; p < lo+n; p++ {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(p))))
		if err != nil {
			return false
		}
		conns = append(conns, c)
	}
	return true
}
