// Command echobot answers every call and sends back what it hears: each
// frame of audio the caller sends is played back to it (about the jitter
// buffer's delay later). It listens on UDP and TCP, registers a line when
// given a registrar, and prints one line per event until stopped.
//
//	echobot -listen 127.0.0.1:5070
//	echobot -listen 0.0.0.0:5070 -aor sip:echo@example.com -pass secret -registrar sip:example.com
//
// Flags may also come from the environment: ECHOBOT_AOR, ECHOBOT_USER,
// ECHOBOT_PASS, ECHOBOT_REGISTRAR, ECHOBOT_PROXY. DTMF digits the caller
// sends are printed (RFC 4733 or SIP INFO). Ctrl-C hangs up and
// unregisters.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
		fmt.Fprintln(os.Stderr, "echobot:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "0.0.0.0:5070", "host:port to listen on (UDP and TCP)")
	line := cli.AddLineFlags(flag.CommandLine, "ECHOBOT")
	mediaIP := flag.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	rtpMin := flag.Uint("rtp-min", 0, "lowest RTP port (0: the rtp package's default range)")
	rtpMax := flag.Uint("rtp-max", 0, "highest RTP port")
	maxCall := flag.Duration("max-call", time.Hour, "hang up calls that last longer than this")
	t1 := flag.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	printf := cli.NewPrinter(os.Stdout).Printf
	media := ua.MediaConfig{PortMin: uint16(*rtpMin), PortMax: uint16(*rtpMax)}
	var err error
	if media.IP, err = cli.MediaIP(*mediaIP); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	cfg := ua.Config{
		Listen:       cli.Listeners(*listen),
		Timers:       transaction.Timers{T1: *t1},
		UserAgent:    "dialtone-echobot",
		Media:        media,
		OnEvent:      func(e ua.Event) { printf("%s", e) },
		InlineOnCall: true, // OnCall answers and returns at once
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil)
			if err != nil {
				printf("answer failed call=%s err=%q", ic.CallID(), err)
				return
			}
			wg.Go(func() { echo(ctx, c, *maxCall, printf) })
		},
	}
	cfg.Lines = line.Lines()
	return cli.Serve(ctx, cfg, printf)
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
	printf("echo ended call=%s rx=%d tx=%d lost=%d jitter=%s reason=%q", c.CallID(), st.PacketsReceived, st.PacketsSent, st.PacketsLost, st.Jitter, err)
	if !errors.Is(err, rtp.ErrSessionClosed) {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(hctx)
		hcancel()
	}
}
