package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what ivr does, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "ivr", "usage: ivr [flags]", "ivr takes no argument",
		[]string{"answer-after", "reject-code", "trace", "pcap", "listen", "aor", "pass", "registrar", "media-ip", "t1", "prompt", "record-dir", "max-record", "operator", "transfer-timeout", "hold-music"})
}

// TestParseErrors: wrong command lines are errors that say what is wrong
// and exit non-zero.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "ivr", false, []usagetest.ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b"}, Want: "no argument expected"},
		{Args: []string{"-answer-after", "-3s"}, Want: "invalid value \"-3s\" for flag -answer-after"},
		{Args: []string{"-reject-code", "99"}, Want: "-reject-code 99: want a status from 400 to 699"},
		{Args: []string{"-max-record", "0s"}, Want: "-max-record 0s: want a positive duration"},
		{Args: []string{"-prompt", "/nonexistent/prompt.wav"}, Want: "open /nonexistent/prompt.wav: no such file or directory"},
		{Args: []string{"-operator", "desk"}, Want: "-operator \"desk\": want a SIP URI"},
		{Args: []string{"-transfer-timeout", "0s"}, Want: "-transfer-timeout 0s: want a positive duration"},
		{Args: []string{"-hold-music", "/nonexistent/music.wav"}, Want: "-hold-music: open /nonexistent/music.wav: no such file or directory"},
	})
}

// TestListenAndStop: ivr prints the URI to call it at, and stops
// cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "-1", "-record-dir", t.TempDir(), "-pcap", t.TempDir()+"/sip.pcap")
	p.Stdout.WaitFor(t, "call me at sip:ivr@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
