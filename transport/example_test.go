package transport_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// answerer answers every request with 200 through its layer.
type answerer struct {
	l   *transport.Layer
	got chan *sip.Response
}

func (a *answerer) HandleMessage(in transport.Incoming) {
	switch m := in.Msg.(type) {
	case *sip.Request:
		_ = a.l.SendResponse(context.Background(), sip.NewResponse(m, sip.StatusOK, ""), in.Flow)
	case *sip.Response:
		a.got <- m
	}
}

func (a *answerer) HandleFlowError(transport.Flow, error) {}

func Example() {
	mn := memnet.New(memnet.Config{})
	defer mn.Close()
	ctx := context.Background()

	// Bind each layer's handler with Serve before it listens or sends.
	srv, _ := transport.New(transport.Config{Net: mn})
	defer srv.Close()
	_ = srv.Serve(&answerer{l: srv})
	_, _ = srv.Listen(ctx, transport.TCP, "192.0.2.1:5060")

	cliH := &answerer{got: make(chan *sip.Response, 1)}
	cli, _ := transport.New(transport.Config{Net: mn})
	cliH.l = cli
	defer cli.Close()
	_ = cli.Serve(cliH)

	uri, _ := sip.ParseURI("sip:bob@192.0.2.1")
	req := sip.NewRequest(sip.OPTIONS, uri)
	from, _ := sip.ParseAddress("<sip:alice@example.com>;tag=1")
	req.SetFrom(from)
	f, err := cli.SendRequest(ctx, req, transport.Target{Network: transport.TCP, Addr: netip.MustParseAddrPort("192.0.2.1:5060")})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := <-cliH.got
	v, _ := req.TopVia()
	fmt.Println(f.Network, v.Transport, res.StatusCode, res.Reason)
	// Output: tcp TCP 200 OK
}
