// Command uaload places calls with package ua at a steady rate, the peer of
// SIPp's built-in uas scenario in the ua load check (issue 5):
//
//	sipp -sn uas -i 127.0.0.1 -p 5080 -m 5000 &
//	uaload -target sip:service@127.0.0.1:5080 -calls 5000 -rate 200
//
// Each call is ua.UA.Dial (INVITE with a fixed SDP offer, ACK for the 2xx
// from the UA core), an optional hold time, then Call.Hangup (BYE, which
// must get its 2xx). Calls start at -rate per second whatever the state of
// the earlier ones, as SIPp's -r does.
//
// uaload prints one summary line
//
//	summary calls=5000 ok=5000 failed=0 dial-errors=0 hangup-errors=0 elapsed=25.1s cps=199.2 max-concurrent=3
//
// and exits with status 1 when a call failed or -timeout passed first; -v
// prints the error of each failed call.
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
	"sync/atomic"
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
	flag.BoolVar(&cfg.verbose, "v", false, "print the error of each failed call")
	flag.Parse()
	if cfg.target == "" || cfg.calls < 1 || cfg.rate <= 0 {
		fmt.Fprintln(os.Stderr, "uaload: -target, -calls ≥ 1 and -rate > 0 are required")
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
	verbose     bool
}

// counters are the run's outcome.
type counters struct {
	ok, dialErrors, hangupErrors atomic.Int64
	live, maxLive                atomic.Int64
}

func run(cfg config) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	u, err := ua.New(ua.Config{
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: cfg.listen}},
		UserAgent: "dialtone-uaload",
	})
	if err != nil {
		return false, err
	}
	defer u.Close()
	sdp := offer(u)

	var (
		n   counters
		wg  sync.WaitGroup
		out sync.Mutex
	)
	fail := func(i int, what string, err error) {
		if cfg.verbose {
			out.Lock()
			fmt.Printf("call %d: %s: %v\n", i, what, err)
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
	ok := n.ok.Load()
	failed := int64(cfg.calls) - ok
	fmt.Printf("summary calls=%d ok=%d failed=%d dial-errors=%d hangup-errors=%d not-started=%d elapsed=%s cps=%.1f max-concurrent=%d\n",
		cfg.calls, ok, failed, n.dialErrors.Load(), n.hangupErrors.Load(), cfg.calls-started,
		elapsed.Round(time.Millisecond), float64(ok)/elapsed.Seconds(), n.maxLive.Load())
	if err := u.Close(); err != nil {
		return false, err
	}
	return failed == 0 && ctx.Err() == nil, nil
}

// call places call i and hangs it up.
func call(ctx context.Context, u *ua.UA, cfg config, sdp []byte, i int, n *counters, fail func(int, string, error)) {
	live := n.live.Add(1)
	defer n.live.Add(-1)
	for {
		m := n.maxLive.Load()
		if live <= m || n.maxLive.CompareAndSwap(m, live) {
			break
		}
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	c, err := u.Dial(dctx, cfg.target, ua.DialOptions{SDP: sdp})
	cancel()
	if err != nil {
		n.dialErrors.Add(1)
		fail(i, "dial", err)
		return
	}
	if cfg.hold > 0 {
		t := time.NewTimer(cfg.hold)
		select {
		case <-t.C:
		case <-c.Done():
		case <-ctx.Done():
		}
		t.Stop()
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
	defer cancel()
	if err := c.Hangup(hctx); err != nil {
		n.hangupErrors.Add(1)
		fail(i, "hangup", err)
		return
	}
	if err := c.Err(); !errors.Is(err, ua.ErrLocalHangup) {
		n.hangupErrors.Add(1)
		fail(i, "ended", err)
		return
	}
	n.ok.Add(1)
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
