package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/examples/internal/clitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what ivr does, and every flag.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Equal(t, 0, cli.Report(&stderr, "ivr", err), "-h exits 0")
	usage := stderr.String()
	require.True(t, strings.HasPrefix(usage, "usage: ivr [flags]\n"), usage)
	require.Contains(t, usage, "ivr takes no argument")
	for _, f := range []string{"answer-after", "reject-code", "trace", "pcap", "listen", "aor", "pass", "registrar", "media-ip", "t1", "prompt", "record-dir", "max-record"} {
		require.Regexp(t, "\n  -"+f+"( |\n)", usage, "flag -%s in the usage", f)
	}
	require.Empty(t, stdout.String())
}

// TestParseErrors: wrong command lines are errors that say what is wrong;
// flag errors exit with the usage status.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"sip:a@b"}, "no argument expected"},
		{[]string{"-answer-after", "-3s"}, "invalid value \"-3s\" for flag -answer-after"},
		{[]string{"-reject-code", "99"}, "-reject-code 99: want a status from 400 to 699"},
		{[]string{"-max-record", "0s"}, "-max-record 0s: want a positive duration"},
		{[]string{"-prompt", "/nonexistent/prompt.wav"}, "open /nonexistent/prompt.wav: no such file or directory"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			require.Error(t, err)
			require.Contains(t, err.Error()+stderr.String(), tc.want)
			require.NotEqual(t, 0, cli.Report(&bytes.Buffer{}, "ivr", err))
		})
	}
}

// TestListenAndStop: ivr prints the URI to call it at, and stops
// cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "-1", "-record-dir", t.TempDir(), "-pcap", t.TempDir()+"/sip.pcap")
	p.Stdout.WaitFor(t, "call me at sip:ivr@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
