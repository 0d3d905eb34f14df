package ua_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// Two user agents on an in-memory network: Alice calls Bob, who rings and
// answers; Alice hangs up.
func Example() {
	n := memnet.New(memnet.Config{})
	defer n.Close()

	answered := make(chan *ua.Call, 1)
	bob, _ := ua.New(ua.Config{
		Transport: ua.TransportConfig{Net: n},
		Resolver:  transport.StaticResolver{},
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.2:5060"}},
		OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
			fmt.Println("bob: call from", ic.From().URI.String())
			_ = ic.Ring()
			c, _ := ic.Answer([]byte(testSDP))
			answered <- c
		},
	})
	defer bob.Close()
	alice, _ := ua.New(ua.Config{
		Transport: ua.TransportConfig{Net: n},
		Resolver:  transport.StaticResolver{},
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.1:5060"}},
		Lines:     []ua.LineConfig{{AOR: "sip:alice@192.0.2.1"}},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				fmt.Println("alice: ringing", e.Response.StatusCode)
			}
		},
	})
	defer alice.Close()

	call, err := alice.Dial(context.Background(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("alice: answered, state", call.State())
	_ = call.Hangup(context.Background())
	bobCall := <-answered
	<-bobCall.Done()
	fmt.Println("bob: call ended:", bobCall.Err())
	_ = alice.Close()
	_ = bob.Close()
	// Output:
	// bob: call from sip:alice@192.0.2.1
	// alice: ringing 180
	// alice: answered, state established
	// bob: call ended: ua: peer hung up
}

// The example runs in a synctest bubble so that its timers are virtual.
func TestExample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { Example() })
}
