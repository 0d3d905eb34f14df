package srtp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (a DTLS
// connection's reader, a handshake's retransmission timer).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
