package memnet_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/internal/memnet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// listenUDP binds a datagram socket or fails the test.
func listenUDP(t *testing.T, ln interface {
	ListenPacket(context.Context, string, string) (net.PacketConn, error)
}, address string) *memnet.PacketConn {
	t.Helper()
	c, err := ln.ListenPacket(context.Background(), "udp", address)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*memnet.PacketConn)
}

// recv reads one datagram, waiting at most one (virtual) second. ok is false
// on timeout.
func recv(t *testing.T, c *memnet.PacketConn) (msg string, from netip.AddrPort, ok bool) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	buf := make([]byte, 2048)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", netip.AddrPort{}, false
	}
	require.NoError(t, err)
	return string(buf[:n]), from, true
}

func send(t *testing.T, c *memnet.PacketConn, msg string, to netip.AddrPort) {
	t.Helper()
	_, err := c.WriteToUDPAddrPort([]byte(msg), to)
	require.NoError(t, err)
}

func addrPort(c interface{ LocalAddr() net.Addr }) netip.AddrPort {
	switch a := c.LocalAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

func requireTimeout(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, msgAndArgs...)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
}
