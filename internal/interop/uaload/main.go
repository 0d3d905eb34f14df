// Command uaload places calls with package ua at a steady rate, the peer of
// SIPp's built-in uas scenario in the ua load check (issue 5):
//
//	sipp -sn uas -i 127.0.0.1 -p 5080 -m 5000 &
//	uaload -target sip:service@127.0.0.1:5080 -calls 5000 -rate 200
//
// Each call is ua.UA.Dial (INVITE with a fixed SDP offer, ACK for the 2xx
// from the UA core), an optional hold time, then Call.Hangup (BYE, which
// must get its 2xx). Calls start at -rate per second whatever the state of
// the earlier ones, as SIPp's -r does. -t1 sets RFC 3261's T1 (Timer B and
// F are 64·T1); -call-timeout bounds each call's set-up and its hang-up
// apart from those timers.
//
// uaload prints one summary line of key=value fields
//
//	summary calls=5000 ok=5000 failed=0 dial-errors=0 hangup-errors=0 not-started=0 elapsed=25.1s
//	cps=199.2 max-concurrent=3 invite-timeouts=0 invite-status=0 invite-other=0 bye-timeouts=0
//	bye-other=0 setup-n=5000 setup-p50=412µs setup-p99=1.9ms setup-max=3.2ms retransmits=0
//	retransmits-per-call=0.000
//
// (on one line): dial-errors are the failed Dials, by cause
// invite-timeouts (Timer B: no final response), invite-status (a non-2xx
// final response) and invite-other (transport error, -call-timeout,
// -timeout); hangup-errors the failed hang-ups, by cause bye-timeouts
// (Timer F) and bye-other. setup-* is the set-up time of the answered
// calls (Dial's start, the INVITE going out, to its return on the 2xx):
// how many, p50, p99 and max (nearest rank). retransmits counts the
// requests the transaction layer sent again (ua.Stats: Timers A and E),
// retransmits-per-call that over -calls.
//
// With -media each call carries RTP: Dial offers the UA's own media
// session (PCMU, PCMA, telephone-event on an RTP port of the listener's
// address), which sends silence while the host plays nothing, and the
// summary adds the quality of the calls that ended well (rtp.Quality at
// their end): media-calls, rtp-silent (those that received no RTP), rtp-sent, rtp-received, rtp-lost (RFC 3550
// cumulative loss), rtp-late, and the E-model MOS's mos-min, mos-p50 and
// mos-max.
//
// -transport tcp or tls places every call over one connection to the
// target (the UA has no listener of that network, so it is a client on its
// own connection, as SIPp's -t t1 and -t l1 are): the load of SIP over a
// stream, and over TLS, which this SIPp cannot generate (it is built
// without OpenSSL). -tls-insecure skips the verification of the server's
// certificate (a test server's self-signed one).
//
// uaload exits with status 1 when a call failed or -timeout passed first;
// -v prints the error of each failed call with its cause.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "SIP URI to call (sip:service@127.0.0.1:5080)")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "local host:port to listen on (UDP)")
	flag.IntVar(&cfg.calls, "calls", 1, "number of calls")
	flag.Float64Var(&cfg.rate, "rate", 10, "calls started per second")
	flag.DurationVar(&cfg.hold, "hold", 0, "how long each call lasts between answer and hang-up")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "bound on the whole run")
	flag.DurationVar(&cfg.callTimeout, "call-timeout", 40*time.Second, "bound on one call's set-up and on its hang-up")
	flag.DurationVar(&cfg.t1, "t1", 0, "RFC 3261 T1 (0: 500 ms)")
	flag.BoolVar(&cfg.verbose, "v", false, "print the error of each failed call")
	flag.BoolVar(&cfg.media, "media", false, "carry RTP in every call (the UA's own media session) and report its quality")
	network := flag.String("transport", "udp", "transport of the calls: udp, tcp or tls (tcp, tls: every call over one connection)")
	flag.BoolVar(&cfg.insecure, "tls-insecure", false, "do NOT verify the TLS server's certificate (test servers with self-signed ones)")
	flag.Parse()
	cfg.network = transport.Network(strings.ToLower(*network))
	if cfg.target == "" || cfg.calls < 1 || cfg.rate <= 0 || cfg.t1 < 0 {
		fmt.Fprintln(os.Stderr, "uaload: -target, -calls ≥ 1, -rate > 0 and -t1 ≥ 0 are required")
		os.Exit(2)
	}
	switch cfg.network {
	case transport.UDP, transport.TCP, transport.TLS:
	default:
		fmt.Fprintf(os.Stderr, "uaload: -transport %q: want udp, tcp or tls\n", *network)
		os.Exit(2)
	}
	ok, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uaload:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	target      string
	listen      string
	calls       int
	rate        float64
	hold        time.Duration
	timeout     time.Duration
	callTimeout time.Duration
	t1          time.Duration
	verbose     bool
	media       bool
	network     transport.Network
	insecure    bool
}

func run(cfg config) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	ucfg := ua.Config{
		Listen:      []ua.ListenConfig{{Network: transport.UDP, Addr: cfg.listen}},
		UserAgent:   "dialtone-uaload",
		Transaction: ua.TransactionConfig{Timers: ua.Timers{T1: cfg.t1}},
	}
	if cfg.insecure {
		ucfg.Transport.ClientTLS = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	}
	if cfg.media {
		host, _, err := net.SplitHostPort(cfg.listen)
		if err != nil {
			return false, fmt.Errorf("-listen %q: %w", cfg.listen, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return false, fmt.Errorf("-media needs -listen with an IP address: %w", err)
		}
		ucfg.Media = ua.MediaConfig{IP: ip}
	}
	u, err := ua.New(ucfg)
	if err != nil {
		return false, err
	}
	defer u.Close()
	var sdp []byte // -media: the UA's own session offers
	if !cfg.media {
		sdp = offer(u)
	}

	var (
		n   counters
		wg  sync.WaitGroup
		out sync.Mutex
	)
	fail := func(i int, what string, err error) {
		if cfg.verbose {
			out.Lock()
			fmt.Printf("call %d: %s (%s): %v\n", i, what, cause(err), err)
			out.Unlock()
		}
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / cfg.rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	started := 0
loop:
	for i := range cfg.calls {
		// Call i starts at start + i·interval, late calls at once.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break loop
			}
		}
		started++
		wg.Go(func() { call(ctx, u, cfg, sdp, i, &n, fail) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	failed := int64(cfg.calls) - n.ok.Load()
	fmt.Println(n.summary(cfg, started, elapsed, u.Stats()))
	if err := u.Close(); err != nil {
		return false, err
	}
	return failed == 0 && ctx.Err() == nil, nil
}

// call places call i and hangs it up.
func call(ctx context.Context, u *ua.UA, cfg config, sdp []byte, i int, n *counters, fail func(int, string, error)) {
	defer n.enter()()
	dctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	start := time.Now()
	c, err := u.Dial(dctx, cfg.target, ua.DialOptions{SDP: sdp, Transport: cfg.network})
	setup := time.Since(start)
	cancel()
	if err != nil {
		n.dialFailed(err)
		fail(i, "dial", err)
		return
	}
	n.answered(setup)
	hold(ctx, c, cfg.hold)
	hctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	defer cancel()
	if err := c.Hangup(hctx); err != nil {
		n.byeFailed(err)
		fail(i, "hangup", err)
		return
	}
	if err := c.Err(); !errors.Is(err, ua.ErrLocalHangup) {
		n.byeOther.Add(1)
		fail(i, "ended", err)
		return
	}
	n.ok.Add(1)
	if q, ok := c.MediaQuality(); ok && cfg.media {
		n.quality(q)
	}
}

// offer is the fixed SDP offer of every call (media is not part of the
// load check), on the host of the UA's listener.
func offer(u *ua.UA) []byte {
	host := "127.0.0.1"
	if a := u.Addrs(); len(a) > 0 {
		if h, _, err := net.SplitHostPort(a[0].String()); err == nil && h != "" {
			host = h
		}
	}
	return fmt.Appendf(nil, "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", host, host)
}
