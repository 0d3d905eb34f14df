package proxy_test

import (
	"context"
	"fmt"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/transport"
)

// A registrar and proxy for example.com on a UDP port of the loopback.
func Example() {
	tp, err := transport.New(transport.Config{})
	if err != nil {
		panic(err)
	}
	defer tp.Close()
	srv, err := proxy.New(tp, proxy.Config{
		Domains:  []string{"example.com"},
		Self:     []string{"127.0.0.1:5060"},
		Users:    proxy.UserTable{"alice": {Name: "alice", Password: "secret"}},
		Resolver: transport.StaticResolver{},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	addr, err := tp.Listen(context.Background(), transport.UDP, "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(addr != nil)
	// Output: true
}
