//go:build linux

package transport

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sockopt reads an integer socket option of c's socket.
func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var v int
	var gerr error
	require.NoError(t, rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }))
	require.NoError(t, gerr)
	return v
}

// TestStreamSocketsWithoutTCPKeepalive: neither an accepted nor a dialed
// connection has TCP keepalives (the layer's idle timeout and RFC 5626
// pings do that job; Go's default costs four setsockopt calls a
// connection), and both still have TCP_NODELAY.
func TestStreamSocketsWithoutTCPKeepalive(t *testing.T) {
	l, rec := newTestLayer(t, Config{})
	ap := listen(t, l, TCP, "127.0.0.1:0")
	c, _ := rawDial(t, TCP, ap, nil)
	defer c.Close()
	req := options(t, "sip:x@"+ap.String(), 0)
	stampVia(req, TCP, c.LocalAddr().(*net.TCPAddr).AddrPort())
	_, err := c.Write(req.AppendTo(nil))
	require.NoError(t, err)
	accepted := l.connByID(rec.next(t).Flow.Conn)
	require.NotNil(t, accepted)

	peer, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer peer.Close()
	f, err := l.Connect(t.Context(), Target{Network: TCP, Addr: addrPortOf(peer.Addr())})
	require.NoError(t, err)
	dialed := l.connByID(f.Conn)
	require.NotNil(t, dialed)

	for name, sc := range map[string]*conn{"accepted": accepted, "dialed": dialed} {
		require.Zero(t, sockopt(t, sc.sock, unix.SOL_SOCKET, unix.SO_KEEPALIVE), name)
		require.Equal(t, 1, sockopt(t, sc.sock, unix.IPPROTO_TCP, unix.TCP_NODELAY), name)
	}
}
