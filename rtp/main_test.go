package rtp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every Session
// must have stopped its readers and clock goroutine by the end of its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
