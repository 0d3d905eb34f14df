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
		for _, sendmsg := range []bool{false, true} {
			form := map[bool]string{false: "send", true: "sendmsg"}[sendmsg]
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				if slices.Contains(tc.hosts, "[::1]") {
					testenv.NeedIPv6Loopback(t)
				}
				r := needURing(t, 8)
				defer r.Close()
				r.sendmsg = sendmsg
				uringSendAll(t, r, tc.hosts)
				if !sendmsg && kernelAtLeast(t, 6, 0) {
					require.False(t, r.sendmsg, "a kernel of 6.0 or later takes sends with a destination")
				}
			})
		}
	}
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u syscall.Utsname
	require.NoError(t, syscall.Uname(&u))
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	var ma, mi int
	_, err := fmt.Sscanf(string(rel), "%d.%d", &ma, &mi)
	require.NoError(t, err, "kernel release %q", rel)
	return ma > major || ma == major && mi >= minor
}

func uringSendAll(t *testing.T, r *Ring, hosts []string) {

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
	// An address too short for any family is refused in either form: the
	// ring must not take that EINVAL for a kernel without the send form.
	items = append(items, Send{FD: items[0].FD, B: []byte("short address"), SA: items[0].SA, SALen: 2})
	sendmsg := r.sendmsg

	require.NoError(t, r.SendAll(items))
	for i, it := range items[:closed] {
		require.Equal(t, int32(len(it.B)), it.Res, "item %d", i)
	}
	require.Equal(t, -int32(syscall.EBADF), items[closed].Res)
	require.Equal(t, -int32(syscall.EINVAL), items[closed+1].Res)
	if sendmsg || kernelAtLeast(t, 6, 0) {
		require.Equal(t, sendmsg, r.sendmsg, "the form is kept")
	}

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

// BenchmarkSendAll sends a batch of 64 datagrams from 64 sockets to one,
// in each form; ns/op is per datagram.
func BenchmarkSendAll(b *testing.B) {
	for _, sendmsg := range []bool{false, true} {
		b.Run(map[bool]string{false: "send", true: "sendmsg"}[sendmsg], func(b *testing.B) {
			r, err := New(64)
			if err != nil {
				b.Skip("no io_uring:", err)
			}
			defer r.Close()
			r.sendmsg = sendmsg
			to, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
			require.NoError(b, err)
			defer to.Close()
			items := make([]Send, 64)
			for i := range items {
				from, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
				require.NoError(b, err)
				defer from.Close()
				raw, err := from.SyscallConn()
				require.NoError(b, err)
				require.NoError(b, raw.Control(func(f uintptr) { items[i].FD = int(f) }))
				items[i].B = make([]byte, 172) // a 20 ms G.711 packet
				items[i].SALen = sockaddr.Put(&items[i].SA, to.LocalAddr().(*net.UDPAddr).AddrPort(), false)
			}
			b.ResetTimer()
			c0 := cpuTime()
			for i := 0; i < b.N; i += len(items) {
				require.NoError(b, r.SendAll(items))
			}
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far: on a busy
// machine it says more of a benchmark's cost than the time it took.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
