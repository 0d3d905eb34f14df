// Package usagetest checks the command lines of the example programs: the
// usage text of -h, and the errors of wrong command lines. (It is apart
// from clitest because package cli's own tests use clitest.)
package usagetest

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/examples/internal/cli"
)

// CheckUsage runs name's run with -h: it must exit 0 and print, on
// stderr only, a usage text that starts with synopsis, says about, and
// lists every flag of flags.
func CheckUsage(t *testing.T, run cli.RunFunc, name, synopsis, about string, flags []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Equal(t, 0, cli.Report(&stderr, name, err), "-h exits 0")
	usage := stderr.String()
	require.True(t, strings.HasPrefix(usage, synopsis+"\n"), usage)
	require.Contains(t, usage, about)
	for _, f := range flags {
		require.Regexp(t, "\n  -"+f+"( |\n)", usage, "flag -%s in the usage", f)
	}
	require.Empty(t, stdout.String())
}

// ParseCase is a wrong command line and what its error must say.
type ParseCase struct {
	Args []string
	Want string
}

// CheckParseErrors runs name's run with each wrong command line: it must
// fail with an error that says Want and exit non-zero; with usage, the
// error must be a cli.ErrUsage and exit with cli.ExitUsage.
func CheckParseErrors(t *testing.T, run cli.RunFunc, name string, usage bool, cases []ParseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.Join(tc.Args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.Args, &stdout, &stderr)
			if usage {
				require.ErrorIs(t, err, cli.ErrUsage)
			} else {
				require.Error(t, err)
			}
			require.Contains(t, err.Error()+stderr.String(), tc.Want)
			code := cli.Report(&bytes.Buffer{}, name, err)
			if usage {
				require.Equal(t, cli.ExitUsage, code)
			} else {
				require.NotEqual(t, 0, code)
			}
		})
	}
}

// ServerFlags are the flags of cli.AddServerFlags that a program built on
// it lists in its usage, beside its own.
func ServerFlags(own ...string) []string {
	return append([]string{"listen", "aor", "pass", "registrar", "trace", "pcap", "metrics", "media-ip", "max-call", "t1"}, own...)
}

// ServerParseCases are the wrong command lines a program built on
// cli.AddServerFlags that takes no argument refuses, followed by its own.
func ServerParseCases(own ...ParseCase) []ParseCase {
	return append([]ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b"}, Want: "no argument expected"},
		{Args: []string{"-max-call", "0s"}, Want: "-max-call 0s: want a positive duration"},
	}, own...)
}
