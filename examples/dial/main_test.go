package main

import (
	"bytes"
	"flag"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/examples/internal/clitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line with the target argument, what dial
// does without one, and every flag.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Equal(t, 0, cli.Report(&stderr, "dial", err), "-h exits 0")
	usage := stderr.String()
	require.True(t, strings.HasPrefix(usage, "usage: dial [flags] [target-uri]\n"), usage)
	require.Contains(t, usage, "Without one, it listens (-listen)")
	for _, f := range []string{"answer-after", "reject-code", "hold-after", "resume-after", "dtmf", "dtmf-after",
		"trace", "pcap", "hangup-after", "listen", "aor", "pass", "registrar", "play", "record", "no-media", "quiet"} {
		require.Regexp(t, "\n  -"+f+"( |\n)", usage, "flag -%s in the usage", f)
	}
	require.Empty(t, stdout.String())
}

// TestParseErrors: wrong command lines are usage errors (exit status 2)
// that say what is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"sip:a@b", "sip:c@d"}, "one target URI at most"},
		{[]string{"sip:a@b", "-trace", "sip:c@d"}, "one target URI at most"},
		{[]string{"sip:a@b", "-resume-after", "1s"}, "-resume-after needs -hold-after"},
		{[]string{"-answer-after", "-3s"}, "invalid value \"-3s\" for flag -answer-after"},
		{[]string{"-reject-code", "200"}, "-reject-code 200: want a status from 400 to 699"},
		{[]string{"-resume-after", "1s"}, "-resume-after needs -hold-after"},
		{[]string{"-dtmf-after", "1s"}, "-dtmf-after needs -dtmf digits"},
		{[]string{"-dtmf", "12x"}, "-dtmf \"12x\""},
		{[]string{"-hold-after", "-1s"}, "-hold-after -1s: want a duration of 0 or more"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			require.ErrorIs(t, err, cli.ErrUsage)
			require.Contains(t, err.Error()+stderr.String(), tc.want)
			require.Equal(t, cli.ExitUsage, cli.Report(&bytes.Buffer{}, "dial", err))
		})
	}
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
