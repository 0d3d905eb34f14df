//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// mmsgReader is Linux-only; elsewhere the layer reads with ReadBatch.
type mmsgReader struct{}

func newMmsgReader(*net.UDPConn, int, int, *errQueue) (*mmsgReader, bool) { return nil, false }

func (*mmsgReader) read() (int, error) { return 0, net.ErrClosed }

func (*mmsgReader) datagram(int) ([]byte, netip.AddrPort) { return nil, netip.AddrPort{} }

func (*mmsgReader) unreachable() []netip.AddrPort { return nil }
