package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// CIVar is the environment variable that marks a CI run; its value must
// be exactly "true".
const CIVar = "CI"

// SkipPrefix starts the reason of every skip made through this package,
// so that a run's summary can tell a missing requirement from other skips.
const SkipPrefix = "needs "

// ErrNotRoot is the error of [NeedRoot] when the test does not run as root.
var ErrNotRoot = errors.New("not running as root")

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv(CIVar) == "true" }

// Need does nothing when err is nil. Otherwise the test needs what and
// does not have it: it is skipped, or fails under CI.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if CI() {
		t.Fatalf("%s%s: %v (%s=true: a missing requirement fails instead of skipping)", SkipPrefix, what, err, CIVar)
	}
	t.Skipf("%s%s: %v (skipped; under %s=true this fails)", SkipPrefix, what, err, CIVar)
}

// LookPath returns the path of program name, from Debian package pkg,
// or skips (fails under CI) when it is not installed.
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, fmt.Sprintf("%s (Debian package %s; scripts/install-peers.sh)", name, pkg), err)
	return p
}

// IPv6Loopback returns nil when a UDP and a TCP socket can be bound on
// ::1, otherwise why not.
func IPv6Loopback() error {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return err
	}
	_ = c.Close()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return err
	}
	return l.Close()
}

// NeedIPv6Loopback skips the test (fails it under CI) when ::1 cannot be
// bound.
func NeedIPv6Loopback(t testing.TB) {
	t.Helper()
	Need(t, "IPv6 loopback (::1)", IPv6Loopback())
}

// NeedRoot skips the test (fails it under CI, which runs as root) when the
// process is not root.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	Need(t, "root ("+why+")", ErrNotRoot)
}
