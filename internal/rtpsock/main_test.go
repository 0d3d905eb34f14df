package rtpsock_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Close stops the readers a Pair started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
