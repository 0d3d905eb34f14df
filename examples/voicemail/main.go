// Command voicemail is a voicemail server: mailboxes with PINs, a
// greeting and a recording for each caller, a DTMF menu for the owner,
// and message waiting (RFC 3842) for the owner's phones.
//
//	voicemail -listen 127.0.0.1:5074 -dir /var/spool/vm -mailbox alice:1234 -mailbox 200:0000
//	voicemail -listen 127.0.0.1:5074 -mailbox alice:1234 -greeting hello.wav -silence 2s
//
// A call for a mailbox (sip:alice@host, or forwarded to us with the
// mailbox in Diversion, RFC 5806, or History-Info, RFC 7044) hears the
// greeting (-greeting FILE, else a two-tone chime; a key skips it), a
// beep, and is recorded until -silence of audio below -silence-level, #, -max-message
// or the hang-up; the message is DIR/<mailbox>/<id>.wav (16-bit, 8 kHz,
// mono) with DIR/<mailbox>/<id>.json (caller, time, length, new). A
// message of silence alone is not kept.
//
// The owner calls the access user (-access, sip:voicemail@host) from the
// mailbox's own address (its From user), enters the PIN and #, and hears
// the new messages, then the saved ones: 1 plays the message again, 6
// goes to the next, 7 deletes it, 9 saves it (both then play the next),
// # ends the call. The prompts are tone patterns (prompts.go).
//
// A SUBSCRIBE to message-summary for sip:<mailbox>@host is accepted and
// gets a NOTIFY with the counts at once and at every deposit, save and
// delete. The line may register like the dial example's: -aor, -user,
// -pass, -registrar, -proxy (or VM_AOR, ...). -trace prints every SIP
// message to stderr, -pcap writes them to a capture file. The first
// Ctrl-C hangs up and unregisters; a second one quits at once.
package main

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

func main() { cli.Main("voicemail", run) }

const usageAbout = `voicemail takes no argument: it listens (-listen), prints the URI the owners
call in at, records callers into mailboxes (-mailbox USER:PIN, repeated) and
notifies subscribed phones of the counts, until interrupted.`

// mailboxFlags is -mailbox USER:PIN, repeated.
type mailboxFlags map[string]string

func (m mailboxFlags) String() string { return "" }

func (m mailboxFlags) Set(s string) error {
	user, pin, ok := strings.Cut(s, ":")
	if !ok || user == "" || pin == "" || strings.ContainsAny(user, "/\\. ") || strings.Trim(pin, "0123456789*") != "" || len(pin) > MaxPINDigits {
		return cli.Usagef("-mailbox %q: want USER:PIN (PIN of at most %d digits 0-9 or *)", s, MaxPINDigits)
	}
	m[user] = pin
	return nil
}

// run is voicemail: see the package documentation.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("voicemail", "[flags]", usageAbout, stderr)
	listen := fs.String("listen", "0.0.0.0:5074", "host:port to listen on (UDP and TCP; port 0 picks one)")
	line := cli.AddLineFlags(fs, "VM")
	trace := cli.AddTraceFlags(fs)
	metrics := cli.AddMetricsFlag(fs)
	drain := cli.AddDrainFlag(fs)
	boxes := mailboxFlags{}
	fs.Var(boxes, "mailbox", "a mailbox and its PIN, USER:PIN (repeat for more)")
	dir := fs.String("dir", "voicemail", "directory of the mailboxes")
	access := fs.String("access", "voicemail", "user the owners call to hear their messages")
	greeting := fs.String("greeting", "", "WAV file callers hear before the beep (default: a chime)")
	silence := fs.Duration("silence", DefaultSilence, "silence that ends a message")
	level := fs.Float64("silence-level", DefaultSilenceLevel, "RMS level in dBFS below which audio is silence")
	maxMsg := fs.Duration("max-message", DefaultMaxMessage, "longest message")
	maxMsgs := fs.Int("max-messages", DefaultMaxMessages, "messages a mailbox keeps; more are refused")
	idle := fs.Duration("idle", DefaultIdle, "how long a call-in waits for a key")
	mediaIP := fs.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	if rest, err := cli.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return cli.Usagef("no argument expected, got %q", rest)
	}
	switch {
	case len(boxes) == 0:
		return cli.Usagef("no -mailbox: want at least one USER:PIN")
	case boxes[*access] != "":
		return cli.Usagef("-mailbox %s: that is the -access user", *access)
	case *silence <= 0 || *maxMsg <= 0 || *idle <= 0 || *maxMsgs <= 0:
		return cli.Usagef("-silence, -max-message, -idle and -max-messages must be positive")
	case *level >= 0:
		return cli.Usagef("-silence-level %g: want a level below 0 dBFS", *level)
	}
	printf := cli.NewPrinter(stdout).Printf
	v := &server{pins: boxes, access: *access, silence: *silence, level: *level, maxMsg: *maxMsg,
		idle: *idle, printf: printf, digits: map[string]chan rune{}}
	if *greeting != "" {
		g, err := loadWAV(*greeting)
		if err != nil {
			return cli.Usagef("-greeting: %v", err)
		}
		v.greeting = g
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	callCtx := drain.CallContext(ctx) // calls outlive ctx while -drain lets them finish
	mwi := &waiting{access: *access, printf: printf, ctx: ctx, wg: &wg, subs: map[string]map[*ua.Notifier]string{}}
	names := make([]string, 0, len(boxes))
	for b := range boxes {
		names = append(names, b)
	}
	store, err := OpenStore(StoreConfig{Dir: *dir, Mailboxes: names, MaxMessages: *maxMsgs, OnChange: mwi.changed})
	if err != nil {
		return err
	}
	v.store, mwi.store = store, store

	tracing, err := trace.Start(stderr)
	if err != nil {
		return err
	}
	defer tracing.Close()
	events := cli.NewEventPrinter(printf)
	cfg := ua.Config{
		Listen:      cli.Listeners(*listen),
		Transport:   ua.TransportConfig{Tracer: tracing.Tracer()},
		UserAgent:   "dialtone-voicemail",
		Media:       ua.MediaConfig{HostSampleRate: audio.SampleRate},
		Limits:      cli.Limits(),
		OnSubscribe: mwi.subscribe,
		OnEvent: func(e ua.Event) {
			events.Print(e)
			if e.Kind == ua.EventDTMF {
				v.digit(e)
			}
		},
		InlineOnCall: true,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			v.take(callCtx, &wg, ic)
		},
	}
	if cfg.Media.IP, err = cli.MediaIP(*mediaIP); err != nil {
		return err
	}
	if err := line.Configure(&cfg, stderr); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	return cli.Serve(ctx, cfg, *access, printf, cli.ServeOptions{Metrics: metrics, Drain: drain})
}

// take routes a call, answers it and serves it on a goroutine of wg.
func (v *server) take(ctx context.Context, wg *sync.WaitGroup, ic *ua.IncomingCall) {
	r, ok := route(ic.Request(), v.access, v.store.Has)
	switch {
	case !ok:
		_ = ic.Reject(sip.StatusNotFound, "No Such Mailbox")
		v.printf("rejected call=%s to=%s: no such mailbox", ic.CallID(), ic.Request().URI)
		return
	case r.Retrieve && r.Box == "":
		_ = ic.Reject(sip.StatusForbidden, "Call From Your Own Phone")
		v.printf("rejected call-in call=%s from=%s: not a mailbox", ic.CallID(), ic.From().URI)
		return
	}
	digits := v.register(ic.CallID())
	c, err := ic.Answer(nil)
	if err != nil {
		v.unregister(ic.CallID())
		v.printf("answer failed call=%s: %v", ic.CallID(), err)
		return
	}
	caller := ic.From().URI.String()
	wg.Go(func() {
		defer v.unregister(c.CallID())
		if c.Media() == nil {
			hangup(c)
			return
		}
		if r.Retrieve {
			v.printf("call-in box=%s call=%s", r.Box, c.CallID())
			v.retrieve(ctx, c, r.Box, digits)
			return
		}
		v.printf("deposit box=%s call=%s from=%s via=%s", r.Box, c.CallID(), caller, r.Via)
		v.deposit(ctx, c, r.Box, caller, digits)
	})
}
