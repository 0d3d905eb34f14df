package rtp_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every Session
// must have left its engine (whose workers stop with the last session) and
// stopped its socket readers, if any, by the end of its test.
// With RTP_BENCH_PEER set, the binary is instead the far-end process of
// BenchmarkEchoSessionsRemote.
func TestMain(m *testing.M) {
	if os.Getenv(remotePeerEnv) != "" {
		os.Exit(runFarEnd())
	}
	goleak.VerifyTestMain(m)
}
