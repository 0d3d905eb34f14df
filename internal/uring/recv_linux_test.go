//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package uring

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
	"github.com/dialtone/dialtone/internal/testenv"
)

// stampedConn is a UDP socket that asks the kernel for its datagrams'
// arrival times (SO_TIMESTAMPNS), and its descriptor.
func stampedConn(t *testing.T, host string) (*net.UDPConn, int) {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, raw.Control(func(f uintptr) { fd = int(f) }))
	require.NoError(t, syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1))
	return c, fd
}

// arrivalStamp finds SCM_TIMESTAMPNS in oob.
func arrivalStamp(t *testing.T, oob []byte) time.Time {
	t.Helper()
	msgs, err := syscall.ParseSocketControlMessage(oob)
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS {
			require.GreaterOrEqual(t, len(m.Data), int(unsafe.Sizeof(syscall.Timespec{})))
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(0, ts.Nano())
		}
	}
	require.Fail(t, "no SCM_TIMESTAMPNS among the control messages")
	return time.Time{}
}

// TestURingRecvAll: one batch reads several sockets, IPv4 and IPv6, more
// reads than the ring holds: the reads of a socket take its datagrams in
// order and then find it empty (-EAGAIN at once, no waiting); each datagram
// comes with its source address and the kernel's arrival time; a read on a
// closed descriptor fails alone.
func TestURingRecvAll(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		t.Run(host, func(t *testing.T) {
			if host == "[::1]" {
				testenv.NeedIPv6Loopback(t)
			}
			uringRecvAll(t, host)
		})
	}
}

func uringRecvAll(t *testing.T, host string) {
	r := needURing(t, 8)
	defer r.Close()
	from, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
	require.NoError(t, err)
	defer from.Close()
	type sock struct {
		conn *net.UDPConn
		fd   int
		sent int // datagrams sent to it
	}
	socks := []*sock{{sent: 3}, {sent: 1}, {sent: 0}, {sent: 5}}
	before := time.Now()
	for i, s := range socks {
		s.conn, s.fd = stampedConn(t, host)
		for j := range s.sent {
			_, err := from.WriteToUDPAddrPort(fmt.Appendf(nil, "sock %d datagram %d", i, j), s.conn.LocalAddr().(*net.UDPAddr).AddrPort())
			require.NoError(t, err)
		}
	}
	after := time.Now()

	// Each socket gets one read more than its datagrams: 3+1+0+5+4 = 13
	// reads through a ring of 8, then one on a closed descriptor.
	var items []Recv
	var owner []int
	for i, s := range socks {
		for range s.sent + 1 {
			items = append(items, Recv{FD: s.fd, B: make([]byte, 100), Name: new(unix.RawSockaddrInet6), OOB: make([]byte, 64)})
			owner = append(owner, i)
		}
	}
	items = append(items, Recv{FD: 1 << 20, B: make([]byte, 100), Name: new(unix.RawSockaddrInet6)})
	require.NoError(t, r.RecvAll(items))

	next := make([]int, len(socks))
	for k, it := range items[:len(owner)] {
		i := owner[k]
		s := socks[i]
		if next[i] == s.sent {
			require.Equal(t, -int32(syscall.EAGAIN), it.Res, "read %d: socket %d is empty", k, i)
			continue
		}
		require.Positive(t, it.Res, "read %d", k)
		require.Equal(t, fmt.Sprintf("sock %d datagram %d", i, next[i]), string(it.B[:it.Res]))
		require.Equal(t, from.LocalAddr().(*net.UDPAddr).AddrPort().Port(), sockaddr.Get(it.Name).Port())
		require.Zero(t, it.Flags&syscall.MSG_TRUNC)
		at := arrivalStamp(t, it.OOB[:it.OOBLen])
		require.False(t, at.Before(before.Add(-time.Millisecond)), "arrival %v before the send at %v", at, before)
		require.False(t, at.After(after.Add(time.Millisecond)), "arrival %v after the sends ended at %v", at, after)
		next[i]++
	}
	require.Equal(t, -int32(syscall.EBADF), items[len(owner)].Res)
}

// TestURingRecvTruncated: a datagram longer than its buffer is cut to it
// and says so (MSG_TRUNC).
func TestURingRecvTruncated(t *testing.T) {
	r := needURing(t, 8)
	defer r.Close()
	c, fd := stampedConn(t, "127.0.0.1")
	_, err := c.WriteToUDPAddrPort([]byte("0123456789"), c.LocalAddr().(*net.UDPAddr).AddrPort())
	require.NoError(t, err)
	items := []Recv{{FD: fd, B: make([]byte, 4), Name: new(unix.RawSockaddrInet6)}}
	require.NoError(t, r.RecvAll(items))
	require.Equal(t, int32(4), items[0].Res)
	require.Equal(t, "0123", string(items[0].B))
	require.NotZero(t, items[0].Flags&syscall.MSG_TRUNC)
}

// TestURingRecvBroken: when the ring itself fails, RecvAll says so and
// every read it did not complete carries an error.
func TestURingRecvBroken(t *testing.T) {
	r := needURing(t, 8)
	defer r.Close()
	_, fd := stampedConn(t, "127.0.0.1")
	items := make([]Recv, 20) // three batches of a ring of 8
	for i := range items {
		items[i] = Recv{FD: fd, B: make([]byte, 10), Name: new(unix.RawSockaddrInet6)}
	}
	require.NoError(t, syscall.Close(r.fd))
	r.fd = -1

	require.ErrorIs(t, r.RecvAll(items), syscall.EBADF)
	for i, it := range items {
		require.Equal(t, -int32(syscall.EIO), it.Res, "item %d", i)
	}
}

// TestURingClosed: after Close, SendAll and RecvAll fail with ErrClosed and
// every item carries an error; Close again is harmless.
func TestURingClosed(t *testing.T) {
	r := needURing(t, 8)
	_, fd := stampedConn(t, "127.0.0.1")
	r.Close()
	r.Close()
	recvs := []Recv{{FD: fd, B: make([]byte, 10), Name: new(unix.RawSockaddrInet6)}}
	require.ErrorIs(t, r.RecvAll(recvs), ErrClosed)
	require.Equal(t, -int32(syscall.EIO), recvs[0].Res)
	sends := []Send{{FD: fd, B: []byte("x"), SALen: syscall.SizeofSockaddrInet4}}
	require.ErrorIs(t, r.SendAll(sends), ErrClosed)
	require.Equal(t, -int32(syscall.EIO), sends[0].Res)
}
