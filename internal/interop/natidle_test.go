//go:build interop && natidle

package interop

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// The idle-NAT measurement (issue 14's "how many of 100 incoming calls
// reach a UA behind each NAT type after 10 minutes idle"): built only
// with the natidle tag, as it takes as long as the idle time asked for,
// and run by scripts/nat-idle.sh, which sets these variables; without
// DIALTONE_NAT_IDLE it fails and says what to set.
const (
	// natIdleEnv is the idle time before the calls (a Go duration).
	natIdleEnv = "DIALTONE_NAT_IDLE"
	// natIdleKindEnv is the NAT: cone (default) or symmetric.
	natIdleKindEnv = "DIALTONE_NAT_KIND"
	// natIdleCallsEnv is how many calls are placed (default 100).
	natIdleCallsEnv = "DIALTONE_NAT_CALLS"
	// natIdleTimeoutEnv is the router's conntrack UDP timeout in seconds
	// (default 30, the Linux default of nf_conntrack_udp_timeout).
	natIdleTimeoutEnv = "DIALTONE_NAT_UDP_TIMEOUT"
	// natIdleRate is the calls per second SIPp places.
	natIdleRate = 5
)

// TestNATIdleCalls registers alice (examples/dial, STUN, the default
// keepalive) at Kamailio from behind the lab's NAT, leaves her idle for
// DIALTONE_NAT_IDLE, then has SIPp on the public side place
// DIALTONE_NAT_CALLS calls to her through Kamailio, and reports how many
// she answered ("NAT-IDLE RESULT" line). It fails when a call is lost
// behind the cone NAT (the target); behind the symmetric one it
// only reports.
func TestNATIdleCalls(t *testing.T) {
	idle, err := time.ParseDuration(os.Getenv(natIdleEnv))
	if err != nil {
		t.Fatalf("a measurement: set %s (a duration) to run it; scripts/nat-idle.sh does", natIdleEnv)
	}
	kind := strings.ToLower(os.Getenv(natIdleKindEnv))
	if kind == "" {
		kind = "cone"
	}
	require.Contains(t, []string{"cone", "symmetric"}, kind, natIdleKindEnv)
	calls := envInt(t, natIdleCallsEnv, 100)
	udpTimeout := envInt(t, natIdleTimeoutEnv, 30)
	testenv.LookPath(t, "turnserver", "coturn")
	sipp := sippPath(t)

	ctx, cancel := context.WithTimeout(t.Context(), idle+time.Duration(calls/natIdleRate)*time.Second+3*time.Minute)
	defer cancel()
	lab := newNATLab(t, ctx, natLabConfig{symmetric: kind == "symmetric", udpTimeout: udpTimeout})
	k := startKamailioIn(t, ctx, lab.pub, lab.pubIP)
	stunAddr := net.JoinHostPort(lab.pubIP.String(), "3478")
	lab.start(t, ctx, lab.pub, "turnserver", "turnserver", "--stun-only", "-n", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip", lab.pubIP.String(), "--listening-port", "3478", "--log-file", "stdout", "--simple-log")
	dial := buildExample(t, ctx, "dial")
	kHost := net.JoinHostPort(lab.pubIP.String(), "5060")
	alice := lab.start(t, ctx, lab.priv, "alice", dial, "-listen", net.JoinHostPort(lab.privIP.String(), "5060"),
		"-aor", "sip:alice@"+kHost, "-pass", "alicepw", "-registrar", "sip:"+kHost,
		"-stun", stunAddr, "-answer-after", "0", "-no-media")
	waitFile(t, ctx, alice.stdout, "registered line=", peerWait)
	t.Logf("Kamailio's binding of alice:\n%s", k.waitBinding(t, ctx, "alice", true))

	t.Logf("%s NAT (conntrack UDP timeout %d s), default keepalive: idle for %s", kind, udpTimeout, idle)
	sleepCtx(ctx, idle)
	require.NoError(t, ctx.Err())

	// proxy_uac.xml: the ACK and BYE follow Kamailio's Record-Route (the
	// built-in uac scenario ignores it, and Kamailio drops them).
	r := newSipp(t, "natidle_uac", 5080, "-sf", scenario(t, "proxy_uac.xml"))
	for i, a := range r.args {
		if a == loopback {
			r.args[i] = lab.pubIP.String()
		}
	}
	args := append(append([]string{"netns", "exec", lab.pub, sipp}, r.args...),
		"-s", "alice", "-m", strconv.Itoa(calls), "-r", strconv.Itoa(natIdleRate),
		"-recv_timeout", "35000", kHost)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Dir = r.dir
	out, err := os.Create(r.output)
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	sippErr := cmd.Run()
	st, _ := logSippFigures(t, r)
	ok, failed := st.int(t, "SuccessfulCall(C)"), st.int(t, "FailedCall(C)")
	t.Logf("NAT-IDLE RESULT nat=%s idle=%s udp_timeout=%ds calls=%d reached=%d failed=%d in %s (sipp: %v)",
		kind, idle, udpTimeout, calls, ok, failed, time.Since(start).Round(time.Second), sippErr)
	if kind == "cone" {
		require.Equal(t, calls, ok, "every call reaches the UA behind the cone NAT")
	}
}

// envInt reads a positive integer from the environment variable name, def
// when it is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}
