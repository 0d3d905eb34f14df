package lifecycle

import (
	"sync"
	"sync/atomic"
)

// Group is the set of goroutines a component owns. Its zero value is open
// and empty. All its methods are safe for concurrent use.
type Group struct {
	mu     sync.Mutex
	closed atomic.Bool // written under mu, read without it by Shutting
	wg     sync.WaitGroup
}

// Go runs f on a new goroutine that Wait waits for, and reports true; once
// the group is shut it runs nothing and reports false.
func (g *Group) Go(f func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Enter counts the calling goroutine (a timer callback, a goroutine the
// caller starts itself) as one Wait waits for, and reports true; the
// caller must call Done when it ends. Once the group is shut it counts
// nothing and reports false.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return false
	}
	g.wg.Add(1)
	return true
}

// Done ends what a successful Enter began.
func (g *Group) Done() { g.wg.Done() }

// Shut refuses new goroutines from now on. It reports whether this call
// shut the group (false if it already was), so that a Close can do its
// one-time work once.
func (g *Group) Shut() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.closed.Swap(true)
}

// Shutting reports whether Shut has been called. It takes no lock, so hot
// paths can ask.
func (g *Group) Shutting() bool { return g.closed.Load() }

// Wait waits for every goroutine started with Go or counted with Enter.
// Call it after Shut, or new goroutines may keep it waiting.
func (g *Group) Wait() { g.wg.Wait() }
