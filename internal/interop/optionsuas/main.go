// Command optionsuas answers every OPTIONS with 200 through the transport
// layer, on UDP and TCP at -listen. It is the peer of the SIPp interop
// check (options_uac.xml):
//
//	optionsuas -listen 127.0.0.1:5070 &
//	sipp -sf options_uac.xml -m 1000 -r 200 127.0.0.1:5070          # UDP
//	sipp -sf options_uac.xml -m 1000 -r 200 -t t1 127.0.0.1:5070    # TCP
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// responder answers OPTIONS with 200 and other requests with 501.
type responder struct{ l *transport.Layer }

func (r *responder) HandleMessage(in transport.Incoming) {
	req, ok := in.Msg.(*sip.Request)
	if !ok || req.Method == sip.ACK {
		return
	}
	code := sip.StatusOK
	if req.Method != sip.OPTIONS {
		code = sip.StatusNotImplemented
	}
	res := sip.NewResponse(req, code, "")
	if err := r.l.SendResponse(context.Background(), res, in.Flow); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
	}
}

func (r *responder) HandleFlowError(transport.Flow, error) {}

func main() {
	listen := flag.String("listen", "127.0.0.1:5070", "host:port for UDP and TCP")
	flag.Parse()
	l, err := transport.New(transport.Config{})
	if err == nil {
		err = l.Serve(&responder{l: l})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, n := range []transport.Network{transport.UDP, transport.TCP} {
		a, err := l.Listen(ctx, n, *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("listening %s %s\n", n, a)
	}
	<-ctx.Done()
	_ = l.Close()
}
