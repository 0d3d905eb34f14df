package mix_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves an engine worker behind: a started
// mixer's Close must stop its ticker.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
