package transaction

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHandlerCtxBehavesAsCancelCause checks the handler's context against
// what context.WithCancelCause would give, whether the standard context
// was made before the end (a handler waiting on Done) or after it (a
// handler that looked only once the transaction was over).
func TestHandlerCtxBehavesAsCancelCause(t *testing.T) {
	for _, tc := range []struct {
		name      string
		doneFirst bool // Done asked for before the end
	}{
		{"made before the end", true},
		{"made after the end", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h handlerCtx
			var ctx context.Context = &h
			_, has := ctx.Deadline()
			require.False(t, has)
			require.NoError(t, ctx.Err())
			require.NoError(t, h.causeOf())
			var done <-chan struct{}
			if tc.doneFirst {
				done = ctx.Done()
				select {
				case <-done:
					t.Fatal("done before the end")
				default:
				}
			}
			h.end(ErrCanceled)
			h.end(ErrTerminated) // the first cause counts
			if !tc.doneFirst {
				done = ctx.Done()
			}
			<-done // closed: does not block
			require.ErrorIs(t, ctx.Err(), context.Canceled)
			require.ErrorIs(t, context.Cause(ctx), ErrCanceled)
			require.ErrorIs(t, h.causeOf(), ErrCanceled)
		})
	}
}

// TestHandlerCtxDerived checks that a context derived from the handler's
// is canceled with it, with its cause, and without a goroutine of the
// context package watching the pair (the handler's context hands
// context.WithCancel its standard one through Value).
func TestHandlerCtxDerived(t *testing.T) {
	var h handlerCtx
	before := runtime.NumGoroutine()
	child, cancel := context.WithCancel(&h)
	defer cancel()
	grand, cancel2 := context.WithTimeout(child, 3600e9)
	defer cancel2()
	require.Equal(t, before, runtime.NumGoroutine(), "a goroutine watches the handler's context")
	require.NoError(t, grand.Err())
	h.end(ErrClosed)
	<-grand.Done()
	require.True(t, errors.Is(context.Cause(grand), ErrClosed))
	require.ErrorIs(t, child.Err(), context.Canceled)
}

// TestHandlerCtxLazy checks that a handler that only calls Err, before and
// after the end, costs no allocation: the standard context is not made.
func TestHandlerCtxLazy(t *testing.T) {
	hs := make([]handlerCtx, 101) // AllocsPerRun runs once more to warm up
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		h := &hs[i]
		i++
		var ctx context.Context = h
		if ctx.Err() != nil {
			t.Fatal("ended before its end")
		}
		h.end(ErrTerminated)
		if ctx.Err() == nil || h.causeOf() != ErrTerminated {
			t.Fatal("not ended")
		}
	})
	require.Zero(t, allocs)
}
