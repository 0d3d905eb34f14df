//go:build interop

package interop

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Loads of the checks (issue 3: OPTIONS; issue 4: calls).
const (
	optionsCount = 500
	optionsRate  = 100
	callCount    = 2000
	callRate     = 100
)

// sippTransport returns SIPp's -t value for a network: one socket for
// every call, over UDP or TCP.
func sippTransport(network string) string {
	if network == "tcp" {
		return "t1"
	}
	return "u1"
}

// TestTransportOptionsUDP: SIPp sends 500 OPTIONS at 100/s over UDP to
// optionsuas, which answers 200 through the transport layer; every OPTIONS
// is answered and none retransmitted (issue 3).
func TestTransportOptionsUDP(t *testing.T) { testOptions(t, "udp") }

// TestTransportOptionsTCP is TestTransportOptionsUDP over one TCP
// connection (SIPp -t t1).
func TestTransportOptionsTCP(t *testing.T) { testOptions(t, "tcp") }

func testOptions(t *testing.T, network string) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "optionsuas")
	uas, addrs := startProgram(t, ctx, bin, []string{network}, "-listen", net.JoinHostPort(loopback, "0"))
	sc, err := filepath.Abs(filepath.Join("optionsuas", "options_uac.xml"))
	require.NoError(t, err)
	r := newSipp(t, "options_"+network, freePort(t), "-sf", sc)
	defer func() { logTails(t, append(r.files(), uas.stdout, uas.stderr)...) }()
	start := time.Now()
	cmd := r.start(t, ctx, "-t", sippTransport(network),
		"-m", strconv.Itoa(optionsCount), "-r", strconv.Itoa(optionsRate), addrs[network])
	runErr := cmd.Wait()
	t.Logf("%d OPTIONS over %s in %s", optionsCount, network, time.Since(start).Round(time.Millisecond))
	checkSipp(t, r, optionsCount, exitErrOrNil(runErr))
	require.NoError(t, uas.stop(t), "optionsuas exit")
}

// TestTransactionUASUDP: SIPp's built-in uac scenario places 2,000 calls at
// 100 calls/s over UDP to txuas (transport + transaction layers): every
// call succeeds, and SIPp sees no retransmission and no unexpected message
// (issue 4).
func TestTransactionUASUDP(t *testing.T) { testUAS(t, "udp") }

// TestTransactionUASTCP is TestTransactionUASUDP over one TCP connection.
func TestTransactionUASTCP(t *testing.T) { testUAS(t, "tcp") }

func testUAS(t *testing.T, network string) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "txuas")
	uas, addrs := startProgram(t, ctx, bin, []string{network}, "-listen", net.JoinHostPort(loopback, "0"))
	r := newSipp(t, "uac_"+network, freePort(t), "-sn", "uac")
	defer func() { logTails(t, append(r.files(), uas.stdout, uas.stderr)...) }()
	start := time.Now()
	// -d 0: the BYE follows the ACK at once, so the two race through the
	// layers, as they may in the wild.
	cmd := r.start(t, ctx, "-t", sippTransport(network), "-d", "0",
		"-m", strconv.Itoa(callCount), "-r", strconv.Itoa(callRate), addrs[network])
	runErr := cmd.Wait()
	t.Logf("%d calls over %s in %s", callCount, network, time.Since(start).Round(time.Millisecond))
	require.NoError(t, uas.stop(t), "txuas exit")
	sum := uas.summary(t)
	t.Logf("txuas: %v", sum)
	checkSipp(t, r, callCount, exitErrOrNil(runErr))
	n := strconv.Itoa(callCount)
	for k, want := range map[string]string{
		"invites": n, "answered": n, "acks": n, "byes": n,
		"2xx-retransmissions": "0", "ack-timeouts": "0", "unknown-acks": "0",
		"unknown-byes": "0", "respond-errors": "0", "open-calls": "0",
	} {
		require.Equal(t, want, sum[k], "txuas %s", k)
	}
}

// TestTransactionUACUDP: txuac (transport + transaction layers) places
// 2,000 calls at 100 calls/s over UDP to SIPp's built-in uas scenario:
// every call succeeds on both sides, and SIPp sees no retransmission and
// no unexpected message (issue 4).
func TestTransactionUACUDP(t *testing.T) { testUAC(t, "udp") }

// TestTransactionUACTCP is TestTransactionUACUDP over one TCP connection.
func TestTransactionUACTCP(t *testing.T) { testUAC(t, "tcp") }

func testUAC(t *testing.T, network string) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "txuac")
	port := freePort(t)
	r := newSipp(t, "uas_"+network, port, "-sn", "uas")
	uacOut := filepath.Join(artifacts(t), "txuac.out")
	defer func() { logTails(t, append(r.files(), uacOut)...) }()
	sipp := r.start(t, ctx, "-t", sippTransport(network), "-m", strconv.Itoa(callCount))
	waitListening(t, ctx, network, port)

	start := time.Now()
	uacErr := runToFile(ctx, uacOut, bin,
		"-target", net.JoinHostPort(loopback, strconv.Itoa(port)), "-transport", network,
		"-listen", net.JoinHostPort(loopback, "0"),
		"-calls", strconv.Itoa(callCount), "-rate", strconv.Itoa(callRate),
		"-timeout", runTimeout.String())
	t.Logf("%d calls over %s in %s", callCount, network, time.Since(start).Round(time.Millisecond))
	// SIPp ends once its last call has passed the scenario's 4 s
	// timewait.
	sippErr := sipp.Wait()
	sum := summaryOf(t, uacOut)
	t.Logf("txuac: %v", sum)
	checkSipp(t, r, callCount, exitErrOrNil(sippErr))
	require.NoError(t, exitErrOrNil(uacErr), "txuac exit status (0: every call successful)")
	n := strconv.Itoa(callCount)
	for k, want := range map[string]string{"ok": n, "failed": "0", "2xx-retransmissions": "0", "stray": "0"} {
		require.Equal(t, want, sum[k], "txuac %s", k)
	}
}

// TestTransactionUASCancelUDP: SIPp sends 500 INVITEs at 100/s over UDP to
// txuas, which rings for longer than the test, and CANCELs each once it
// rings; the transaction layer answers each CANCEL 200 and the handler the
// INVITE 487, which SIPp ACKs (RFC 3261 §9.1, §9.2, §17.2.1), with no
// retransmission and no unexpected message.
func TestTransactionUASCancelUDP(t *testing.T) { testCancel(t, "udp") }

// TestTransactionUASCancelTCP is TestTransactionUASCancelUDP over one TCP
// connection.
func TestTransactionUASCancelTCP(t *testing.T) { testCancel(t, "tcp") }

func testCancel(t *testing.T, network string) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	bin := buildProgram(t, ctx, "txuas")
	uas, addrs := startProgram(t, ctx, bin, []string{network},
		"-listen", net.JoinHostPort(loopback, "0"), "-ring", runTimeout.String())
	sc, err := filepath.Abs(filepath.Join("testdata", "uac_cancel.xml"))
	require.NoError(t, err)
	r := newSipp(t, "cancel_"+network, freePort(t), "-sf", sc)
	defer func() { logTails(t, append(r.files(), uas.stdout, uas.stderr)...) }()
	cmd := r.start(t, ctx, "-t", sippTransport(network),
		"-m", strconv.Itoa(optionsCount), "-r", strconv.Itoa(optionsRate), addrs[network])
	runErr := cmd.Wait()
	require.NoError(t, uas.stop(t), "txuas exit")
	sum := uas.summary(t)
	t.Logf("txuas: %v", sum)
	checkSipp(t, r, optionsCount, exitErrOrNil(runErr))
	n := strconv.Itoa(optionsCount)
	for k, want := range map[string]string{
		"invites": n, "ringing": n, "cancels": n, "answered": "0", "respond-errors": "0", "open-calls": "0",
	} {
		require.Equal(t, want, sum[k], "txuas %s", k)
	}
}
