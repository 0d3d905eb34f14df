// Command dial is a softphone on the command line, built on package ua: it
// registers a line (when given a registrar), places a call to a URI or waits
// for calls and answers them, and prints one line per event.
//
//	dial -listen 127.0.0.1:5090                       # answer every call
//	dial -listen 127.0.0.1:5090 -answer-after 3s      # ring 3 s, then answer
//	dial -listen 127.0.0.1:5090 -answer-after -1      # reject with 486
//	dial -aor sip:alice@example.com -pass secret \
//	     -registrar sip:example.com sip:bob@example.com
//
//	dial -play hello.wav -record reply.wav -dtmf 123# sip:echo@127.0.0.1:5070
//	dial -hold-after 5s -resume-after 5s -trace -pcap call.pcap sip:bob@127.0.0.1:5070
//
// Server redundancy (package ua, RFC 3263 failover): -registrar and -proxy
// (or -outbound) may be domains that resolve, through -dns host:port, to
// several servers; a server silent for -failover-after (default 4s) is left
// for the next, -alt-proxy and -alt-outbound name alternates, and
// -dual-register registers with both. Each move of the line to another
// server prints a "server moved" line.
//
//	dial -aor sip:alice@example.test -registrar sip:example.test \
//	     -dns 127.0.0.1:5353 -failover-after 2s sip:bob@example.test
//
// Flags may also come from the environment: DIAL_AOR, DIAL_USER, DIAL_PASS,
// DIAL_REGISTRAR, DIAL_PROXY. Calls carry audio (package rtp through ua):
// -play sends a WAV file once the call is up (any PCM or G.711 WAV,
// converted to 8 kHz mono), -record writes what the peer sends to a WAV
// file (16-bit, 8 kHz, mono) while the call is up, -dtmf sends digits after
// the answer (-dtmf-after later). -hold-after puts the peer on hold with a
// re-INVITE (a=sendonly), -hold-music FILE plays a WAV to it, looped, while
// it is held, -resume-after takes it off hold. -trace prints
// every SIP message to stderr, -pcap writes them to a capture file.
// Received digits are printed as events. The first Ctrl-C hangs up and
// unregisters, waiting for the answers; a second one quits at once.
//
// For load tests (../shared/bench/load-uas.sh, mem-dialogs.sh,
// scripts/load-tcp.sh): -no-media answers with an inactive audio stream
// and opens no RTP sockets, -quiet prints no per-event lines, -tls-listen
// adds a TLS listener (its certificate from -tls-listen-cert and
// -tls-listen-key, or a self-signed one made at start whose fingerprint
// it prints), -udp-rcvbuf sets the UDP receive buffer, and -stats FILE
// writes the runtime figures those scripts read (SIGUSR1 collects garbage first, on Unix systems). -cpuprofile
// writes a CPU profile until exit, -exectrace an execution trace (goroutine
// wake-ups); -memprofile, when listening, a heap
// profile of what is live when stopped.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/ua"
)

func main() { cli.Main("dial", run) }

// usageAbout is what -h says after the usage line.
const usageAbout = `With target-uri (sip:bob@example.com), dial calls it, prints one line per
event, and exits when the call ends. Without one, it listens (-listen),
prints the URI to call it at, and takes every incoming call (answering at
once, or as -answer-after says) until interrupted. The first Ctrl-C hangs
up and unregisters; a second one quits at once. Flags may come before or
after target-uri.`

// options are dial's flags, parsed.
type options struct {
	line                            *cli.LineFlags
	trace                           *cli.TraceFlags
	answer                          *cli.AnswerFlags
	metrics                         *cli.MetricsFlag
	failover                        *failoverFlags
	media                           *cli.MediaFlags
	holdMusic                       *cli.HoldMusicFlag
	tlsListen                       *tlsListenFlags
	listen, mediaIP                 string
	hangupAfter, t1                 time.Duration
	holdAfter, resumeAfter          time.Duration
	dtmfAfter                       time.Duration
	play, recordTo, dtmf            string
	hangupAfterPlay, noMedia, quiet bool
	rcvbuf                          int
	statsFile, cpuProfile, traceOut string
	memProfile                      string
	target                          string
	fixedSDP                        []byte // -no-media: the same inactive session for every call
}

// parse reads dial's command line.
func parse(args []string, stderr io.Writer) (*options, error) {
	fs := cli.NewFlagSet("dial", "[flags] [target-uri]", usageAbout, stderr)
	o := &options{}
	o.line = cli.AddLineFlags(fs, "DIAL")
	o.trace = cli.AddTraceFlags(fs)
	o.answer = cli.AddAnswerFlags(fs)
	o.metrics = cli.AddMetricsFlag(fs)
	o.failover = addFailoverFlags(fs)
	o.media = cli.AddMediaFlags(fs)
	o.holdMusic = cli.AddHoldMusicFlag(fs)
	o.tlsListen = addTLSListenFlags(fs)
	fs.StringVar(&o.listen, "listen", "0.0.0.0:5060", "host:port to listen on (UDP and TCP; port 0 picks one)")
	fs.DurationVar(&o.hangupAfter, "hangup-after", 0, "hang up a call this long after it is answered (0: never)")
	fs.DurationVar(&o.holdAfter, "hold-after", 0, "put the peer on hold (re-INVITE, a=sendonly) this long after the answer (0: never)")
	fs.DurationVar(&o.resumeAfter, "resume-after", 0, "with -hold-after: take the peer off hold (a=sendrecv) this long after holding (0: never)")
	fs.DurationVar(&o.t1, "t1", 0, "RFC 3261 T1 (0: 500 ms)")
	fs.StringVar(&o.play, "play", "", "WAV file to send once a call is up")
	fs.StringVar(&o.recordTo, "record", "", "WAV file to record the peer's audio to while a call is up")
	fs.StringVar(&o.dtmf, "dtmf", "", "DTMF digits to send once a call is up (after -play; RFC 4733, or SIP INFO when the peer has no telephone-event)")
	fs.DurationVar(&o.dtmfAfter, "dtmf-after", 0, "send the -dtmf digits this long after the answer (or after -play ends, if later)")
	fs.BoolVar(&o.hangupAfterPlay, "hangup-after-play", false, "hang up when -play and -dtmf are done")
	fs.StringVar(&o.mediaIP, "media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	fs.BoolVar(&o.noMedia, "no-media", false, "no RTP: offer and answer an inactive audio stream (signaling load tests)")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the listening lines and errors, not one line per event")
	fs.IntVar(&o.rcvbuf, "udp-rcvbuf", 0, "UDP socket receive buffer in bytes (0: the transport's default, 4 MiB)")
	fs.StringVar(&o.statsFile, "stats", "", "append runtime stats to this file once a second (on Unix, SIGUSR1: collect garbage, then write)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until dial exits")
	fs.StringVar(&o.traceOut, "exectrace", "", "write an execution trace (runtime/trace) to this file until dial exits")
	fs.StringVar(&o.memProfile, "memprofile", "", "with -listen and no target: write a heap profile of the live objects to this file when stopped, before hanging up")
	rest, err := cli.Parse(fs, args)
	if err != nil {
		return nil, err
	}
	switch len(rest) {
	case 0:
	case 1:
		o.target = rest[0]
	default:
		return nil, cli.Usagef("one target URI at most, got %d arguments: %q", len(rest), rest)
	}
	if err := o.answer.Check(); err != nil {
		return nil, err
	}
	if err := o.tlsListen.check(); err != nil {
		return nil, err
	}
	if err := o.failover.check(o.line.Lines()); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-hangup-after", o.hangupAfter}, {"-hold-after", o.holdAfter}, {"-resume-after", o.resumeAfter}, {"-dtmf-after", o.dtmfAfter}} {
		if d.v < 0 {
			return nil, cli.Usagef("%s %s: want a duration of 0 or more", d.name, d.v)
		}
	}
	if o.resumeAfter > 0 && o.holdAfter == 0 {
		return nil, cli.Usagef("-resume-after needs -hold-after")
	}
	if o.dtmfAfter > 0 && o.dtmf == "" {
		return nil, cli.Usagef("-dtmf-after needs -dtmf digits")
	}
	for _, d := range o.dtmf {
		if _, err := dtmf.EventForDigit(d); err != nil {
			return nil, cli.Usagef("-dtmf %q: %v", o.dtmf, err)
		}
	}
	return o, nil
}

// run is dial: see the package documentation and usageAbout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	stopProfile, err := cli.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	stopTrace, err := cli.StartTrace(o.traceOut)
	if err != nil {
		return err
	}
	defer stopTrace()
	if o.play != "" { // fail early on an unreadable file
		f, err := os.Open(o.play)
		if err != nil {
			return err
		}
		_, err = wav.NewReader(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.play, err)
		}
	}
	tracing, err := o.trace.Start(stderr)
	if err != nil {
		return err
	}
	defer tracing.Close()

	printf := cli.NewPrinter(stdout).Printf
	events := cli.NewEventPrinter(printf)
	var count counters
	cfg := ua.Config{
		Listen:      cli.Listeners(o.listen),
		Transport:   ua.TransportConfig{UDPReadBuffer: o.rcvbuf, Tracer: tracing.Tracer()},
		Transaction: ua.TransactionConfig{Timers: ua.Timers{T1: o.t1}},
		UserAgent:   "dialtone-dial",
		Limits:      o.answer.Limits(cli.Limits()),
		OnEvent: func(e ua.Event) {
			count.count(e)
			if !o.quiet {
				events.Print(e)
			}
		},
	}
	if o.noMedia {
		cfg.Media.DisableMedia = true
		host, _, err := net.SplitHostPort(o.listen)
		if err != nil {
			return cli.Usagef("-listen: %v", err)
		}
		o.fixedSDP = noMediaSDP(host)
	}
	if cfg.Media.IP, err = cli.MediaIP(o.mediaIP); err != nil {
		return err
	}
	if err := o.line.Configure(&cfg, stderr); err != nil {
		return err
	}
	if err := o.failover.apply(&cfg); err != nil {
		return err
	}
	if err := o.media.Apply(&cfg.Media); err != nil {
		return err
	}
	if err := o.holdMusic.Apply(&cfg.Media); err != nil {
		return err
	}
	fingerprint, err := o.tlsListen.apply(&cfg)
	if err != nil {
		return err
	}
	if fingerprint != "" {
		printf("tls certificate self-signed sha-256 %s", fingerprint)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	calls := &caller{o: o, ctx: ctx, wg: &wg, printf: printf}
	cfg.InlineOnCall = true // OnCall answers or hands over, and returns at once
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		o.answer.Take(ctx, &wg, ic, calls.answer, printf)
	}
	u, err := ua.New(cfg)
	if err != nil {
		return err
	}
	defer u.Close()
	stopMetrics, err := o.metrics.Start(u, printf)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if o.statsFile != "" {
		statsCtx, stopStats := context.WithCancel(ctx)
		var statsWG sync.WaitGroup
		defer statsWG.Wait()
		defer stopStats()
		statsWG.Go(func() {
			if err := writeStats(statsCtx, o.statsFile, u, &count); err != nil {
				printf("stats err=%q", err)
			}
		})
	}

	if o.target == "" {
		cli.PrintListening(u, "dial", printf)
		if o.tlsListen.addr != "" {
			// Addrs follows cfg.Listen, to which the TLS listener was
			// appended last; PrintListening names it tcp.
			addrs := u.Addrs()
			printf("tls listener at %s", addrs[len(addrs)-1])
		}
		<-ctx.Done()
		if o.memProfile != "" {
			if err := writeHeapProfile(o.memProfile); err != nil {
				printf("memprofile err=%q", err)
			}
		}
		return cli.Stop(u, printf)
	}
	c, err := u.Dial(ctx, o.target, ua.DialOptions{SDP: o.fixedSDP, Transport: o.line.Network()})
	if err != nil {
		if ctx.Err() != nil {
			printf("canceled before the answer")
			return cli.Stop(u, printf)
		}
		_ = cli.Stop(u, printf)
		return fmt.Errorf("call to %s: %w", o.target, dialError(err))
	}
	endPrinted := events.Watch(c.CallID())
	calls.started(c)
	select {
	case <-c.Done():
		// The call's actions end with it; a hang-up of ours waits for
		// the answer to its BYE before the UA closes.
		wg.Wait()
		if !o.quiet {
			waitPrinted(endPrinted)
		}
	case <-ctx.Done():
	}
	return cli.Stop(u, printf)
}

// endPrintWait bounds the wait for a call's "ended" line after its end:
// the UA reports the end right after Done closes, on the same goroutine.
const endPrintWait = time.Second

// waitPrinted waits for ch, at most endPrintWait.
func waitPrinted(ch <-chan struct{}) {
	t := time.NewTimer(endPrintWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// dialError says why a call was not answered, without the package prefix
// for the common case of a refusal.
func dialError(err error) error {
	var se *ua.StatusError
	if errors.As(err, &se) && !errors.Is(err, ua.ErrAuthFailed) {
		return fmt.Errorf("refused by peer: %d %s", se.Code(), se.Response.Reason)
	}
	return err
}
