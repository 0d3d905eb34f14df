package lifecycle

import (
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		release := make(chan struct{})
		var ran atomic.Int32
		require.True(t, g.Go(func() { <-release; ran.Add(1) }))
		require.True(t, g.Enter())
		require.False(t, g.Shutting())

		require.True(t, g.Shut(), "the first Shut shuts")
		require.False(t, g.Shut(), "a second Shut is a no-op")
		require.True(t, g.Shutting())
		require.False(t, g.Go(func() { ran.Add(100) }), "no goroutine after Shut")
		require.False(t, g.Enter(), "nothing counted after Shut")

		waited := make(chan struct{})
		go func() { g.Wait(); close(waited) }()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("Wait returned while goroutines run")
		default:
		}
		close(release)
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("Wait returned while an Enter is not Done")
		default:
		}
		g.Done()
		<-waited
		require.Equal(t, int32(1), ran.Load())
	})
}

func TestGroupRacesShut(t *testing.T) {
	// Go and Shut from many goroutines: every goroutine Go started is
	// waited for, so the counter is final when Wait returns.
	for range 50 {
		var g Group
		var started, finished atomic.Int32
		start := make(chan struct{})
		var helpers Group
		for range 8 {
			helpers.Go(func() {
				<-start
				for range 20 {
					if g.Go(func() { finished.Add(1) }) {
						started.Add(1)
					}
				}
			})
		}
		close(start)
		g.Shut()
		g.Wait()
		helpers.Shut()
		helpers.Wait()
		g.Wait()
		require.Equal(t, started.Load(), finished.Load())
	}
}
