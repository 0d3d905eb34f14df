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
		usagetest.ServerFlags("codecs", "lobby", "max-rooms", "max-parties", "hold-music"))
}

// TestParseErrors: wrong command lines are errors that say what is wrong
// and exit non-zero.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "conference", false, usagetest.ServerParseCases(
		usagetest.ParseCase{Args: []string{"-max-rooms", "0"}, Want: "-max-rooms 0: want at least 1"},
		usagetest.ParseCase{Args: []string{"-max-parties", "0"}, Want: "-max-parties 0: want 1 to 1000"},
		usagetest.ParseCase{Args: []string{"-lobby", ""}, Want: "-lobby: want a user name"},
		usagetest.ParseCase{Args: []string{"-codecs", "opus"}, Want: "opus"},
		usagetest.ParseCase{Args: []string{"-hold-music", "/nonexistent/music.wav"}, Want: "-hold-music: open /nonexistent/music.wav: no such file or directory"},
	))
}

// TestListenAndStop: conference prints the lobby's URI and stops cleanly
// when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-lobby", "bridge")
	p.Stdout.WaitFor(t, "call me at sip:bridge@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
