// Command dial is a softphone on the command line, built on package ua: it
// registers a line (when given a registrar), places a call to a URI or waits
// for calls and answers every one, and prints one line per event.
//
//	dial -listen 127.0.0.1:5090                       # answer every call
//	dial -aor sip:alice@example.com -pass secret \
//	     -registrar sip:example.com sip:bob@example.com
//
//	dial -play hello.wav -record reply.wav -dtmf 123# sip:echo@127.0.0.1:5070
//
// Flags may also come from the environment: DIAL_AOR, DIAL_USER, DIAL_PASS,
// DIAL_REGISTRAR, DIAL_PROXY. Calls carry audio (package rtp through ua):
// -play sends a WAV file once the call is up (any PCM or G.711 WAV,
// converted to 8 kHz mono), -record writes what the peer sends to a WAV
// file (16-bit, 8 kHz, mono) while the call is up, -dtmf sends digits after
// the answer. Received digits are printed as events. Ctrl-C hangs up and
// unregisters.
//
// For load tests (../shared/bench/load-uas.sh, mem-dialogs.sh):
// -no-media answers with an inactive audio stream and opens no RTP
// sockets, -quiet prints no per-event lines, -udp-rcvbuf sets the UDP
// receive buffer, and -stats FILE writes the runtime figures those scripts
// read (SIGUSR1 collects garbage first). -cpuprofile writes a CPU profile
// until exit; -memprofile, when listening, a heap profile of what is live
// when stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
}

func run() error {
	line := cli.AddLineFlags(flag.CommandLine, "DIAL")
	listen := flag.String("listen", "0.0.0.0:5060", "host:port to listen on (UDP and TCP)")
	hangupAfter := flag.Duration("hangup-after", 0, "hang up a call this long after it is answered (0: never)")
	t1 := flag.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)")
	play := flag.String("play", "", "WAV file to send once a call is up")
	recordTo := flag.String("record", "", "WAV file to record the peer's audio to while a call is up")
	dtmf := flag.String("dtmf", "", "DTMF digits to send once a call is up (after -play)")
	hangupAfterPlay := flag.Bool("hangup-after-play", false, "hang up when -play and -dtmf are done")
	mediaIP := flag.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	noMedia := flag.Bool("no-media", false, "no RTP: offer and answer an inactive audio stream (signaling load tests)")
	quiet := flag.Bool("quiet", false, "print only the listening lines and errors, not one line per event")
	rcvbuf := flag.Int("udp-rcvbuf", 0, "UDP socket receive buffer in bytes (0: the transport's default, 4 MiB)")
	statsFile := flag.String("stats", "", "append runtime stats to this file once a second (SIGUSR1: collect garbage, then write)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until dial exits")
	memProfile := flag.String("memprofile", "", "with -listen and no target: write a heap profile of the live objects to this file when stopped, before hanging up")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	if *play != "" { // fail early on an unreadable file
		f, err := os.Open(*play)
		if err != nil {
			return err
		}
		_, err = rtp.NewWAVReader(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *play, err)
		}
	}
	target := flag.Arg(0)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	printf := cli.NewPrinter(os.Stdout).Printf
	var count counters
	cfg := ua.Config{
		Listen:        cli.Listeners(*listen),
		Timers:        transaction.Timers{T1: *t1},
		UserAgent:     "dialtone-dial",
		UDPReadBuffer: *rcvbuf,
		OnEvent: func(e ua.Event) {
			count.count(e)
			if !*quiet {
				printf("%s", e)
			}
		},
	}
	var fixedSDP []byte // -no-media: the same inactive session for every call
	if *noMedia {
		cfg.Media.DisableMedia = true
		host, _, err := net.SplitHostPort(*listen)
		if err != nil {
			return fmt.Errorf("-listen: %w", err)
		}
		fixedSDP = noMediaSDP(host)
	}
	var err error
	if cfg.Media.IP, err = cli.MediaIP(*mediaIP); err != nil {
		return err
	}
	cfg.Lines = line.Lines()
	var wg sync.WaitGroup
	defer wg.Wait()
	recorded := false // one recording: the first call's
	var recMu sync.Mutex
	hangLater := func(c *ua.Call) {
		recMu.Lock()
		rec := *recordTo != "" && !recorded
		recorded = recorded || rec
		recMu.Unlock()
		if rec {
			wg.Go(func() { record(ctx, c, *recordTo, printf) })
		}
		if *play != "" || *dtmf != "" {
			wg.Go(func() {
				send(ctx, c, *play, *dtmf, printf)
				if *hangupAfterPlay {
					_ = c.Hangup(context.Background())
				}
			})
		}
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
	cfg.InlineOnCall = true // OnCall answers and returns at once
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		c, err := ic.Answer(fixedSDP)
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
	if *statsFile != "" {
		statsCtx, stopStats := context.WithCancel(ctx)
		defer stopStats() // before wg.Wait, which was deferred earlier
		wg.Go(func() {
			if err := writeStats(statsCtx, *statsFile, u, &count); err != nil {
				printf("stats err=%q", err)
			}
		})
	}

	if target == "" {
		<-ctx.Done()
		printf("stopping")
		if *memProfile != "" {
			if err := writeHeapProfile(*memProfile); err != nil {
				printf("memprofile err=%q", err)
			}
		}
		return u.Close()
	}
	c, err := u.Dial(ctx, target, ua.DialOptions{SDP: fixedSDP})
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

// send plays the WAV file name (if any), then sends digits (if any).
func send(ctx context.Context, c *ua.Call, name, digits string, printf func(string, ...any)) {
	s := c.Media()
	if s == nil {
		return
	}
	if name != "" {
		f, err := os.Open(name)
		if err != nil {
			printf("play err=%q", err)
			return
		}
		defer f.Close()
		r, err := rtp.NewWAVReader(f)
		if err != nil {
			printf("play err=%q", err)
			return
		}
		start := time.Now()
		err = s.Play(ctx, r)
		printf("played file=%s seconds=%.1f err=%v", name, time.Since(start).Seconds(), err)
		if err != nil {
			return
		}
	}
	if digits != "" {
		err := c.SendDTMF(ctx, digits)
		printf("sent dtmf=%q err=%v", digits, err)
	}
}

// record writes the call's received audio to the WAV file name until the
// call ends.
func record(ctx context.Context, c *ua.Call, name string, printf func(string, ...any)) {
	s := c.Media()
	if s == nil {
		return
	}
	f, err := os.Create(name)
	if err != nil {
		printf("record err=%q", err)
		return
	}
	w, err := rtp.NewWAVWriter(f)
	if err != nil {
		f.Close()
		printf("record err=%q", err)
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Done():
		case <-rctx.Done():
		}
		cancel()
	}()
	err = s.Record(rctx, w) // ends with the call: ctx's error or rtp.ErrSessionClosed
	if cerr := w.Close(); cerr != nil {
		err = cerr
	}
	if cerr := f.Close(); cerr != nil {
		err = cerr
	}
	st := s.Stats()
	printf("recorded file=%s rx=%d lost=%d jitter=%s end=%v", name, st.PacketsReceived, st.PacketsLost, st.Jitter, err)
}
