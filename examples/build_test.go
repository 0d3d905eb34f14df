// Package examples holds the test that the example programs build for every
// system a softphone user runs: Linux, macOS and Windows.
package examples

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// crossBuildTimeout bounds one cross-compilation of the examples: the
// first one compiles the standard library for the target, minutes on a
// loaded two-core machine.
const crossBuildTimeout = 10 * time.Minute

// TestCrossBuild builds every example for each operating system and
// architecture below (go build ./..., GOOS and GOARCH set, cgo off), so a
// Unix-only call (syscall.SIGUSR1…) outside a file with a build
// constraint fails here rather than on a user's machine.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the examples three times: skipped with -short")
	}
	for _, target := range []struct{ goos, goarch string }{
		{"linux", "amd64"},
		{"darwin", "arm64"},
		{"windows", "amd64"},
	} {
		t.Run(target.goos+"_"+target.goarch, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), crossBuildTimeout)
			defer cancel()
			out := t.TempDir()
			cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./...")
			cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
			log, err := cmd.CombinedOutput()
			require.NoError(t, err, "GOOS=%s GOARCH=%s go build ./examples/...:\n%s", target.goos, target.goarch, log)
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			suffix := ""
			if target.goos == "windows" {
				suffix = ".exe"
			}
			for _, name := range []string{"conference", "demo", "dial", "echobot", "ivr", "proxy", "voicemail"} {
				require.Contains(t, names, name+suffix, "built programs")
			}
		})
	}
}
