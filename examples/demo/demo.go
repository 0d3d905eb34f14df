package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// demo is one run: its settings, output and the parts it starts.
type demo struct {
	opts  options
	out   io.Writer
	start time.Time
	users map[string]string // user → password

	ladder *ladder
	sip    transport.Tracer
	media  rtp.PacketTracer
	pcap   *transport.PcapTracer

	reg        server
	alice, bob *ua.UA

	answered chan *ua.Call
	digits   chan ua.Event
}

// say prints one step, with the time since the start.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%6.3fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// sentOnly passes on only the messages sent: each endpoint of the demo
// traces into the same capture, so what one receives another has sent.
type sentOnly struct{ t transport.Tracer }

func (s sentOnly) Trace(ev transport.TraceEvent) {
	if ev.Direction == transport.Out {
		s.t.Trace(ev)
	}
}

func (d *demo) run(ctx context.Context) (err error) {
	if d.opts.outDir == "" {
		if d.opts.outDir, err = os.MkdirTemp("", "dialtone-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(d.opts.outDir, 0o755); err != nil {
		return err
	}
	d.ladder = newLadder(d.start)
	d.sip = d.ladder
	if d.opts.pcap != "" {
		var f *os.File
		if f, err = os.Create(d.opts.pcap); err != nil {
			return err
		}
		defer func() {
			if d.pcap != nil {
				if cerr := d.pcap.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("pcap %s: %w", d.opts.pcap, cerr)
				}
			}
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		if d.pcap, err = transport.NewPcapTracer(f); err != nil {
			return err
		}
		d.sip = tracers{d.ladder, sentOnly{d.pcap}}
		d.media = rtpCapture{d.pcap}
	}

	if d.opts.redirect {
		d.reg, err = newRegistrar(ctx, domain, d.users, d.sip)
	} else {
		d.reg, err = newProxyServer(ctx, domain, d.users, d.sip)
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer d.reg.Close()
	d.ladder.Name(d.reg.Addr(), d.reg.Name())
	if err := d.startAgents(); err != nil {
		return err
	}
	defer d.alice.Close()
	defer d.bob.Close()
	fmt.Fprintf(d.out, "Dialtone demo: a %s, two user agents and a call, in one process on 127.0.0.1\n", d.reg.Name())
	fmt.Fprintf(d.out, "  %s\n", d.reg.Describe())
	fmt.Fprintf(d.out, "  alice      sip:alice@%s at %s\n", domain, d.alice.Addrs()[0])
	fmt.Fprintf(d.out, "  bob        sip:bob@%s at %s\n\n", domain, d.bob.Addrs()[0])

	for _, u := range []*ua.UA{d.bob, d.alice} {
		if err := d.register(ctx, u); err != nil {
			return err
		}
	}
	results, err := d.call(ctx)
	// Close unregisters both lines, so the call flow shows it.
	_ = d.alice.Close()
	_ = d.bob.Close()
	d.reg.Close()
	fmt.Fprintf(d.out, "\nSIP call flow (each message once, as sent):\n")
	d.ladder.Print(d.out)
	if results != nil {
		if werr := d.report(results); err == nil {
			err = werr
		}
	}
	if d.opts.pcap != "" {
		fmt.Fprintf(d.out, "\nCapture (SIP, RTP, RTCP): %s\n", d.opts.pcap)
	}
	if err != nil {
		fmt.Fprintf(d.out, "\nFAIL: %v\n", err)
		return err
	}
	fmt.Fprintf(d.out, "\nPASS: both sides heard each other, the digit arrived, hold and resume negotiated.\n")
	return nil
}

// startAgents starts alice and bob, each with a line of demo.test that
// registers when asked.
func (d *demo) startAgents() error {
	d.answered = make(chan *ua.Call, 1)
	d.digits = make(chan ua.Event, 4)
	resolver := transport.StaticResolver{domain: {{Network: transport.UDP, Addr: d.reg.Addr()}}}
	media := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1"), Tracer: d.media, RTCPInterval: rtcpInterval}
	cfg := func(user string) ua.Config {
		return ua.Config{
			Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
			Lines:     []ua.LineConfig{{AOR: "sip:" + user + "@" + domain, Password: d.users[user], Registrar: "sip:" + domain, Manual: true}},
			Resolver:  resolver,
			Transport: ua.TransportConfig{Tracer: d.sip},
			UserAgent: "dialtone-demo",
			Media:     media,
		}
	}
	bc := cfg("bob")
	bc.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		d.say("bob: incoming call from %s, ringing, then answering", ic.From().URI.String())
		if err := ic.Ring(); err != nil {
			return
		}
		if c, err := ic.Answer(nil); err == nil { // nil: answer with a media session
			select {
			case d.answered <- c:
			default: // not the demo's call: it ends when bob closes
			}
		}
	}
	bc.OnEvent = func(e ua.Event) {
		if e.Kind == ua.EventDTMF {
			select {
			case d.digits <- e:
			default:
			}
		}
	}
	var err error
	if d.bob, err = ua.New(bc); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	if d.alice, err = ua.New(cfg("alice")); err != nil {
		_ = d.bob.Close()
		return fmt.Errorf("alice: %w", err)
	}
	for name, u := range map[string]*ua.UA{"alice": d.alice, "bob": d.bob} {
		if ap, err := netip.ParseAddrPort(u.Addrs()[0].String()); err == nil {
			d.ladder.Name(ap, name)
		}
	}
	return nil
}

// register registers u's line and says how it went.
func (d *demo) register(ctx context.Context, u *ua.UA) error {
	line := u.Lines()[0]
	rctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := line.Register(rctx); err != nil {
		return fmt.Errorf("registering %s: %w", line.AOR().String(), err)
	}
	_, expires := line.State()
	d.say("%s registered (digest), contact %s, expires in %v", line.AOR().String(), line.Contact().URI.String(), expires)
	return nil
}

// callResults is what the call left to report and check.
type callResults struct {
	aliceHeard, bobHeard []int16
	aliceStats, bobStats rtp.SessionStats
}

// call runs the call: dial by address of record, audio both ways, a
// digit, hold, resume, hangup. It returns what was recorded even when a
// later step failed.
func (d *demo) call(ctx context.Context) (*callResults, error) {
	target := "sip:bob@" + domain
	if d.opts.redirect {
		d.say("alice: calling %s (to the registrar, which redirects to bob's registered contact)", target)
	} else {
		d.say("alice: calling %s (to the proxy, which forwards to bob's registered contact and stays in the dialog)", target)
	}
	dctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	call, err := d.alice.Dial(dctx, target, ua.DialOptions{})
	if err != nil {
		return nil, fmt.Errorf("alice's call: %w", err)
	}
	var bobCall *ua.Call
	select {
	case bobCall = <-d.answered:
	case <-dctx.Done():
		return nil, errors.New("bob's side of the call never appeared")
	}
	p, _ := call.MediaParams()
	d.say("alice: call established with %s (codec %s, telephone-event %v, RTP to %s)",
		call.RemoteTarget().String(), p.Codec.Name, p.HasTelephoneEvent, p.RemoteRTP)

	res := &callResults{}
	aliceRec, bobRec := &recorder{}, &recorder{}
	recCtx, stopRec := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = call.Media().Record(recCtx, aliceRec) })
	wg.Go(func() { _ = bobCall.Media().Record(recCtx, bobRec) })
	defer func() {
		stopRec()
		wg.Wait()
		res.aliceHeard, res.bobHeard = aliceRec.Samples(), bobRec.Samples()
	}()

	err = d.talk(ctx, call, bobCall)
	if err == nil {
		err = d.dtmf(ctx, call)
	}
	if err == nil {
		err = d.holdResume(ctx, call, bobCall)
	}
	res.aliceStats, res.bobStats = call.Media().Stats(), bobCall.Media().Stats()
	hctx, hcancel := context.WithTimeout(ctx, stepTimeout)
	defer hcancel()
	if herr := call.Hangup(hctx); herr != nil && err == nil {
		err = fmt.Errorf("hangup: %w", herr)
	}
	select {
	case <-bobCall.Done():
		d.say("alice hung up; bob's call ended: %v", bobCall.Err())
	case <-hctx.Done():
		if err == nil {
			err = errors.New("bob's call did not end after alice's BYE")
		}
	}
	return res, err
}

// talk plays alice's tone and bob's melody at the same time.
func (d *demo) talk(ctx context.Context, alice, bob *ua.Call) error {
	tone, err := newToneSource([]float64{d.opts.tone}, d.opts.duration, d.opts.duration)
	if err != nil {
		return fmt.Errorf("-tone: %w", err)
	}
	tune, err := newToneSource(melody, noteLength, d.opts.duration)
	if err != nil {
		return err
	}
	d.say("audio: alice plays %.0f Hz, bob plays notes of %v Hz (%v each), for %v", d.opts.tone, melody, noteLength, d.opts.duration)
	pctx, cancel := context.WithTimeout(ctx, d.opts.duration+stepTimeout)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- alice.Media().Play(pctx, tone) }()
	go func() { errs <- bob.Media().Play(pctx, tune) }()
	var perr error
	for range 2 {
		if e := <-errs; e != nil && perr == nil {
			perr = fmt.Errorf("playing: %w", e)
		}
	}
	// Let the last frames through the peers' jitter buffers.
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return perr
}

// dtmf sends one RFC 4733 digit from alice and waits for bob to get it.
func (d *demo) dtmf(ctx context.Context, alice *ua.Call) error {
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := alice.SendDTMF(sctx, d.opts.digit); err != nil {
		return fmt.Errorf("sending DTMF: %w", err)
	}
	d.say("alice: sent DTMF %q (RFC 4733 telephone-event)", d.opts.digit)
	select {
	case e := <-d.digits:
		how := "RFC 4733 in RTP"
		if e.DTMFInfo {
			how = "SIP INFO"
		}
		d.say("bob: received DTMF %q (%s, %v)", string(e.Digit), how, e.DigitDuration)
		if string(e.Digit) != d.opts.digit || e.DTMFInfo {
			return fmt.Errorf("bob received DTMF %q by %s, want %q in RTP", string(e.Digit), how, d.opts.digit)
		}
		return nil
	case <-sctx.Done():
		return errors.New("bob received no DTMF digit")
	}
}

// holdResume puts bob on hold and back, checking the SDP directions.
func (d *demo) holdResume(ctx context.Context, alice, bob *ua.Call) error {
	steps := []struct {
		name          string
		do            func(context.Context) error
		offer, answer ua.MediaDirection
	}{
		{"hold", alice.Hold, ua.MediaSendOnly, ua.MediaRecvOnly},
		{"resume", alice.Resume, ua.MediaSendRecv, ua.MediaSendRecv},
	}
	for i, s := range steps {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		err := s.do(sctx)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		offer, answer := ua.SDPDirection(alice.LocalSDP()), ua.SDPDirection(alice.RemoteSDP())
		st := bob.Media().Stats()
		d.say("%s: alice's re-INVITE offered a=%s, bob answered a=%s (bob's media now %s, remote hold %v)",
			s.name, offer, answer, st.Direction, bob.RemoteHold())
		if offer != s.offer || answer != s.answer {
			return fmt.Errorf("%s: directions %s/%s, want %s/%s", s.name, offer, answer, s.offer, s.answer)
		}
		if i == 0 {
			t := time.NewTimer(holdLength)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
	}
	return nil
}

// report prints the RTP figures, writes the recordings and checks them.
func (d *demo) report(r *callResults) error {
	fmt.Fprintf(d.out, "\nRTP/RTCP (each side's session):\n")
	for _, s := range []struct {
		who string
		st  rtp.SessionStats
	}{{"alice", r.aliceStats}, {"bob", r.bobStats}} {
		rtt := "n/a (no RTCP report from the peer yet)"
		switch {
		case s.st.RTCP.RTT > 0:
			rtt = s.st.RTCP.RTT.Round(time.Microsecond).String()
		case s.st.RTCP.HaveRemoteReport:
			// RFC 3550 §6.4.1 counts LSR and DLSR in 1/65536 s.
			rtt = "~0 (loopback: below RTCP's 15 µs resolution)"
		}
		fmt.Fprintf(d.out, "  %-5s sent %d packets, received %d, lost %d, jitter %v, rtt %s; RTCP sent %d, received %d; peer reports %d of ours lost, jitter %v\n",
			s.who, s.st.PacketsSent, s.st.PacketsReceived, s.st.PacketsLost, s.st.Jitter.Round(time.Microsecond), rtt,
			s.st.RTCP.Sent, s.st.RTCP.Received, s.st.RTCP.RemotePacketsLost, s.st.RTCP.RemoteJitter.Round(time.Microsecond))
	}

	dir, err := filepath.Abs(d.opts.outDir)
	if err != nil {
		dir = d.opts.outDir
	}
	aliceFile, bobFile := filepath.Join(dir, "alice-heard.wav"), filepath.Join(dir, "bob-heard.wav")
	if err := writeWAV(aliceFile, r.aliceHeard); err != nil {
		return err
	}
	if err := writeWAV(bobFile, r.bobHeard); err != nil {
		return err
	}
	perNote := d.opts.duration / time.Duration(len(melody))
	checks := []audioCheck{
		check("bob", bobFile, r.bobHeard, []float64{d.opts.tone}, d.opts.duration),
		check("alice", aliceFile, r.aliceHeard, melody, perNote),
	}
	fmt.Fprintf(d.out, "\nAudio (Goertzel peak of each 100 ms of the recordings):\n")
	var failed []string
	for _, c := range checks {
		fmt.Fprintln(d.out, c)
		if !c.OK() {
			failed = append(failed, c.who)
		}
	}
	fmt.Fprintf(d.out, "\nRecordings (16-bit mono 8 kHz WAV):\n  %s  what alice heard (bob's melody)\n  %s  what bob heard (alice's tone)\n", aliceFile, bobFile)
	if len(failed) > 0 {
		return fmt.Errorf("audio check failed: %v did not hear the expected frequencies", failed)
	}
	return nil
}
