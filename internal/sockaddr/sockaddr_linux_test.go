//go:build linux

package sockaddr

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestPutGet: each destination is written in the family its socket
// needs, with the port in network byte order, and reads back.
func TestPutGet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ap     string
		six    bool
		family uint16
		length uint32
		back   string // what Get returns
	}{
		{"IPv4 on AF_INET", "192.0.2.1:5060", false, unix.AF_INET, unix.SizeofSockaddrInet4, "192.0.2.1:5060"},
		{"v4-mapped on AF_INET", "[::ffff:192.0.2.1]:5060", false, unix.AF_INET, unix.SizeofSockaddrInet4, "192.0.2.1:5060"},
		{"IPv6 on AF_INET stays IPv6", "[2001:db8::1]:5060", false, unix.AF_INET6, unix.SizeofSockaddrInet6, "[2001:db8::1]:5060"},
		{"IPv6 on AF_INET6", "[2001:db8::1]:40000", true, unix.AF_INET6, unix.SizeofSockaddrInet6, "[2001:db8::1]:40000"},
		{"IPv4 on AF_INET6 goes mapped", "192.0.2.1:1", true, unix.AF_INET6, unix.SizeofSockaddrInet6, "[::ffff:192.0.2.1]:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sa unix.RawSockaddrInet6
			n := Put(&sa, netip.MustParseAddrPort(tc.ap), tc.six)
			require.Equal(t, tc.length, n)
			require.Equal(t, tc.family, sa.Family)
			port := netip.MustParseAddrPort(tc.ap).Port()
			raw := (*[4]byte)(unsafe.Pointer(&sa))
			require.Equal(t, []byte{byte(port >> 8), byte(port)}, raw[2:4], "port in network byte order")
			require.Equal(t, netip.MustParseAddrPort(tc.back), Get(&sa))
		})
	}
}

// TestGetOtherFamily: an address of another family reads as the zero
// AddrPort.
func TestGetOtherFamily(t *testing.T) {
	sa := unix.RawSockaddrInet6{Family: unix.AF_UNIX}
	require.Equal(t, netip.AddrPort{}, Get(&sa))
}
