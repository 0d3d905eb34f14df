package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// musicHz is the tone of the hold music in TestOperatorTransfer, apart
// from the chime's 660 and 880 Hz.
const musicHz = 300

// musicWAV writes 1 s of a musicHz tone to a WAV file.
func musicWAV(t *testing.T) string {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: musicHz})
	require.NoError(t, err)
	var pcm []int16
	for range 50 {
		pcm, err = g.ReadFrame(pcm)
		require.NoError(t, err)
	}
	b, err := wav.Append(nil, pcm)
	require.NoError(t, err)
	name := filepath.Join(t.TempDir(), "music.wav")
	require.NoError(t, os.WriteFile(name, b, 0o644))
	return name
}

// newPhone is a UA on loopback with media.
func newPhone(t *testing.T, cfg ua.Config) *ua.UA {
	t.Helper()
	cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}}
	cfg.Media.IP = netip.MustParseAddr("127.0.0.1")
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// TestOperatorTransfer: a caller presses 0; the IVR ends its recording,
// holds the caller, who hears -hold-music (looped) while the operator's
// phone rings, and transfers it there (REFER); once the operator answers
// the caller's new call, the IVR hangs up the first one.
func TestOperatorTransfer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), clitest.WaitTimeout)
	defer cancel()
	ringing, answer := make(chan struct{}), make(chan struct{})
	operator := newPhone(t, ua.Config{OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
		close(ringing)
		select {
		case <-answer:
			_, _ = ic.Answer(nil)
		case <-ctx.Done():
		}
	}})
	opURI := "sip:desk@" + operator.Addrs()[0].String()

	transferred := make(chan *ua.Call, 1)
	caller := newPhone(t, ua.Config{OnRefer: func(ctx context.Context, r *ua.IncomingRefer) {
		nc, err := r.Accept(ctx, ua.DialOptions{})
		if err == nil {
			transferred <- nc
		}
	}})

	dir := t.TempDir()
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-media-ip", "127.0.0.1", "-record-dir", dir,
		"-operator", opURI, "-hold-music", musicWAV(t))
	line := p.Stdout.WaitFor(t, "call me at sip:ivr@127.0.0.1:")
	target := line[strings.Index(line, "sip:"):]

	c, err := caller.Dial(ctx, target, ua.DialOptions{})
	require.NoError(t, err)
	s := c.Media()
	require.NotNil(t, s)
	frames := make(chan []int16, 500)
	go func() { // ends with the call's session
		defer close(frames)
		for {
			f, err := s.ReadFrame(ctx, nil)
			if err != nil {
				return
			}
			frames <- f
		}
	}()
	require.NoError(t, c.SendDTMF(ctx, "0"))
	p.Stdout.WaitFor(t, "transferring call=")
	select {
	case <-ringing: // the caller took the REFER and calls the operator
	case <-ctx.Done():
		t.Fatalf("the operator's phone never rang:\n%s", p.Stdout.String())
	}
	for len(frames) > 0 { // what was heard before the hold
		<-frames
	}
	var held []int16
	for n := 0; n < 60; n++ { // 1.2 s while the operator rings
		select {
		case f, ok := <-frames:
			require.True(t, ok, "the call ended while on hold")
			if n >= 10 { // past the jitter buffer's delay
				held = append(held, f...)
			}
		case <-ctx.Done():
			t.Fatal("no audio while on hold")
		}
	}
	require.Greater(t, wav.ToneLevel(held, musicHz, audio.SampleRate), 0.02, "the caller on hold hears the music")
	for _, hz := range []float64{660, 880} {
		require.Less(t, wav.ToneLevel(held, hz, audio.SampleRate), 0.0005, "not the chime")
	}

	close(answer)
	var nc *ua.Call
	select {
	case nc = <-transferred:
	case <-ctx.Done():
		t.Fatal("the transfer's call was not set up")
	}
	p.Stdout.WaitFor(t, "transferred call="+c.CallID()+" to="+opURI)
	select {
	case <-c.Done(): // the IVR hung up its call
	case <-ctx.Done():
		t.Fatal("the IVR did not hang up after the transfer")
	}
	require.NoError(t, nc.Hangup(ctx))
	require.Contains(t, p.Stdout.String(), "ended-by=operator")
	require.NoError(t, p.Stop(t))
}

// TestOperatorBusy: when the operator refuses the transferred call, the
// IVR says the transfer failed and hangs up.
func TestOperatorBusy(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), clitest.WaitTimeout)
	defer cancel()
	operator := newPhone(t, ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) { _ = ic.Reject(486, "Busy Here") }})
	opURI := "sip:desk@" + operator.Addrs()[0].String()
	caller := newPhone(t, ua.Config{OnRefer: func(ctx context.Context, r *ua.IncomingRefer) { _, _ = r.Accept(ctx, ua.DialOptions{}) }})
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-media-ip", "127.0.0.1", "-record-dir", t.TempDir(), "-operator", opURI)
	line := p.Stdout.WaitFor(t, "call me at sip:ivr@127.0.0.1:")
	c, err := caller.Dial(ctx, line[strings.Index(line, "sip:"):], ua.DialOptions{})
	require.NoError(t, err)
	require.NoError(t, c.SendDTMF(ctx, "0"))
	p.Stdout.WaitFor(t, "transfer failed call="+c.CallID()+" to="+opURI+` err="ua: transfer failed: 486 Busy Here"`)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the IVR did not hang up after the failed transfer")
	}
	require.NoError(t, p.Stop(t))
}
