//go:build linux

package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/testenv"
)

// closedPort returns a loopback UDP address nothing listens on: the
// kernel answers datagrams to it with ICMP port unreachable.
func closedPort(t *testing.T, network, addr string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	require.NoError(t, err)
	ap := addrPortOf(pc.LocalAddr())
	require.NoError(t, pc.Close())
	return ap
}

// TestPortUnreachable: a request to a loopback port nothing listens on is
// answered by the kernel with ICMP port unreachable; the layer reports it
// as an error of the request's flow, which names the destination.
func TestPortUnreachable(t *testing.T) {
	cases := []struct {
		name, listen, closedNet, closedAddr string
	}{
		{"IPv4", "127.0.0.1:0", "udp4", "127.0.0.1:0"},
		{"dual-stack to IPv4", "[::]:0", "udp4", "127.0.0.1:0"},
		{"IPv6", "[::1]:0", "udp6", "[::1]:0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.closedNet == "udp6" || tc.listen == "[::]:0" {
				testenv.NeedIPv6Loopback(t)
			}
			l, rec := newTestLayer(t, Config{})
			listen(t, l, UDP, tc.listen)
			dst := closedPort(t, tc.closedNet, tc.closedAddr)
			f, err := l.SendRequest(context.Background(), options(t, dst.String(), 0), Target{Network: UDP, Addr: dst})
			require.NoError(t, err)
			fe := rec.nextFlow(t)
			require.Equal(t, f, fe.f)
			require.ErrorIs(t, fe.err, ErrPortUnreachable)
			require.ErrorIs(t, fe.err, ErrUnreachable)
			require.EqualError(t, fe.err, "nothing listens on "+dst.String()+" over UDP (ICMP port unreachable)")
			var ue *UnreachableError
			require.ErrorAs(t, fe.err, &ue)
			require.Equal(t, dst, ue.Addr)
			require.Equal(t, UDP, ue.Network)
			require.Equal(t, uint64(1), l.Stats().PortUnreachable)
		})
	}
}

// TestSendAfterICMP: a send that finds the socket's pending ICMP error
// (meant for an earlier datagram to another peer) reports that error and
// still delivers its own datagram.
func TestSendAfterICMP(t *testing.T) {
	l, rec := newTestLayer(t, Config{})
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	// A socket of the layer without its read loop, so that the send is
	// the first to see the error.
	s := &udpSock{pc: pc, local: addrPortOf(pc.LocalAddr())}
	s.raw = newRawSender(pc, s.local)
	s.eq = enableRecvErr(pc)
	require.NotNil(t, s.eq)
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer.Close()
	closed := closedPort(t, "udp4", "127.0.0.1:0")

	require.NoError(t, l.writeUDP(s, []byte("first"), closed, Flow{Network: UDP, Local: s.local, Remote: closed}))
	// Wait for the ICMP error to be pending (POLLERR).
	rc, err := pc.SyscallConn()
	require.NoError(t, err)
	var revents int16
	require.NoError(t, rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: 0}}
		if n, err := unix.Poll(fds, 10000); err == nil && n == 1 {
			revents = fds[0].Revents
		}
	}))
	require.NotZero(t, revents&unix.POLLERR, "no ICMP error within 10 s")

	to := addrPortOf(peer.LocalAddr())
	require.NoError(t, l.writeUDP(s, []byte("second"), to, Flow{Network: UDP, Local: s.local, Remote: to}))
	fe := rec.nextFlow(t)
	require.Equal(t, Flow{Network: UDP, Local: s.local, Remote: closed}, fe.f)
	require.ErrorIs(t, fe.err, ErrPortUnreachable)
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 64)
	n, err := peer.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "second", string(buf[:n]))
}
