package ua_test

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

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

// TestAnsweredCallHoldsNoRequest checks that an answered call's Call-ID
// is a string of its own, not one into the INVITE's datagram: a held
// call would otherwise keep the whole datagram alive (about 450 B per
// call and side in TestMemoryPerCall).
func TestAnsweredCallHoldsNoRequest(t *testing.T) {
	type answered struct {
		inviteCallID, callID string
	}
	got := make(chan answered, 1)
	callee := newUDPUA(t, ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
		c, err := ic.Answer([]byte(testSDP))
		if err != nil {
			t.Error(err)
			return
		}
		got <- answered{inviteCallID: ic.Request().CallID(), callID: c.CallID()}
	}})
	caller := newUDPUA(t, ua.Config{})
	c, err := caller.Dial(t.Context(), "sip:bob@"+callee.Addrs()[0].String(), ua.DialOptions{SDP: []byte(testSDP)})
	require.NoError(t, err)
	a := <-got
	require.Equal(t, c.CallID(), a.callID)
	require.Equal(t, a.inviteCallID, a.callID)
	require.NotSame(t, unsafe.StringData(a.inviteCallID), unsafe.StringData(a.callID), "the call's Call-ID points into the INVITE's buffer")
	require.NoError(t, c.Hangup(t.Context()))
}
