package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDescribe(t *testing.T) {
	busy := &sip.Response{StatusCode: 486, Reason: "Busy Here"}
	ok200 := &sip.Response{StatusCode: 200, Reason: "OK"}
	for _, tc := range []struct {
		name string
		e    ua.Event
		want string
	}{
		{"peer hung up", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrRemoteHangup}, "ended call=c1: hung up by peer"},
		{"we hung up", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrLocalHangup}, "ended call=c1: hung up"},
		{"our BYE answered", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrLocalHangup, Bye: ua.ByeAnswered, Response: ok200},
			"ended call=c1: hung up (BYE answered 200 OK)"},
		{"our BYE timed out", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrLocalHangup, Bye: ua.ByeTimedOut},
			"ended call=c1: hung up (BYE timed out: the peer may still hold the call)"},
		{"our BYE not waited for", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrClosed, Bye: ua.ByeNotWaited},
			"ended call=c1: hung up (stopping) (BYE not waited for)"},
		{"our BYE not sent", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrLocalHangup, Bye: ua.ByeFailed},
			"ended call=c1: hung up (BYE not sent)"},
		{"closing", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrClosed}, "ended call=c1: hung up (stopping)"},
		{"caller canceled", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrCallCanceled}, "ended call=c1: caller hung up before the answer"},
		{"we rejected", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Response: busy, Err: &ua.StatusError{Response: busy}}, "ended call=c1: rejected with 486 Busy Here"},
		{"no ACK", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrNoACK}, "ended call=c1: failed: the peer never acknowledged the answer (no ACK), hung up"},
		{"peer vanished: RTP timeout", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrMediaTimeout, Bye: ua.ByeTimedOut},
			"ended call=c1: failed: no RTP or RTCP from the peer within the RTP timeout (peer gone?), hung up (BYE timed out: the peer may still hold the call)"},
		{"peer vanished: session expired", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: fmt.Errorf("refresh: %w", ua.ErrSessionExpired)},
			"ended call=c1: failed: the session expired without a refresh (peer gone?), hung up"},
		{"other", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: errors.New("boom")}, "ended call=c1: failed: boom"},
		{"dtmf rtp", ua.Event{Kind: ua.EventDTMF, CallID: "c1", Digit: '5'}, "DTMF 5 received call=c1 via=rtp"},
		{"dtmf info", ua.Event{Kind: ua.EventDTMF, CallID: "c1", Digit: '#', DTMFInfo: true}, "DTMF # received call=c1 via=info"},
		{"other kinds as ua prints them", ua.Event{Kind: ua.EventCallConfirmed, CallID: "c1"}, "confirmed call=c1"},
		{"server moved", ua.Event{Kind: ua.EventServerMoved, Move: &ua.ServerMove{
			From:   transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort("127.0.0.1:5260")},
			To:     transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort("127.0.0.1:5262")},
			Reason: ua.MoveFailover, Detail: "127.0.0.1:5260 UDP timeout after 4s"}},
			"server moved line=-: 127.0.0.1:5260/UDP -> 127.0.0.1:5262/UDP (failover: 127.0.0.1:5260 UDP timeout after 4s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Describe(tc.e)
			assert.Equal(t, tc.want, got)
			if tc.e.Kind == ua.EventCallEnded && errors.Is(tc.e.Err, ua.ErrRemoteHangup) {
				assert.NotContains(t, got, "err=", "a normal ending reads as an error")
			}
		})
	}
}

// TestEventPrinterQuality: a call with media ends with its quality line
// after the "ended" line; one without media prints none.
func TestEventPrinterQuality(t *testing.T) {
	q := &rtp.Quality{PacketsSent: 500, PacketsReceived: 475, PacketsLost: 25, Late: 2, Concealed: 27,
		LossRate: 27.0 / 500, Jitter: 1500 * time.Microsecond, RTT: 2 * time.Millisecond, MOS: 3.51}
	for _, tc := range []struct {
		name string
		e    ua.Event
		want []string
	}{
		{"media", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrRemoteHangup, Quality: q}, []string{
			"ended call=c1: hung up by peer",
			"quality call=c1: sent=500 received=475 lost=25 late=2 concealed=27 loss=5.40% jitter=1.5ms rtt=2ms mos=3.51",
		}},
		{"no media", ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrRemoteHangup}, []string{"ended call=c1: hung up by peer"}},
		{"not an end", ua.Event{Kind: ua.EventCallConfirmed, CallID: "c1", Quality: q}, []string{"confirmed call=c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			p := NewEventPrinter(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
			p.Print(tc.e)
			assert.Equal(t, tc.want, lines)
		})
	}
}

// TestEventPrinterDialingOnce: an INVITE sent again after a 407 emits a
// second EventCallDialing with the same Call-ID; one line is printed.
func TestEventPrinterDialingOnce(t *testing.T) {
	var lines []string
	p := NewEventPrinter(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	p.Print(ua.Event{Kind: ua.EventCallDialing, CallID: "c1"})
	p.Print(ua.Event{Kind: ua.EventCallDialing, CallID: "c1"}) // after the 407
	p.Print(ua.Event{Kind: ua.EventCallDialing, CallID: "c2"})
	p.Print(ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrLocalHangup})
	p.Print(ua.Event{Kind: ua.EventCallEnded, CallID: "c2", Err: ua.ErrLocalHangup})
	assert.Equal(t, []string{"dialing call=c1", "dialing call=c2", "ended call=c1: hung up", "ended call=c2: hung up"}, lines)
	assert.Empty(t, p.dialing, "ended calls are forgotten")
}

func TestTextTracer(t *testing.T) {
	var b bytes.Buffer
	tr := NewTextTracer(&b)
	flow := transport.Flow{Network: transport.UDP,
		Local: netip.MustParseAddrPort("127.0.0.1:5090"), Remote: netip.MustParseAddrPort("127.0.0.1:5060")}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	msg := "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nv=0\n"
	tr.Trace(transport.TraceEvent{Time: at, Direction: transport.Out, Flow: flow, Data: []byte(msg)})
	tr.Trace(transport.TraceEvent{Time: at, Direction: transport.In, Flow: flow, Data: []byte("\r\n\r\n")}) // keepalive
	tr.Trace(transport.TraceEvent{Time: at, Direction: transport.In, Flow: flow, Data: []byte("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n")})
	want := ">>> 03:04:05.006 sent to udp 127.0.0.1:5060 (local 127.0.0.1:5090, 71 bytes)\n" +
		"INVITE sip:bob@127.0.0.1 SIP/2.0\nCall-ID: x\nContent-Length: 4\n\nv=0\n\n" +
		"<<< 03:04:05.006 received from udp 127.0.0.1:5060 (local 127.0.0.1:5090, 30 bytes)\n" +
		"SIP/2.0 200 OK\nCall-ID: x\n\n"
	assert.Equal(t, want, b.String())
}

func TestTraceFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		tracers int
	}{
		{"none", nil, 0},
		{"trace", []string{"-trace"}, 1},
		{"pcap", []string{"-pcap", "PCAP"}, 1},
		{"both", []string{"-trace", "-pcap", "PCAP"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap := t.TempDir() + "/sip.pcap"
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			f := AddTraceFlags(fs)
			args := strings.Fields(strings.ReplaceAll(strings.Join(tc.args, " "), "PCAP", pcap))
			require.NoError(t, fs.Parse(args))
			var b bytes.Buffer
			tr, err := f.Start(&b)
			require.NoError(t, err)
			require.Len(t, tr.tracers, tc.tracers)
			if tc.tracers == 0 {
				require.Nil(t, tr.Tracer())
			} else {
				tr.Tracer().Trace(transport.TraceEvent{Direction: transport.Out, Flow: transport.Flow{Network: transport.UDP},
					Data: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")})
			}
			require.NoError(t, tr.Close())
			require.NoError(t, tr.Close(), "Close is idempotent")
			if strings.Contains(strings.Join(tc.args, " "), "-trace") {
				require.Contains(t, b.String(), "OPTIONS sip:x SIP/2.0")
			}
			if strings.Contains(strings.Join(tc.args, " "), "-pcap") {
				st, err := os.Stat(pcap)
				require.NoError(t, err)
				require.Greater(t, st.Size(), int64(24+16), "pcap header and one record")
			}
		})
	}
	t.Run("pcap not writable", func(t *testing.T) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		f := AddTraceFlags(fs)
		require.NoError(t, fs.Parse([]string{"-pcap", t.TempDir() + "/missing/dir/sip.pcap"}))
		_, err := f.Start(&bytes.Buffer{})
		require.ErrorContains(t, err, "-pcap")
	})
}

func TestAnswerFlagsCheck(t *testing.T) {
	for _, bad := range []string{"-2s", "-1s", "soon", "1"} {
		t.Run("-answer-after "+bad, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			AddAnswerFlags(fs)
			_, err := Parse(fs, []string{"-answer-after", bad})
			require.ErrorContains(t, err, "invalid value")
		})
	}
	for _, tc := range []struct {
		args  []string
		ok    bool
		never bool
	}{
		{nil, true, false},
		{[]string{"-answer-after", "2s"}, true, false},
		{[]string{"-answer-after", "-1"}, true, true},
		{[]string{"-answer-after", "-1", "-reject-code", "603"}, true, true},
		{[]string{"-reject-code", "200"}, false, false},
		{[]string{"-reject-code", "700"}, false, false},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			a := AddAnswerFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			err := a.Check()
			if !tc.ok {
				require.ErrorIs(t, err, ErrUsage)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.never, a.Never())
		})
	}
}

// TestExplainAddressInUse: a port in use reads as one sentence that
// names the address once.
func TestExplainAddressInUse(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.LocalAddr().String()
	_, err = ua.New(ua.Config{Listen: Listeners(addr), Media: ua.MediaConfig{DisableMedia: true}})
	require.Error(t, err)
	var b bytes.Buffer
	require.Equal(t, ExitError, Report(&b, "dial", err))
	msg := b.String()
	require.Equal(t, "dial: cannot listen on udp "+addr+": address already in use (another program has the port; pick another with -listen)\n", msg)
	require.Equal(t, 1, strings.Count(msg, addr), "the address once")
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	assert.Equal(t, 0, Report(&b, "x", nil))
	assert.Equal(t, 0, Report(&b, "x", flag.ErrHelp))
	assert.Empty(t, b.String())
	assert.Equal(t, ExitUsage, Report(&b, "x", Usagef("bad %s", "thing")))
	assert.Equal(t, "x: bad usage: bad thing\n", b.String())
	b.Reset()
	assert.Equal(t, ExitError, Report(&b, "x", errors.New("boom")))
	assert.Equal(t, "x: boom\n", b.String())
}

func TestNewFlagSetUsage(t *testing.T) {
	var b bytes.Buffer
	fs := NewFlagSet("dial", "[flags] [target-uri]", "About it.\n", &b)
	fs.Bool("quiet", false, "say less")
	_, err := Parse(fs, []string{"-h"})
	require.ErrorIs(t, err, flag.ErrHelp)
	require.True(t, strings.HasPrefix(b.String(), "usage: dial [flags] [target-uri]\n\nAbout it.\n\nFlags:\n"), b.String())
	require.Contains(t, b.String(), "-quiet")
	b.Reset()
	_, err = Parse(fs, []string{"-nope"})
	require.ErrorIs(t, err, ErrUsage)
	require.Contains(t, b.String(), "flag provided but not defined: -nope")
}

// TestWatchSignals: the first signal asks for a graceful stop, the second
// quits; nothing happens once the program is done.
func TestWatchSignals(t *testing.T) {
	t.Run("twice", func(t *testing.T) {
		sigs := make(chan os.Signal, 2)
		var calls []string
		sigs <- os.Interrupt
		sigs <- os.Interrupt
		WatchSignals(sigs, nil, func() { calls = append(calls, "graceful") }, func() { calls = append(calls, "now") })
		require.Equal(t, []string{"graceful", "now"}, calls)
	})
	t.Run("once then done", func(t *testing.T) {
		sigs := make(chan os.Signal, 2)
		done := make(chan struct{})
		var calls []string
		sigs <- os.Interrupt
		WatchSignals(sigs, done, func() { calls = append(calls, "graceful"); close(done) }, func() { calls = append(calls, "now") })
		require.Equal(t, []string{"graceful"}, calls)
	})
}

func TestCallMe(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:5090", "sip:dial@127.0.0.1:5090"},
		{"0.0.0.0:5060", "sip:dial@127.0.0.1:5060"},
		{"[::]:5060", "sip:dial@[::1]:5060"},
		{"[::1]:5062", "sip:dial@[::1]:5062"},
	} {
		a := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.addr))
		assert.Equal(t, tc.want, CallMe("dial", []net.Addr{a}), tc.addr)
	}
	assert.Empty(t, CallMe("dial", nil))
}

// TestServeStops: Serve prints where to call, and once ctx ends it stops
// the user agent and returns.
func TestServeStops(t *testing.T) {
	var b clitest.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ua.Config{Listen: Listeners("127.0.0.1:0"), Limits: Limits(), Media: ua.MediaConfig{DisableMedia: true}},
			"echo", NewPrinter(&b).Printf, ServeOptions{})
	}()
	b.WaitFor(t, "call me at sip:echo@127.0.0.1:")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	require.Contains(t, b.String(), "stopping: hanging up and unregistering")
	require.Contains(t, b.String(), "stopped")
}

// TestServeDrains: with -drain, the first interrupt makes Serve refuse new
// calls and OPTIONS with 503 while the call in progress goes on; when that
// call ends Serve ends the calls' context, stops and returns.
func TestServeDrains(t *testing.T) {
	var b clitest.Buffer
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	drain := AddDrainFlag(fs)
	require.NoError(t, fs.Parse([]string{"-drain", "1m"}))
	ctx, cancel := context.WithCancel(t.Context())
	callCtx := drain.CallContext(ctx)
	answered := make(chan *ua.Call, 1)
	cfg := ua.Config{Listen: Listeners("127.0.0.1:0"), Limits: Limits(), Media: ua.MediaConfig{DisableMedia: true},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			if c, err := ic.Answer(nil); err == nil {
				answered <- c
			}
		}}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, "echo", NewPrinter(&b).Printf, ServeOptions{Drain: drain}) }()
	line := b.WaitFor(t, "call me at ")
	target := line[strings.Index(line, "sip:"):]

	caller, err := ua.New(ua.Config{Listen: []ua.ListenConfig{{Network: "udp", Addr: "127.0.0.1:0"}},
		Media: ua.MediaConfig{DisableMedia: true}, Resolver: transport.StaticResolver{}})
	require.NoError(t, err)
	defer caller.Close()
	sdp := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
	out, err := caller.Dial(t.Context(), target, ua.DialOptions{SDP: sdp})
	require.NoError(t, err)
	<-answered

	cancel() // the first interrupt
	b.WaitFor(t, "draining: refusing new calls with 503, 1 in progress")
	require.NoError(t, callCtx.Err(), "the call goes on while draining")
	_, err = caller.Options(t.Context(), target, ua.RequestOptions{})
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 503, se.Response.StatusCode)
	_, err = caller.Dial(t.Context(), target, ua.DialOptions{SDP: sdp})
	require.ErrorAs(t, err, &se)
	require.Equal(t, 503, se.Response.StatusCode)

	require.NoError(t, out.Hangup(t.Context()))
	b.WaitFor(t, "drained: no call in progress")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	require.ErrorIs(t, callCtx.Err(), context.Canceled, "the calls' context ends with the drain")
}

// TestEventPrinterWatch: Watch's channel closes once the call's end is
// printed, and only then.
func TestEventPrinterWatch(t *testing.T) {
	var lines []string
	p := NewEventPrinter(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	ch := p.Watch("c1")
	require.True(t, ch == p.Watch("c1"), "one channel per call")
	p.Print(ua.Event{Kind: ua.EventCallEnded, CallID: "c2", Err: ua.ErrLocalHangup})
	select {
	case <-ch:
		t.Fatal("closed by another call's end")
	default:
	}
	p.Print(ua.Event{Kind: ua.EventCallEnded, CallID: "c1", Err: ua.ErrRemoteHangup})
	select {
	case <-ch:
	default:
		t.Fatal("not closed by the call's end")
	}
	require.Equal(t, "ended call=c1: hung up by peer", lines[len(lines)-1])
	require.Empty(t, p.watch)
}

// TestParseInterspersed: flags may follow the arguments; "--" ends them.
func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		rest  []string
		quiet bool
		n     int
	}{
		{nil, nil, false, 0},
		{[]string{"sip:bob@x"}, []string{"sip:bob@x"}, false, 0},
		{[]string{"-quiet", "sip:bob@x"}, []string{"sip:bob@x"}, true, 0},
		{[]string{"sip:bob@x", "-quiet", "-n", "3"}, []string{"sip:bob@x"}, true, 3},
		{[]string{"a", "-n", "2", "b"}, []string{"a", "b"}, false, 2},
		{[]string{"-n", "1", "--", "-quiet"}, []string{"-quiet"}, false, 1},
		{[]string{"a", "--", "-quiet", "b"}, []string{"a", "-quiet", "b"}, false, 0},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := NewFlagSet("x", "[flags] [args]", "x", io.Discard)
			quiet := fs.Bool("quiet", false, "")
			n := fs.Int("n", 0, "")
			rest, err := Parse(fs, tc.args)
			require.NoError(t, err)
			require.Equal(t, tc.rest, rest)
			require.Equal(t, tc.quiet, *quiet)
			require.Equal(t, tc.n, *n)
		})
	}
}

func TestAnswerFlagsLimits(t *testing.T) {
	for _, tc := range []struct {
		after string
		want  time.Duration
	}{
		{"0", 0},
		{"-1", 0},
		{"10s", 0},
		{"5m", 5*time.Minute + ua.DefaultAnswerTimeout},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		a := AddAnswerFlags(fs)
		require.NoError(t, fs.Parse([]string{"-answer-after", tc.after}))
		require.Equal(t, tc.want, a.Limits(ua.Limits{}).AnswerTimeout, tc.after)
	}
}

func TestStartCPUProfile(t *testing.T) {
	stop, err := StartCPUProfile("")
	require.NoError(t, err)
	stop() // no profile, nothing to stop

	_, err = StartCPUProfile(filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	require.Error(t, err, "a file that cannot be created")

	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err = StartCPUProfile(path)
	require.NoError(t, err)
	stop()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "the profile was written")
}
