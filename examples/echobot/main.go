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
	"github.com/dialtone/dialtone/rtp/jitter"
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
	server := cli.AddServerFlags(fs, "ECHOBOT", "0.0.0.0:5070", time.Hour)
	answer := cli.AddAnswerFlags(fs)
	rtpMin := fs.Uint("rtp-min", 0, "lowest RTP port (0: the rtp package's default range)")
	rtpMax := fs.Uint("rtp-max", 0, "highest RTP port")
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

	printf := cli.NewPrinter(stdout).Printf
	srv, err := server.Start(stderr, "dialtone-echobot", ua.MediaConfig{PortMin: uint16(*rtpMin), PortMax: uint16(*rtpMax)})
	if err != nil {
		return err
	}
	defer srv.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	callCtx := srv.CallContext(ctx) // calls outlive ctx while -drain lets them finish
	maxCall := server.MaxCall()
	take := func(ic *ua.IncomingCall) {
		c, err := ic.Answer(nil)
		if err != nil {
			printf("answer failed call=%s: %v", ic.CallID(), err)
			return
		}
		wg.Go(func() { echo(callCtx, c, maxCall, printf) })
	}
	cfg := &srv.Config
	cfg.Limits = answer.Limits(cfg.Limits)
	cfg.OnEvent = cli.NewEventPrinter(printf).Print
	cfg.InlineOnCall = true // OnCall answers or hands over, and returns at once
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		answer.Take(callCtx, &wg, ic, take, printf)
	}
	return srv.Serve(ctx, "echo", stderr, printf)
}

// echo sends every received frame back until the call ends (its session
// closes), ctx ends or maxCall passes. It echoes on the media clock: the
// session's engine worker hands each frame back as it plays it out
// (rtp.Session.SetFrameFunc), so that a call has no goroutine woken at
// every frame; this one only waits for the end.
func echo(ctx context.Context, c *ua.Call, maxCall time.Duration, printf func(string, ...any)) {
	s := c.Media()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, maxCall)
	defer cancel()
	frame := make([]int16, 0, jitter.DefaultMaxFrameSamples)
	err := s.SetFrameFunc(func() {
		for {
			f, waiting, err := s.PollFrame(frame[:0])
			if err != nil || waiting == 0 {
				return
			}
			// A frame played before a ptime change may be longer than
			// the new frame: PushFrame refuses it, and it is dropped.
			_, _ = s.PushFrame(f)
		}
	})
	if err == nil {
		select {
		case <-c.Done(): // the session is closed before Done is
			err = rtp.ErrSessionClosed
		case <-ctx.Done():
			err = ctx.Err()
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
