package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what conference does, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "conference", "usage: conference [flags]", "conference takes no argument",
		[]string{"listen", "aor", "pass", "registrar", "trace", "pcap", "metrics", "codecs", "media-ip", "lobby", "max-rooms", "max-parties", "max-call", "t1"})
}

// TestParseErrors: wrong command lines are errors that say what is wrong
// and exit non-zero.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "conference", false, []usagetest.ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b"}, Want: "no argument expected"},
		{Args: []string{"-max-rooms", "0"}, Want: "-max-rooms 0: want at least 1"},
		{Args: []string{"-max-parties", "0"}, Want: "-max-parties 0: want 1 to 1000"},
		{Args: []string{"-max-call", "0s"}, Want: "-max-call 0s: want a positive duration"},
		{Args: []string{"-lobby", ""}, Want: "-lobby: want a user name"},
		{Args: []string{"-codecs", "opus"}, Want: "opus"},
	})
}

// TestListenAndStop: conference prints the lobby's URI and stops cleanly
// when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-lobby", "bridge")
	p.Stdout.WaitFor(t, "call me at sip:bridge@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
