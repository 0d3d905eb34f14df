package transaction_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// A client Layer sends OPTIONS to a server Layer whose handler answers
// 200, over an in-memory Transport standing in for package transport.
// Each Layer binds itself to its transport in New.
func Example() {
	cs := &memSender{local: netip.MustParseAddrPort("192.0.2.1:5060")}
	ss := &memSender{local: netip.MustParseAddrPort("192.0.2.2:5060"), peer: cs}
	cs.peer = ss

	server, _ := transaction.New(ss, transaction.Config{
		Handler: transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			fmt.Println("server got", req.Method)
			_ = w.Respond(sip.NewResponse(req, 200, ""))
		}),
	})
	defer server.Close()
	client, _ := transaction.New(cs, transaction.Config{})
	defer client.Close()

	req := sip.NewRequest(sip.OPTIONS, sip.URI{Scheme: "sip", Host: "192.0.2.2"})
	req.SetFrom(sip.Address{URI: sip.URI{Scheme: "sip", Host: "192.0.2.1"}, Params: sip.Params(";tag=" + sip.NewTag())})
	tx, err := client.Request(context.Background(), req, transport.Target{Network: transport.TCP, Addr: ss.local})
	if err != nil {
		fmt.Println(err)
		return
	}
	for res := range tx.Responses() {
		fmt.Println("client got", res.StatusCode, res.Reason)
	}
	fmt.Println("error:", tx.Err())
	// Output:
	// server got OPTIONS
	// client got 200 OK
	// error: <nil>
}
