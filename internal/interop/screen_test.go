//go:build interop

package interop

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadScreen checks the parser of SIPp's scenario screen on a screen
// SIPp wrote against a UAS retransmitting its 2xx too early (T1 = 1 ms),
// with one unexpected message added: the checks of the interop tests rely
// on it to see retransmissions and unexpected messages.
func TestReadScreen(t *testing.T) {
	rows := readScreen(t, filepath.Join("testdata", "screen_retrans.log"))
	want := []screenRow{
		{name: "INVITE ---------->", messages: 100},
		{name: "100 <----------"},
		{name: "180 <----------", messages: 100},
		{name: "183 <----------"},
		{name: "200 <---------- E-RTD1", messages: 100, retrans: 2},
		{name: "ACK ---------->", messages: 100, retrans: 2},
		{name: "Pause [ 50ms]", messages: 100},
		{name: "BYE ---------->", messages: 100},
		{name: "200 <----------", messages: 99, unexpected: 1},
	}
	require.Equal(t, want, rows)
}
