//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// rawSender is Linux-only; elsewhere sends take the net package's path.
type rawSender struct{}

func newRawSender(*net.UDPConn, netip.AddrPort) *rawSender { return nil }

func (*rawSender) send([]byte, netip.AddrPort) (bool, error) { return false, nil }
