//go:build interop

package interop

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Load of the ua checks (issue 5): 5,000 calls at 200 calls/s each way,
// about 25 s per run.
const (
	uaCallCount = 5000
	uaCallRate  = 200
)

// TestDialUnderSIPpLoad: SIPp's built-in uac scenario places 5,000 calls at
// 200 calls/s over UDP to examples/dial, which answers every call through
// package ua: every call succeeds, and SIPp sees no retransmission and no
// unexpected message. Not parallel: it runs alone, before the parallel
// tests, so the rate is not disturbed by them.
func TestDialUnderSIPpLoad(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildCommand(t, ctx, "../../examples/dial", "dial")
	// dial prefixes its lines with the time, so startProgram cannot read
	// its "listening" lines: give it a free port and watch /proc/net.
	dialAddr := net.JoinHostPort(loopback, strconv.Itoa(freePort(t)))
	dialOut := filepath.Join(artifacts(t), "dial.out")
	dial := startDaemon(t, "dial", dialOut, bin, "-listen", dialAddr)
	_, port, _ := net.SplitHostPort(dialAddr)
	p, _ := strconv.Atoi(port)
	waitListening(t, ctx, "udp", p)
	r := newSipp(t, "dial_uac", freePort(t), "-sn", "uac")
	defer func() { logTails(t, append(r.files(), dialOut)...) }()
	start := time.Now()
	// -d 0: the BYE follows the ACK at once.
	cmd := r.start(t, ctx, "-t", "u1", "-d", "0",
		"-m", strconv.Itoa(uaCallCount), "-r", strconv.Itoa(uaCallRate), dialAddr)
	runErr := cmd.Wait()
	t.Logf("%d calls at %d/s to examples/dial in %s", uaCallCount, uaCallRate, time.Since(start).Round(time.Millisecond))
	dial.stop()
	require.NoError(t, dial.err, "dial exit status after SIGTERM")
	checkSipp(t, r, uaCallCount, exitErrOrNil(runErr))
}

// TestUALoadAgainstSIPp: uaload (package ua: Dial, then Hangup) places 5,000
// calls at 200 calls/s over UDP to SIPp's built-in uas scenario: every call
// succeeds on both sides, and SIPp sees no retransmission and no unexpected
// message. Not parallel, as TestDialUnderSIPpLoad.
func TestUALoadAgainstSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "uaload")
	port := freePort(t)
	r := newSipp(t, "uas_ua", port, "-sn", "uas")
	out := filepath.Join(artifacts(t), "uaload.out")
	defer func() { logTails(t, append(r.files(), out)...) }()
	sipp := r.start(t, ctx, "-t", "u1", "-m", strconv.Itoa(uaCallCount))
	waitListening(t, ctx, "udp", port)

	start := time.Now()
	uacErr := runToFile(ctx, out, bin,
		"-target", "sip:service@"+net.JoinHostPort(loopback, strconv.Itoa(port)),
		"-listen", net.JoinHostPort(loopback, "0"),
		"-calls", strconv.Itoa(uaCallCount), "-rate", strconv.Itoa(uaCallRate),
		"-timeout", runTimeout.String(), "-v")
	t.Logf("%d calls at %d/s from uaload in %s", uaCallCount, uaCallRate, time.Since(start).Round(time.Millisecond))
	sippErr := sipp.Wait()
	sum := summaryOf(t, out)
	t.Logf("uaload: %v", sum)
	checkSipp(t, r, uaCallCount, exitErrOrNil(sippErr))
	require.NoError(t, exitErrOrNil(uacErr), "uaload exit status (0: every call successful)")
	n := strconv.Itoa(uaCallCount)
	for k, want := range map[string]string{"ok": n, "failed": "0", "dial-errors": "0", "hangup-errors": "0", "not-started": "0"} {
		require.Equal(t, want, sum[k], "uaload %s", k)
	}
}

// buildCommand builds the command in dir (relative to this package) into a
// temporary directory as name and returns its path.
func buildCommand(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	b, err := exec.CommandContext(ctx, "go", "build", "-o", out, dir).CombinedOutput()
	require.NoError(t, err, "go build %s:\n%s", dir, b)
	return out
}

// TestUALoadOverTLS: uaload places 1,000 calls at 200 calls/s over one TLS
// connection (-transport tls) to examples/dial's TLS listener
// (-tls-listen, its self-signed certificate): every call succeeds, with no
// retransmission (none is sent over a reliable transport). This is the
// TLS load of scripts/load-tcp.sh (MODES=tls), which SIPp cannot generate
// here (it is built without OpenSSL).
func TestUALoadOverTLS(t *testing.T) {
	const calls, rate = 1000, 200
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "uaload")
	port := freePort(t)
	tlsAddr := net.JoinHostPort(loopback, strconv.Itoa(port))
	startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"), "-tls-listen", tlsAddr, "-no-media", "-quiet")
	waitListening(t, ctx, "tcp", port)
	out := filepath.Join(artifacts(t), "uaload.out")
	defer func() { logTails(t, out) }()
	uacErr := runToFile(ctx, out, bin,
		"-target", "sip:dial@"+tlsAddr+";transport=tls", "-transport", "tls", "-tls-insecure",
		"-listen", net.JoinHostPort(loopback, "0"),
		"-calls", strconv.Itoa(calls), "-rate", strconv.Itoa(rate),
		"-timeout", runTimeout.String(), "-v")
	sum := summaryOf(t, out)
	t.Logf("uaload: %v", sum)
	require.NoError(t, exitErrOrNil(uacErr), "uaload exit status (0: every call successful)")
	for k, want := range map[string]string{"ok": strconv.Itoa(calls), "failed": "0", "dial-errors": "0",
		"hangup-errors": "0", "not-started": "0", "retransmits": "0"} {
		require.Equal(t, want, sum[k], "uaload %s", k)
	}
}
