package ua_test

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

// TestMemoryPerCall holds many established calls over memnet and measures
// the heap they cost on each side once the INVITE transactions are over
// (issue 5: under 4 KiB per established dialog without media, and no
// goroutine per dialog).
func TestMemoryPerCall(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const calls = 2000
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		in := make(chan *ua.Call, calls)
		a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		b, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(in)})
		settle := func() uint64 {
			time.Sleep(time.Minute) // every transaction ends (Timers M, L, J, D)
			synctest.Wait()
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := settle()
		g0 := runtime.NumGoroutine()
		held := make([]*ua.Call, 0, 2*calls)
		for range calls {
			c, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
			require.NoError(t, err)
			held = append(held, c, <-in)
		}
		// The recorders' events hold the responses they came with: the
		// test's memory, not the calls'.
		ra.reset()
		rb.reset()
		after := settle()
		require.Equal(t, calls, a.Calls())
		require.Equal(t, calls, b.Calls())
		g1 := runtime.NumGoroutine()
		perCall := float64(after-before) / float64(2*calls)
		t.Logf("heap per established call (per side, both UAs' share averaged): %.0f B; goroutines before %d, after %d", perCall, g0, g1)
		require.Less(t, perCall, 4096.0)
		// Each UA's clock runs while timers are armed: the calls' session
		// timers (RFC 4028) keep both awake.
		require.LessOrEqual(t, g1, g0+2, "no goroutine per held call")
		for i := 0; i < len(held); i += 2 {
			require.NoError(t, held[i].Hangup(t.Context()))
		}
		runtime.KeepAlive(held)
	})
}
