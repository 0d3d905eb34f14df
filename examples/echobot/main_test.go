package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what echobot does, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "echobot", "usage: echobot [flags]", "echobot takes no argument",
		[]string{"answer-after", "reject-code", "trace", "pcap", "listen", "aor", "pass", "registrar", "media-ip", "t1", "rtp-min", "rtp-max", "max-call"})
}

// TestParseErrors: wrong command lines are errors that say what is wrong
// and exit non-zero.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "echobot", false, []usagetest.ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b"}, Want: "no argument expected"},
		{Args: []string{"-answer-after", "-3s"}, Want: "invalid value \"-3s\" for flag -answer-after"},
		{Args: []string{"-reject-code", "99"}, Want: "-reject-code 99: want a status from 400 to 699"},
		{Args: []string{"-max-call", "0s"}, Want: "-max-call 0s: want a positive duration"},
	})
}

// TestListenAndStop: echobot prints the URI to call it at, and stops
// cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "-1", "-pcap", t.TempDir()+"/sip.pcap")
	p.Stdout.WaitFor(t, "call me at sip:echo@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
