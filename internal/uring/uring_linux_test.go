//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package uring

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/sockaddr"
	"github.com/dialtone/dialtone/internal/testenv"
)

// needURing returns a ring of size entries, or skips the test (fails it
// under CI=true) where the kernel offers no io_uring.
func needURing(t *testing.T, size uint32) *Ring {
	t.Helper()
	r, err := New(size)
	testenv.Need(t, "io_uring (Linux 5.6 or later, not blocked by seccomp)", err)
	return r
}

// TestURingSendAll: one batch sends datagrams from several sockets, IPv4,
// IPv6 and both mixed, and more of them than the ring holds; each arrives
// intact from its own socket, and a send on a closed descriptor fails
// alone. The IPv4 case runs whether or not the machine has ::1.
func TestURingSendAll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
	}{
		{"IPv4", []string{"127.0.0.1"}},
		{"IPv6", []string{"[::1]"}},
		{"mixed", []string{"127.0.0.1", "[::1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(tc.hosts, "[::1]") {
				testenv.NeedIPv6Loopback(t)
			}
			uringSendAll(t, tc.hosts)
		})
	}
}

func uringSendAll(t *testing.T, hosts []string) {
	r := needURing(t, 8)
	defer r.Close()

	type peer struct {
		from *net.UDPConn // the sending socket, whose fd goes in the ring
		to   *net.UDPConn
	}
	var peers []peer
	for _, host := range hosts {
		for range 3 {
			to, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
			require.NoError(t, err)
			defer to.Close()
			from, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
			require.NoError(t, err)
			defer from.Close()
			peers = append(peers, peer{from, to})
		}
	}
	fdOf := func(c *net.UDPConn) int {
		raw, err := c.SyscallConn()
		require.NoError(t, err)
		var fd int
		require.NoError(t, raw.Control(func(f uintptr) { fd = int(f) }))
		return fd
	}

	const rounds = 4 // 3 or 6 sockets × 4 = 12 or 24 datagrams through a ring of 8
	var items []Send
	for round := range rounds {
		for i, p := range peers {
			it := Send{FD: fdOf(p.from), B: fmt.Appendf(nil, "round %d peer %d", round, i)}
			it.SALen = sockaddr.Put(&it.SA, p.to.LocalAddr().(*net.UDPAddr).AddrPort(), p.from.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is6())
			items = append(items, it)
		}
	}
	closed := len(items)
	items = append(items, Send{FD: 1 << 20, B: []byte("nowhere"), SA: items[0].SA, SALen: items[0].SALen})

	require.NoError(t, r.SendAll(items))
	for i, it := range items[:closed] {
		require.Equal(t, int32(len(it.B)), it.Res, "item %d", i)
	}
	require.Equal(t, -int32(syscall.EBADF), items[closed].Res)

	buf := make([]byte, 100)
	for round := range rounds {
		for i, p := range peers {
			require.NoError(t, p.to.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, from, err := p.to.ReadFromUDPAddrPort(buf)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("round %d peer %d", round, i), string(buf[:n]))
			require.Equal(t, p.from.LocalAddr().(*net.UDPAddr).AddrPort().Port(), from.Port())
		}
	}
}

// TestURingBroken: when the ring itself fails, sendAll says so and every
// datagram it did not send, in the failed batch or after it, carries an
// error, so that none is counted as sent.
func TestURingBroken(t *testing.T) {
	r := needURing(t, 8)
	defer r.Close()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	defer conn.Close()
	items := make([]Send, 20) // three batches of a ring of 8
	for i := range items {
		items[i] = Send{FD: 0, B: []byte("x"), SALen: syscall.SizeofSockaddrInet4}
	}
	// The mappings stay; only the descriptor io_uring_enter needs goes.
	require.NoError(t, syscall.Close(r.fd))
	r.fd = -1

	require.ErrorIs(t, r.SendAll(items), syscall.EBADF)
	for i, it := range items {
		require.Equal(t, -int32(syscall.EIO), it.Res, "item %d", i)
	}
}
