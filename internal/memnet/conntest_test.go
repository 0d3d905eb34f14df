package memnet_test

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/dialtone/dialtone/internal/memnet"
)

// TestNettestConn runs x/net's conformance suite against a Listen/Dial pair.
// The suite uses the real clock (it sleeps 100 ms in places), so it runs
// outside a synctest bubble.
func TestNettestConn(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  memnet.Config
	}{
		{name: "default"},
		{name: "latency", cfg: memnet.Config{Latency: time.Millisecond}},
		{name: "small window", cfg: memnet.Config{StreamBuffer: 1500}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				n := memnet.New(tt.cfg)
				ln, err := n.Listen(context.Background(), "tcp", "127.0.0.1:0")
				if err != nil {
					return nil, nil, nil, err
				}
				c1, err = n.DialContext(context.Background(), "tcp", ln.Addr().String())
				if err != nil {
					return nil, nil, nil, err
				}
				c2, err = ln.Accept()
				if err != nil {
					return nil, nil, nil, err
				}
				return c1, c2, func() { n.Close() }, nil
			})
		})
	}
}
