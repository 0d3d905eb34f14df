package ua_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// maxCallAllocs bounds the heap allocations of one complete call (INVITE,
// 180, 200, ACK, BYE, 200) for both UAs together, the path BenchmarkCall
// measures. It measured 126 before issue 22's work, 69 after its first
// part and 50 after its second (141, 83 and 64 under -race; 2026-12-07),
// 51 in the runs where the UA's clock goroutine stops between calls and
// starts again (it keeps its timer; it was 4 more before it did);
// the bounds leave room for the runtime's own noise (a few), not for
// another allocation on every message, and the build of the first part
// fails them.
const (
	maxCallAllocs     = 54
	maxCallAllocsRace = 68
)

// TestCallAllocations counts the allocations of whole calls between two
// UAs over loopback UDP (both sides, every goroutine): a regression bound,
// not a timing.
func TestCallAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("real sockets, a hundred calls")
	}
	callee := newUDPUA(t, ua.Config{OnCall: answerer(nil)})
	caller := newUDPUA(t, ua.Config{})
	target := "sip:bob@" + callee.Addrs()[0].String()
	sdp := []byte(testSDP)
	call := func() {
		c, err := caller.Dial(t.Context(), target, ua.DialOptions{SDP: sdp})
		require.NoError(t, err)
		require.NoError(t, c.Hangup(t.Context()))
	}
	for range 20 { // maps, pools and the clocks' heaps reach their size
		call()
	}
	allocs := testing.AllocsPerRun(100, call)
	t.Logf("%.1f allocations per call, both UAs", allocs)
	limit := maxCallAllocs
	if raceEnabled {
		limit = maxCallAllocsRace
	}
	require.LessOrEqual(t, allocs, float64(limit))
}
