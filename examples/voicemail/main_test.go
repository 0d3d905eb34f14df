package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what voicemail does, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "voicemail", "usage: voicemail [flags]", "voicemail takes no argument",
		[]string{"listen", "mailbox", "dir", "access", "greeting", "silence", "silence-level", "max-message", "max-messages", "idle", "trace", "pcap", "aor", "registrar", "media-ip"})
}

// TestParseErrors: wrong command lines are errors that say what is wrong.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "voicemail", false, []usagetest.ParseCase{
		{Args: []string{"sip:a@b"}, Want: "no argument expected"},
		{Args: []string{}, Want: "no -mailbox"},
		{Args: []string{"-mailbox", "alice"}, Want: `-mailbox "alice": want USER:PIN`},
		{Args: []string{"-mailbox", "alice:12a"}, Want: `-mailbox "alice:12a": want USER:PIN`},
		{Args: []string{"-mailbox", "../x:1"}, Want: `want USER:PIN`},
		{Args: []string{"-mailbox", "voicemail:1"}, Want: "-mailbox voicemail: that is the -access user"},
		{Args: []string{"-mailbox", "a:1", "-silence", "0s"}, Want: "must be positive"},
		{Args: []string{"-mailbox", "a:1", "-silence-level", "3"}, Want: "want a level below 0 dBFS"},
		{Args: []string{"-mailbox", "a:1", "-greeting", "/nonexistent/g.wav"}, Want: "-greeting: open /nonexistent/g.wav"},
	})
}

// TestListenAndStop: voicemail prints the access URI and stops cleanly.
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-mailbox", "alice:1234", "-dir", t.TempDir())
	p.Stdout.WaitFor(t, "call me at sip:voicemail@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}
