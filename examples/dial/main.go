// Command dial is a softphone on the command line, built on package ua: it
// registers a line (when given a registrar), places a call to a URI or waits
// for calls and answers every one, and prints one line per event.
//
//	dial -listen 127.0.0.1:5090                       # answer every call
//	dial -aor sip:alice@example.com -pass secret \
//	     -registrar sip:example.com sip:bob@example.com
//
// Flags may also come from the environment: DIAL_AOR, DIAL_USER, DIAL_PASS,
// DIAL_REGISTRAR, DIAL_PROXY. Media is not wired yet: calls carry a fixed
// minimal SDP (PCMU) offer or answer. Ctrl-C hangs up and unregisters.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	aor := flag.String("aor", env("DIAL_AOR", ""), "address of record of the line (sip:alice@example.com)")
	user := flag.String("user", env("DIAL_USER", ""), "digest user name (default: the AOR's user)")
	pass := flag.String("pass", env("DIAL_PASS", ""), "digest password")
	registrar := flag.String("registrar", env("DIAL_REGISTRAR", ""), "registrar URI; empty: no registration")
	proxy := flag.String("proxy", env("DIAL_PROXY", ""), "outbound proxy URI")
	network := flag.String("transport", "", "transport for the line's requests: udp, tcp, tls")
	listen := flag.String("listen", "0.0.0.0:5060", "host:port to listen on (UDP and TCP)")
	hangupAfter := flag.Duration("hangup-after", 0, "hang up a call this long after it is answered (0: never)")
	t1 := flag.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)")
	flag.Parse()
	target := flag.Arg(0)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var out sync.Mutex
	printf := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
	}
	cfg := ua.Config{
		Listen: []ua.ListenConfig{
			{Network: transport.UDP, Addr: *listen},
			{Network: transport.TCP, Addr: *listen},
		},
		Timers:    transaction.Timers{T1: *t1},
		UserAgent: "dialtone-dial",
		OnEvent:   func(e ua.Event) { printf("%s", e) },
	}
	if *aor != "" {
		cfg.Lines = []ua.LineConfig{{
			AOR: *aor, Username: *user, Password: *pass, Registrar: *registrar,
			OutboundProxy: *proxy, Transport: transport.Network(*network),
		}}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	hangLater := func(c *ua.Call) {
		if *hangupAfter <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTimer(*hangupAfter)
			defer t.Stop()
			select {
			case <-t.C:
				_ = c.Hangup(context.Background())
			case <-c.Done():
			case <-ctx.Done():
			}
		})
	}
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		host := localHost(ic)
		c, err := ic.Answer(minimalSDP(host))
		if err != nil {
			printf("answer failed call=%s err=%q", ic.CallID(), err)
			return
		}
		hangLater(c)
	}
	u, err := ua.New(cfg)
	if err != nil {
		return err
	}
	defer u.Close()
	for _, a := range u.Addrs() {
		printf("listening %s %s", a.Network(), a)
	}

	if target == "" {
		<-ctx.Done()
		printf("stopping")
		return u.Close()
	}
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(*listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	}
	c, err := u.Dial(ctx, target, ua.DialOptions{SDP: minimalSDP(host)})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			printf("canceled")
			return u.Close()
		}
		return err
	}
	hangLater(c)
	select {
	case <-c.Done():
	case <-ctx.Done():
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(hctx)
		cancel()
	}
	return u.Close()
}

// localHost is the address to put in our SDP for an incoming call.
func localHost(ic *ua.IncomingCall) string {
	h := ic.Request().URI.Hostname()
	if ip := net.ParseIP(h); ip != nil {
		return h
	}
	return "127.0.0.1"
}

// minimalSDP is a fixed PCMU offer or answer (RFC 4566, RFC 3264) on a port
// nothing listens on yet: media comes with the rtp issue.
func minimalSDP(host string) []byte {
	return []byte("v=0\r\n" +
		"o=dial 1 1 IN IP4 " + host + "\r\n" +
		"s=-\r\n" +
		"c=IN IP4 " + host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=sendrecv\r\n")
}
