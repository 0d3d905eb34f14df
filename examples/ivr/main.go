// Command ivr answers every call, plays a prompt, records the caller to a
// WAV file until the caller presses # or hangs up, prints the DTMF digits
// it reads and one line per event.
//
//	ivr -listen 127.0.0.1:5072 -prompt welcome.wav -record-dir /tmp/calls
//	ivr -listen 127.0.0.1:5072 -answer-after 2s -trace -pcap ivr.pcap
//	ivr -listen 127.0.0.1:5072 -operator sip:desk@127.0.0.1:5060 -hold-music music.wav
//
// Without -prompt the prompt is a generated two-tone chime. Each call is
// recorded to RECORD-DIR/<time>-<call-id>.wav (16-bit PCM, mono, 8 kHz).
// The line may register like the dial example's: -aor, -user, -pass,
// -registrar, -proxy (or IVR_AOR, IVR_USER, IVR_PASS, IVR_REGISTRAR,
// IVR_PROXY). With -operator URI, the key 0 ends the recording, puts the
// caller on hold, hearing -hold-music FILE (looped) if given, and
// transfers the caller to URI (REFER); the IVR hangs up once the
// operator has answered (transfer.go). -answer-after rings before answering (-1 rejects with
// -reject-code), -trace prints every SIP message to stderr, -pcap writes
// them to a capture file. The first Ctrl-C hangs up and unregisters,
// waiting for the answers; a second one quits at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/ua"
)

func main() { cli.Main("ivr", run) }

// usageAbout is what -h says after the usage line.
const usageAbout = `ivr takes no argument: it listens (-listen), prints the URI to call it at,
and answers every call (at once, or as -answer-after says): it plays the
prompt and records the caller until # or the hang-up, until interrupted.
With -operator, 0 holds the caller (with -hold-music) and transfers it.
The first Ctrl-C hangs up and unregisters; a second one quits at once.`

type ivr struct {
	prompt          string
	recordDir       string
	maxRecord       time.Duration
	operator        string        // -operator: where OperatorKey transfers the caller ("": nowhere)
	transferTimeout time.Duration // -transfer-timeout
	printf          func(string, ...any)

	mu     sync.Mutex
	digits map[string]chan rune // by Call-ID
}

// run is ivr: see the package documentation and usageAbout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("ivr", "[flags]", usageAbout, stderr)
	listen := fs.String("listen", "0.0.0.0:5072", "host:port to listen on (UDP and TCP; port 0 picks one)")
	line := cli.AddLineFlags(fs, "IVR")
	trace := cli.AddTraceFlags(fs)
	answer := cli.AddAnswerFlags(fs)
	metrics := cli.AddMetricsFlag(fs)
	drain := cli.AddDrainFlag(fs)
	prompt := fs.String("prompt", "", "WAV file to play when a call is answered (default: a generated chime)")
	recordDir := fs.String("record-dir", ".", "directory for the recordings, one WAV file per call")
	maxRecord := fs.Duration("max-record", 5*time.Minute, "longest recording; the call is hung up after it")
	mediaIP := fs.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)")
	t1 := fs.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)")
	operator := fs.String("operator", "", "SIP URI the caller is transferred to on the key 0, held meanwhile (empty: 0 is an ordinary digit)")
	transferTimeout := fs.Duration("transfer-timeout", DefaultTransferTimeout, "how long a caller waits on hold for -operator to answer")
	holdMusic := cli.AddHoldMusicFlagUsage(fs, "WAV file the caller hears, looped, while on hold for -operator (default: silence)")
	if rest, err := cli.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return cli.Usagef("no argument expected, got %q", rest)
	}
	if err := answer.Check(); err != nil {
		return err
	}
	if *maxRecord <= 0 {
		return cli.Usagef("-max-record %s: want a positive duration", *maxRecord)
	}
	if *transferTimeout <= 0 {
		return cli.Usagef("-transfer-timeout %s: want a positive duration", *transferTimeout)
	}
	if err := checkOperator(*operator); err != nil {
		return err
	}
	if *prompt != "" { // fail early on an unreadable prompt
		if _, err := openPrompt(*prompt); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*recordDir, 0o755); err != nil {
		return err
	}

	printf := cli.NewPrinter(stdout).Printf
	v := &ivr{prompt: *prompt, recordDir: *recordDir, maxRecord: *maxRecord, operator: *operator,
		transferTimeout: *transferTimeout, printf: printf, digits: map[string]chan rune{}}
	events := cli.NewEventPrinter(printf)
	var media ua.MediaConfig
	var err error
	if media.IP, err = cli.MediaIP(*mediaIP); err != nil {
		return err
	}
	if err := holdMusic.Apply(&media); err != nil {
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
		ch := v.register(ic.CallID())
		c, err := ic.Answer(nil)
		if err != nil {
			v.unregister(ic.CallID())
			printf("answer failed call=%s: %v", ic.CallID(), err)
			return
		}
		wg.Go(func() { v.serve(callCtx, c, ch) })
	}
	cfg := ua.Config{
		Listen:       cli.Listeners(*listen),
		Transport:    ua.TransportConfig{Tracer: tracing.Tracer()},
		Transaction:  ua.TransactionConfig{Timers: ua.Timers{T1: *t1}},
		UserAgent:    "dialtone-ivr",
		Media:        media,
		Limits:       answer.Limits(cli.Limits()),
		OnEvent:      func(e ua.Event) { v.event(events, e) },
		InlineOnCall: true, // OnCall answers or hands over, and returns at once
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			answer.Take(callCtx, &wg, ic, take, printf)
		},
	}
	if err := line.Configure(&cfg, stderr); err != nil {
		return err
	}
	return cli.Serve(ctx, cfg, "ivr", printf, cli.ServeOptions{Metrics: metrics, Drain: drain})
}

func (v *ivr) register(callID string) chan rune {
	ch := make(chan rune, 64)
	v.mu.Lock()
	v.digits[callID] = ch
	v.mu.Unlock()
	return ch
}

func (v *ivr) unregister(callID string) {
	v.mu.Lock()
	delete(v.digits, callID)
	v.mu.Unlock()
}

// event prints every event and routes digits to their call.
func (v *ivr) event(p *cli.EventPrinter, e ua.Event) {
	p.Print(e)
	if e.Kind != ua.EventDTMF {
		return
	}
	v.mu.Lock()
	ch := v.digits[e.CallID]
	v.mu.Unlock()
	if ch != nil {
		select {
		case ch <- e.Digit:
		default:
		}
	}
}

// serve runs one call: the prompt and the recording start together; the
// recording ends with #, the caller's hang-up, maxRecord, or the operator
// key (transfer.go), after which the caller is transferred.
func (v *ivr) serve(ctx context.Context, c *ua.Call, digits <-chan rune) {
	defer v.unregister(c.CallID())
	s := c.Media()
	if s == nil {
		return
	}
	name := filepath.Join(v.recordDir, time.Now().Format("20060102-150405")+"-"+safe(c.CallID())+".wav")
	f, err := os.Create(name)
	if err != nil {
		v.printf("record call=%s err=%q", c.CallID(), err)
		_ = c.Hangup(ctx)
		return
	}
	w, err := wav.NewWriter(f)
	if err != nil {
		_ = f.Close()
		v.printf("record call=%s err=%q", c.CallID(), err)
		_ = c.Hangup(ctx)
		return
	}
	rctx, stopRec := context.WithTimeout(ctx, v.maxRecord)
	defer stopRec()
	counter := &countingSink{w: w}
	recDone := make(chan error, 1)
	go func() { recDone <- s.Record(rctx, counter) }()

	if src, err := v.promptSource(); err != nil {
		v.printf("prompt call=%s err=%q", c.CallID(), err)
	} else if err := s.Play(rctx, src); err != nil && !errors.Is(err, rtp.ErrSessionClosed) {
		v.printf("prompt call=%s err=%q", c.CallID(), err)
	}

	var pressed strings.Builder
	why := "hang-up"
wait:
	for {
		select {
		case d := <-digits:
			pressed.WriteRune(d)
			v.printf("digits call=%s so-far=%q", c.CallID(), pressed.String())
			switch {
			case d == '#':
				why = "#"
				break wait
			case d == OperatorKey && v.operator != "":
				why = "operator"
				break wait
			}
		case <-c.Done():
			break wait
		case <-rctx.Done():
			why = "time limit or stop"
			break wait
		}
	}
	stopRec()
	<-recDone
	cerr := w.Close()
	if err := f.Close(); cerr == nil {
		cerr = err
	}
	v.printf("recorded call=%s file=%s seconds=%.1f digits=%q ended-by=%s err=%v", c.CallID(), name,
		float64(counter.n)/audio.SampleRate, pressed.String(), why, cerr)
	if why == "operator" {
		v.transfer(ctx, c)
	}
	if why != "hang-up" {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(hctx)
		cancel()
	}
}

// promptSource is the prompt file, or a chime of two tones.
func (v *ivr) promptSource() (rtp.FrameSource, error) {
	if v.prompt != "" {
		return openPrompt(v.prompt)
	}
	return newChime()
}

// openPrompt reads the whole WAV file, so that no file stays open.
func openPrompt(name string) (rtp.FrameSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := wav.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var all []int16
	buf := make([]int16, 0, audio.FrameSamples)
	for {
		buf, err = r.ReadFrame(buf[:0])
		all = append(all, buf...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &samples{s: all}, nil
}

// samples is a FrameSource over samples in memory.
type samples struct{ s []int16 }

func (p *samples) ReadFrame(dst []int16) ([]int16, error) {
	if len(p.s) == 0 {
		return dst, io.EOF
	}
	n := min(len(p.s), audio.FrameSamples)
	dst = append(dst, p.s[:n]...)
	p.s = p.s[n:]
	return dst, nil
}

// newChime is 0.4 s of 660 Hz then 0.6 s of 880 Hz.
func newChime() (rtp.FrameSource, error) {
	var all []int16
	for _, part := range []struct {
		hz     float64
		frames int
	}{{660, 20}, {880, 30}} {
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: part.hz})
		if err != nil {
			return nil, err
		}
		for range part.frames {
			all, _ = g.ReadFrame(all)
		}
	}
	return &samples{s: all}, nil
}

// countingSink counts the samples written to a wav.Writer.
type countingSink struct {
	w *wav.Writer
	n int
}

func (c *countingSink) WriteSamples(s []int16) error {
	c.n += len(s)
	return c.w.WriteSamples(s)
}

// safe keeps the characters of a Call-ID that are fine in a file name.
func safe(s string) string {
	b := []byte(s)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
