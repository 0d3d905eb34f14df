//go:build !unix

package transport

import (
	"net"
	"testing"
)

// socketRcvBuf is unknown here.
func socketRcvBuf(*testing.T, *net.UDPConn) int { return -1 }
