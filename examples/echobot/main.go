// Command echobot answers every call and sends back what it hears: each
// frame of audio the caller sends is played back to it (about the jitter
// buffer's delay later). It listens on UDP and TCP, registers a line when
// given a registrar, prints the URI to call it at and one line per event
// until stopped.
//
//	echobot -listen 127.0.0.1:5070
//	echobot -listen 127.0.0.1:5070 -answer-after 2s -trace
//	echobot -listen 0.0.0.0:5070 -aor sip:echo@example.com -pass secret -registrar sip:example.com
//
// Flags may also come from the environment: ECHOBOT_AOR, ECHOBOT_USER,
// ECHOBOT_PASS, ECHOBOT_REGISTRAR, ECHOBOT_PROXY. DTMF digits the caller
// sends are printed (RFC 4733 or SIP INFO). -answer-after rings before
// answering (-1 rejects with -reject-code), -trace prints every SIP
// message to stderr, -pcap writes them to a capture file. The first
// Ctrl-C hangs up and unregisters, waiting for the answers; a second one
// quits at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/ua"
)

func main() { cli.Main("echobot", run) }

// usageAbout is what -h says after the usage line.
const usageAbout = `echobot takes no argument: it listens (-listen), prints the URI to call it
at, and answers every call (at once, or as -answer-after says), sending
back the audio it receives, until interrupted. The first Ctrl-C hangs up
and unregisters; a second one quits at once.`

// run is echobot: see the package documentation and usageAbout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("echobot", "[flags]", usageAbout, stderr)
	listen := fs.String("listen", "0.0.0.0:5070", "host:port to listen on (UDP and TCP; port 0 picks one)")
	line := cli.AddLineFlags(fs, "ECHOBOT")
	trace := cli.AddTraceFlags(fs)
	answer := cli.AddAnswerFlags(fs)
	metrics := cli.AddMetricsFlag(fs)
	drain := cli.AddDrainFlag(fs)
	mediaFlags := cli.AddMediaFlags(fs)
	mediaIP := fs.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	rtpMin := fs.Uint("rtp-min", 0, "lowest RTP port (0: the rtp package's default range)")
	rtpMax := fs.Uint("rtp-max", 0, "highest RTP port")
	maxCall := fs.Duration("max-call", time.Hour, "hang up calls that last longer than this")
	t1 := fs.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)")
	if rest, err := cli.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return cli.Usagef("no argument expected, got %q", rest)
	}
	if err := answer.Check(); err != nil {
		return err
	}
	if *rtpMin > 65535 || *rtpMax > 65535 {
		return cli.Usagef("-rtp-min and -rtp-max are ports: 0 to 65535")
	}
	if *maxCall <= 0 {
		return cli.Usagef("-max-call %s: want a positive duration", *maxCall)
	}

	printf := cli.NewPrinter(stdout).Printf
	media := ua.MediaConfig{PortMin: uint16(*rtpMin), PortMax: uint16(*rtpMax)}
	var err error
	if media.IP, err = cli.MediaIP(*mediaIP); err != nil {
		return err
	}
	if err := mediaFlags.Apply(&media); err != nil {
		return err
	}
	tracing, err := trace.Start(stderr)
	if err != nil {
		return err
	}
	defer tracing.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	callCtx := drain.CallContext(ctx) // calls outlive ctx while -drain lets them finish
	take := func(ic *ua.IncomingCall) {
		c, err := ic.Answer(nil)
		if err != nil {
			printf("answer failed call=%s: %v", ic.CallID(), err)
			return
		}
		wg.Go(func() { echo(callCtx, c, *maxCall, printf) })
	}
	cfg := ua.Config{
		Listen:       cli.Listeners(*listen),
		Transport:    ua.TransportConfig{Tracer: tracing.Tracer()},
		Transaction:  ua.TransactionConfig{Timers: ua.Timers{T1: *t1}},
		UserAgent:    "dialtone-echobot",
		Media:        media,
		Limits:       answer.Limits(cli.Limits()),
		OnEvent:      cli.NewEventPrinter(printf).Print,
		InlineOnCall: true, // OnCall answers or hands over, and returns at once
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			answer.Take(callCtx, &wg, ic, take, printf)
		},
	}
	if err := line.Configure(&cfg, stderr); err != nil {
		return err
	}
	return cli.Serve(ctx, cfg, "echo", printf, cli.ServeOptions{Metrics: metrics, Drain: drain})
}

// echo sends every received frame back until the call ends (its session
// closes), ctx ends or maxCall passes.
func echo(ctx context.Context, c *ua.Call, maxCall time.Duration, printf func(string, ...any)) {
	s := c.Media()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, maxCall)
	defer cancel()
	frame := make([]int16, 0, s.FrameSamples())
	var err error
	for {
		frame, err = s.ReadFrame(ctx, frame[:0])
		if err == nil {
			err = s.WriteFrame(ctx, frame)
		}
		if err != nil {
			break
		}
	}
	st := s.Stats()
	reason := "the call ended"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = fmt.Sprintf("longer than -max-call %s", maxCall)
	case errors.Is(err, context.Canceled):
		reason = "stopping"
	case !errors.Is(err, rtp.ErrSessionClosed):
		reason = err.Error()
	}
	q := s.Quality()
	printf("echo ended call=%s rx=%d tx=%d lost=%d jitter=%s late=%d concealed=%d discarded=%d skipped=%d overruns=%d mos=%.2f reason=%q",
		c.CallID(), st.PacketsReceived, st.PacketsSent, st.PacketsLost, st.Jitter,
		q.Late, q.Concealed, st.Playout.Discarded, st.FramesSkipped, st.PlayoutOverruns, q.MOS, reason)
	if !errors.Is(err, rtp.ErrSessionClosed) {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(hctx)
		hcancel()
	}
}
