//go:build unix

package transport

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// socketRcvBuf reads back a socket's SO_RCVBUF: what the kernel granted.
func socketRcvBuf(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var n int
	var gerr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		n, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}))
	require.NoError(t, gerr)
	return n
}
