// Command sipflood sends hostile SIP input at a server for a while (issue
// 21 §3): mutants of the torture corpus (package mutate: bit flips,
// truncation, duplicated headers, huge and negative numbers, wrong
// Content-Length, binary junk) at a set rate over UDP and over many
// concurrent TCP connections, plus slowloris connections (a request one
// byte at a time) and one connection announcing a 100 MB body and sending
// it. It is deterministic for a -seed (which mutants, in which order, per
// socket; not the timing).
//
//	sipflood -target 127.0.0.1:5060 -corpus sip/testdata/torture \
//	    -duration 10s -udp-rate 10000 -tcp-rate 10000 -conns 1000 -slowloris 20 -big-body
//
// At the end it prints one JSON object: what it sent, how many of the UDP
// datagrams do not parse (sip.Parse, the count the server's transport must
// show as malformed), the 400 responses it got back, the connections the
// server closed, and whether the slowloris and big-body connections were
// cut off. The interop test TestFlood (flood_test.go) reads it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/internal/interop/sipflood/mutate"
)

// config are the flags.
type config struct {
	target     string
	corpus     string
	seed       uint64
	duration   time.Duration
	udpRate    int
	tcpRate    int
	conns      int
	slowloris  int
	slowEvery  time.Duration
	bigBody    bool
	settle     time.Duration
	dialTimout time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "host:port of the server (UDP and TCP)")
	flag.StringVar(&cfg.corpus, "corpus", "sip/testdata/torture", "directory of seed messages (*.dat)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the mutations")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long to flood")
	flag.IntVar(&cfg.udpRate, "udp-rate", 2000, "mutants per second over UDP (0: none)")
	flag.IntVar(&cfg.tcpRate, "tcp-rate", 2000, "mutants per second over TCP, over all connections (0: none)")
	flag.IntVar(&cfg.conns, "conns", 100, "concurrent TCP connections carrying mutants")
	flag.IntVar(&cfg.slowloris, "slowloris", 10, "slowloris connections: a request one byte at a time")
	flag.DurationVar(&cfg.slowEvery, "slowloris-interval", time.Second, "time between two bytes of a slowloris connection")
	flag.BoolVar(&cfg.bigBody, "big-body", true, "one TCP connection announcing a 100 MB Content-Length and sending it")
	flag.DurationVar(&cfg.settle, "settle", time.Second, "wait this long after the flood for the last answers")
	flag.DurationVar(&cfg.dialTimout, "dial-timeout", 5*time.Second, "TCP connect timeout")
	flag.Parse()
	if cfg.target == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: sipflood -target host:port [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sipflood:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintln(os.Stderr, "sipflood:", err)
		os.Exit(1)
	}
}

// run floods cfg.target for cfg.duration, then waits cfg.settle for the
// last answers and returns the summary.
func run(ctx context.Context, cfg config) (*Summary, error) {
	seeds, err := mutate.LoadSeeds(cfg.corpus)
	if err != nil {
		return nil, err
	}
	sum := &Summary{ByKind: map[string]uint64{}}
	floodCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	start := time.Now()
	var parts []func() error
	if cfg.udpRate > 0 {
		u, err := newUDPFlood(cfg, seeds, sum)
		if err != nil {
			return nil, err
		}
		parts = append(parts, func() error { return u.run(floodCtx, cfg.settle) })
	}
	if cfg.tcpRate > 0 && cfg.conns > 0 {
		parts = append(parts, func() error { return tcpFlood(floodCtx, cfg, seeds, sum) })
	}
	if cfg.slowloris > 0 {
		parts = append(parts, func() error { return slowloris(floodCtx, cfg, sum) })
	}
	if cfg.bigBody {
		parts = append(parts, func() error { return bigBody(floodCtx, cfg, sum) })
	}
	errs := make(chan error, len(parts))
	for _, p := range parts {
		go func() { errs <- p() }()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	sum.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return sum, first
}
