package ua

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// newClockUA is the part of a UA its clock uses: the lifecycle group and
// the base context.
func newClockUA() *UA {
	u := &UA{}
	u.baseCtx, u.stop = context.WithCancel(context.Background())
	u.clock = newClock(u)
	return u
}

// TestClock: timers fire in deadline order at their instants, an earlier
// one armed later wakes the clock, a stopped one never fires, callbacks
// may arm new timers, the goroutine exits when nothing is armed, and after
// the UA stops nothing fires.
func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newClockUA()
		start := time.Now()
		var mu sync.Mutex
		var fired []string
		at := map[string]time.Duration{}
		record := func(name string) func() {
			return func() {
				mu.Lock()
				defer mu.Unlock()
				fired = append(fired, name)
				at[name] = time.Since(start)
			}
		}
		u.afterFunc(3*time.Second, record("c"))
		u.afterFunc(2*time.Second, record("b"))
		stopped := u.afterFunc(1500*time.Millisecond, record("never"))
		synctest.Wait()
		u.afterFunc(time.Second, record("a")) // earlier than every armed one
		require.True(t, stopped.Stop())
		u.afterFunc(4*time.Second, func() {
			record("d")()
			u.afterFunc(time.Second, record("e")) // armed from a callback
		})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		mu.Lock()
		require.Equal(t, []string{"a", "b", "c", "d", "e"}, fired)
		require.Equal(t, map[string]time.Duration{"a": time.Second, "b": 2 * time.Second, "c": 3 * time.Second,
			"d": 4 * time.Second, "e": 5 * time.Second}, at)
		mu.Unlock()
		require.False(t, stopped.Stop(), "stopped already")

		u.clock.mu.Lock()
		running := u.clock.running
		u.clock.mu.Unlock()
		require.False(t, running, "no goroutine while nothing is armed")

		late := u.afterFunc(time.Second, record("late"))
		u.g.Shut()
		u.stop()
		u.g.Wait() // the clock's goroutine has ended
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		require.NotContains(t, fired, "late", "nothing fires once the UA stopped")
		mu.Unlock()
		require.True(t, late.Stop(), "it never fired")
		u.afterFunc(time.Millisecond, record("after close"))
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		require.NotContains(t, fired, "after close")
		mu.Unlock()
	})
}

// TestClockRestarts: a clock that stopped (nothing armed) and starts
// again with the next timer sleeps on the timer it kept, and each timer
// fires at its instant, however many times it stops and starts.
func TestClockRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newClockUA()
		var first *time.Timer
		for i := 1; i <= 5; i++ {
			start := time.Now()
			fired := make(chan time.Duration, 1)
			u.afterFunc(time.Duration(i)*time.Second, func() { fired <- time.Since(start) })
			require.Equal(t, time.Duration(i)*time.Second, <-fired)
			synctest.Wait() // the goroutine finds nothing armed and exits
			u.clock.mu.Lock()
			running, tm := u.clock.running, u.clock.tm
			u.clock.mu.Unlock()
			require.False(t, running)
			if first == nil {
				first = tm
			}
			require.Same(t, first, tm, "a new timer for run %d", i)
		}
		u.g.Shut()
		u.stop()
		u.g.Wait()
	})
}
