// Command demo shows the whole Dialtone stack in one process, on
// 127.0.0.1 with ports the system picks, and no outside peer:
//
//   - a registrar and stateful proxy for the domain demo.test (package
//     proxy) that authenticates REGISTER with digest and proxies calls
//     to the registered contact with a Record-Route; with -redirect, the
//     demo's own small registrar instead (examples/demo/registrar.go, on
//     the transaction layer), which redirects INVITEs for a registered
//     address to its contact (302);
//   - two user agents (package ua), alice and bob, that register with
//     digest (passwords generated at random for the run);
//   - a call from alice to sip:bob@demo.test: the INVITE goes to the
//     proxy, which forwards it to bob's registered contact, and every
//     request of the call crosses the proxy, as in RFC 3261 §4's call
//     flow (with -redirect: the registrar answers 302 with bob's contact,
//     and alice's user agent follows it to bob);
//   - audio both ways for a few seconds: alice plays a 440 Hz tone, bob a
//     melody of 600 and 800 Hz notes, and each side records what it hears;
//   - an RFC 4733 DTMF digit from alice to bob, a hold and a resume
//     (re-INVITEs, with the SDP directions printed), and the hangup.
//
// It prints each step, the SIP call flow (one line per message: time,
// sender -> receiver, request or status, SDP direction), the RTP and
// RTCP figures of each side, and writes what each side heard to
// alice-heard.wav and bob-heard.wav in -out-dir (a new temporary
// directory by default; the output says where). With -pcap FILE it also
// writes every SIP message and RTP/RTCP packet to a capture Wireshark
// opens. It exits 0 only if each side heard the other's signal at the
// expected frequencies (Goertzel analysis of the recordings), the digit
// arrived and hold and resume negotiated the right directions.
//
//	go run ./examples/demo
//	go run ./examples/demo -out-dir /tmp/demo -pcap /tmp/demo/call.pcap
//	go run ./examples/demo -redirect
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	var ue usageError
	switch {
	case errors.As(err, &ue):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// Settings of a run.
const (
	// domain is the SIP domain of the registrar and of both addresses of
	// record; it resolves to the registrar (a static table, no DNS).
	domain = "demo.test"
	// runTimeout bounds the whole run.
	runTimeout = 30 * time.Second
	// stepTimeout bounds each step that waits for the other side.
	stepTimeout = 5 * time.Second
	// minDuration and maxDuration bound -duration.
	minDuration, maxDuration = 500 * time.Millisecond, 10 * time.Second
	// noteLength is the length of each note of bob's melody.
	noteLength = 250 * time.Millisecond
	// holdLength is how long the call stays on hold.
	holdLength = 300 * time.Millisecond
	// rtcpInterval is the sessions' minimum RTCP report interval, short so
	// that a call of a few seconds gets a round-trip time.
	rtcpInterval = 500 * time.Millisecond
)

// melody is what bob plays, note after note.
var melody = []float64{600, 800}

// usageError reports bad flags (exit status 2); the message is printed
// already.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// options are the command line's settings.
type options struct {
	outDir   string
	pcap     string
	duration time.Duration
	tone     float64
	digit    string
	redirect bool
}

func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&o.outDir, "out-dir", "", "directory for alice-heard.wav and bob-heard.wav (default: a new temporary directory)")
	fs.StringVar(&o.pcap, "pcap", "", "also write SIP and RTP/RTCP to this pcap file (Wireshark, tshark, sngrep)")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long each side plays audio")
	fs.Float64Var(&o.tone, "tone", 440, "frequency of alice's tone in Hz")
	fs.StringVar(&o.digit, "digit", "5", "DTMF digit alice sends (0-9, *, #, A-D)")
	fs.BoolVar(&o.redirect, "redirect", false, "use the demo's own registrar, which redirects the call (302), instead of package proxy")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: demo [flags]\n\n"+
			"Runs a registrar and proxy, two user agents (alice and bob) and a call\n"+
			"between them in one process on 127.0.0.1: digest registration, the call\n"+
			"proxied to bob's contact (or, with -redirect, a 302 redirect to it),\n"+
			"audio both ways (a tone and a melody), a DTMF digit, hold,\n"+
			"resume and hangup. Prints the SIP call flow and the RTP figures, writes\n"+
			"what each side heard to WAV files, and exits 0 only if the audio checks out.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	bad := func(format string, args ...any) (options, error) {
		err := fmt.Errorf(format, args...)
		fmt.Fprintf(stdout, "%v\nRun demo -h for the flags.\n", err)
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if o.duration < minDuration || o.duration > maxDuration {
		return bad("-duration %v outside [%v, %v]", o.duration, minDuration, maxDuration)
	}
	if !(o.tone >= scanMin && o.tone <= scanMax) {
		return bad("-tone %v Hz outside [%d, %d] Hz", o.tone, scanMin, scanMax)
	}
	if d := []rune(o.digit); len(d) != 1 {
		return bad("-digit %q: give one digit", o.digit)
	} else if _, err := dtmf.EventForDigit(d[0]); err != nil {
		return bad("-digit %q: %v", o.digit, err)
	}
	return o, nil
}

// run is the demo: main without the exit. It returns nil when every
// check passed (and for -h).
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) {
			err = usageError{err}
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	d := &demo{opts: o, out: &syncWriter{w: stdout}, start: time.Now(), users: map[string]string{
		"alice": rand.Text(),
		"bob":   rand.Text(),
	}}
	return d.run(ctx)
}

// syncWriter serializes writes from the demo's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
