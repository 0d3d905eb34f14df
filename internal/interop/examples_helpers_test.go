//go:build interop

package interop

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// example is one of the example programs (examples/dial, echobot, ivr)
// running in a test, listening on a loopback port it picked itself.
type example struct {
	*program
	name string
	sip  string // host:port of the URI it prints ("call me at sip:…")
}

// buildExample builds examples/<name> into a temporary directory.
func buildExample(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	return buildCommand(t, ctx, "../../examples/"+name, name)
}

// startExample builds and starts examples/<name> with args (which should
// include -listen 127.0.0.1:0) and returns once it has printed the URI to
// call it at. Its output goes to <name>.stdout and <name>.stderr in the
// artifact directory; the test's end interrupts it.
func startExample(t *testing.T, ctx context.Context, name string, args ...string) *example {
	t.Helper()
	bin := buildExample(t, ctx, name)
	t.Logf("%s %s", name, strings.Join(args, " "))
	// "15:04:05.000 call me at sip:dial@127.0.0.1:5090"
	p := launch(t, exec.CommandContext(ctx, bin, args...), name, func(line string) (string, bool) {
		_, uri, ok := strings.Cut(line, " call me at ")
		return uri, ok
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case uri := <-p.addrs:
		_, hostPort, ok := strings.Cut(uri, "@")
		require.True(t, ok, "%s prints a URI with a user: %q", name, uri)
		_, _, err := net.SplitHostPort(hostPort)
		require.NoError(t, err, "%s call-me URI %q", name, uri)
		require.True(t, strings.HasPrefix(uri, "sip:"), uri)
		return &example{program: p, name: name, sip: hostPort}
	case <-p.done:
		logTails(t, p.stdout, p.stderr)
		t.Fatalf("%s exited before listening: %v", name, p.waitErr)
	case <-timer.C:
		logTails(t, p.stdout, p.stderr)
		t.Fatalf("%s did not print where to call it within %s", name, startTimeout)
	}
	return nil
}

// finish interrupts the example (a first Ctrl-C), requires a clean exit,
// and returns its standard output and error.
func (e *example) finish(t *testing.T) (stdout, stderr string) {
	t.Helper()
	require.NoError(t, e.stop(t), "%s exit status after an interrupt", e.name)
	return readFile(t, e.stdout), readFile(t, e.stderr)
}

// waitOutput waits until the example's standard output holds s.
func (e *example) waitOutput(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	deadline := time.Now().Add(peerWait)
	for !strings.Contains(readFile(t, e.stdout), s) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			logTails(t, e.stdout, e.stderr)
			t.Fatalf("%s did not print %q within %s", e.name, s, peerWait)
		}
		sleepCtx(ctx, peerPoll)
	}
}

// runExample runs examples/<name> with args to completion (bounded by
// ctx) and returns its standard output and error and its exit error.
func runExample(t *testing.T, ctx context.Context, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := buildExample(t, ctx, name)
	outName := filepath.Join(artifacts(t), name+".stdout")
	errName := filepath.Join(artifacts(t), name+".stderr")
	outf, ferr := os.Create(outName)
	require.NoError(t, ferr)
	defer outf.Close()
	errf, ferr := os.Create(errName)
	require.NoError(t, ferr)
	defer errf.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = outf, errf
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopTimeout
	t.Logf("%s %s", name, strings.Join(args, " "))
	err = exitErrOrNil(cmd.Run())
	return readFile(t, outName), readFile(t, errName), err
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// scenario returns the absolute path of a SIPp scenario in testdata.
func scenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return p
}

// sippAgainst runs SIPp's scenario file (a UAC) for one call to target
// (host:port), checks that the call succeeded with nothing unexpected, and
// returns SIPp's address (host:port).
func sippAgainst(t *testing.T, ctx context.Context, name, file, target string) string {
	t.Helper()
	port := freePort(t)
	r := newSipp(t, name, port, "-sf", file)
	defer func() { logTails(t, r.files()...) }()
	err := r.start(t, ctx, "-t", "u1", "-m", "1", target).Wait()
	checkSipp(t, r, 1, exitErrOrNil(err))
	return net.JoinHostPort(loopback, strconv.Itoa(port))
}

// sippServing starts SIPp's scenario (a UAS, "-sn uas" or "-sf FILE") for
// one call on a free port and returns the target URI to call and a
// function that waits for SIPp and checks that the call succeeded.
func sippServing(t *testing.T, ctx context.Context, name string, scenario ...string) (target string, wait func()) {
	t.Helper()
	port := freePort(t)
	r := newSipp(t, name, port, scenario...)
	cmd := r.start(t, ctx, "-t", "u1", "-m", "1")
	waitListening(t, ctx, "udp", port)
	return "sip:service@" + net.JoinHostPort(loopback, strconv.Itoa(port)), func() {
		t.Helper()
		err := cmd.Wait()
		defer func() { logTails(t, r.files()...) }()
		checkSipp(t, r, 1, exitErrOrNil(err))
	}
}

// checkTrace checks the -trace output (stderr) of a call with SIPp at
// peer (host:port): each message with its direction and peer address, then
// its first line and headers; and the first lines in wantOrder appear in
// that order.
func checkTrace(t *testing.T, stderr, peer string, wantOrder ...string) {
	t.Helper()
	require.Contains(t, stderr, "<<< ", "-trace marks received messages")
	require.Contains(t, stderr, "received from udp "+peer, "-trace names the peer")
	require.Contains(t, stderr, ">>> ", "-trace marks sent messages")
	require.Contains(t, stderr, "sent to udp "+peer, "-trace names the peer")
	require.Contains(t, stderr, "\nCall-ID: ", "-trace prints the headers")
	require.Contains(t, stderr, "\nCSeq: ", "-trace prints the headers")
	at := 0
	for _, w := range wantOrder {
		i := strings.Index(stderr[at:], "\n"+w)
		require.GreaterOrEqual(t, i, 0, "-trace: %q after position %d", w, at)
		at += i + 1
	}
}

// pcapSIP returns the SIP messages of a capture file as tshark reads
// them: the method of each request, the status code of each response.
func pcapSIP(t *testing.T, ctx context.Context, file string) []string {
	t.Helper()
	tshark := peerBinary(t, "tshark", "tshark")
	out, err := exec.CommandContext(ctx, tshark, "-r", file, "-Y", "sip",
		"-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code").Output()
	require.NoError(t, err, "tshark -r %s", file)
	var msgs []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if f := strings.TrimSpace(l); f != "" {
			msgs = append(msgs, f)
		}
	}
	return msgs
}

// checkPcap checks that tshark reads the capture file, finds the SIP
// messages of ordered in that order, and finds each of present (with
// repeats: "200" twice means two 200s). Only messages one side sends in
// turn can be ordered: a message is traced once sent, so the answer it
// provokes may be recorded before it.
func checkPcap(t *testing.T, ctx context.Context, file string, ordered []string, present ...string) {
	t.Helper()
	got := pcapSIP(t, ctx, file)
	requireSubsequence(t, got, ordered...)
	want := map[string]int{}
	for _, p := range present {
		want[p]++
	}
	for m, n := range want {
		count := 0
		for _, g := range got {
			if g == m {
				count++
			}
		}
		require.GreaterOrEqual(t, count, n, "%s in %q", m, got)
	}
}

// requireSubsequence requires want to appear in got in order (with other
// elements in between allowed).
func requireSubsequence(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	require.Equal(t, len(want), i, "want %q in order within %q", want, got)
}
