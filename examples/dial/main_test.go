package main

import (
	"bytes"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line with the target argument, what dial
// does without one, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "dial", "usage: dial [flags] [target-uri]", "Without one, it listens (-listen)",
		[]string{"answer-after", "reject-code", "hold-after", "resume-after", "dtmf", "dtmf-after",
			"trace", "pcap", "hangup-after", "listen", "aor", "pass", "registrar", "play", "record", "no-media", "quiet",
			"transport", "tls-ca", "tls-cert", "tls-key", "tls-insecure", "stun", "keepalive",

			"outbound", "alt-proxy", "alt-outbound", "dual-register", "dns", "failover-after", "probe-interval"})
}

// TestParseErrors: wrong command lines are usage errors (exit status 2)
// that say what is wrong.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "dial", true, []usagetest.ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b", "sip:c@d"}, Want: "one target URI at most"},
		{Args: []string{"sip:a@b", "-trace", "sip:c@d"}, Want: "one target URI at most"},
		{Args: []string{"sip:a@b", "-resume-after", "1s"}, Want: "-resume-after needs -hold-after"},
		{Args: []string{"-answer-after", "-3s"}, Want: "invalid value \"-3s\" for flag -answer-after"},
		{Args: []string{"-reject-code", "200"}, Want: "-reject-code 200: want a status from 400 to 699"},
		{Args: []string{"-resume-after", "1s"}, Want: "-resume-after needs -hold-after"},
		{Args: []string{"-dtmf-after", "1s"}, Want: "-dtmf-after needs -dtmf digits"},
		{Args: []string{"-dtmf", "12x"}, Want: "-dtmf \"12x\""},
		{Args: []string{"-hold-after", "-1s"}, Want: "-hold-after -1s: want a duration of 0 or more"},
		{Args: []string{"-transport", "sctp", "-listen", "127.0.0.1:0"}, Want: "-transport \"sctp\": want udp, tcp, tls, ws or wss"},
		{Args: []string{"-tls-key", "k.pem", "-listen", "127.0.0.1:0"}, Want: "-tls-cert and -tls-key go together"},
		{Args: []string{"-alt-proxy", "sip:b.test"}, Want: "need a line (-aor)"},
		{Args: []string{"-dns", "127.0.0.1"}, Want: "-dns \"127.0.0.1\": want host:port"},
		{Args: []string{"-aor", "sip:a@a.test", "-dual-register"}, Want: "-dual-register needs -alt-proxy or -alt-outbound"},
		{Args: []string{"-aor", "sip:a@a.test", "-proxy", "sip:p.test", "-outbound", "sip:q.test"}, Want: "-outbound and -proxy differ"},
	})
}

// TestListenAndStop: without a target dial prints the URI to call it at,
// and stops cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "1s", "-trace")
	line := p.Stdout.WaitFor(t, "call me at sip:dial@127.0.0.1:")
	require.NotContains(t, line, ":0\n")
	require.NoError(t, p.Stop(t))
	out := p.Stdout.String()
	require.Contains(t, out, "stopping: hanging up and unregistering")
	require.Contains(t, out, "stopped")
}

// TestPortInUse: a -listen address in use gives one clean error that
// names it once.
func TestPortInUse(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.LocalAddr().String()
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"-listen", addr}, &stdout, &stderr)
	require.Error(t, err)
	var msg bytes.Buffer
	require.Equal(t, cli.ExitError, cli.Report(&msg, "dial", err))
	require.Equal(t, "dial: cannot listen on udp "+addr+": address already in use (another program has the port; pick another with -listen)\n", msg.String())
}
