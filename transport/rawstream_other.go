//go:build !linux

package transport

import "net"

// rawStream is Linux-only; elsewhere streams take the net package's path.
type rawStream struct{}

func newRawStream(net.Conn) *rawStream { return nil }

func (*rawStream) Read([]byte) (int, error)  { return 0, nil }
func (*rawStream) Write([]byte) (int, error) { return 0, nil }
