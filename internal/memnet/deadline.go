package memnet

import (
	"sync"
	"time"
)

// deadline is a read or write deadline: a channel that is closed once the
// deadline has passed. It uses time.AfterFunc, so inside a synctest bubble
// it follows the bubble's clock.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	gen     uint64        // bumped by every set, so stale timer callbacks do nothing
	expired chan struct{} // closed when the deadline has passed
}

func newDeadline() *deadline {
	return &deadline{expired: make(chan struct{})}
}

// set arms the deadline at t; the zero time disarms it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	closed := isClosed(d.expired)
	if !t.IsZero() && !t.After(time.Now()) {
		if !closed {
			close(d.expired)
		}
		return
	}
	if closed {
		d.expired = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	gen, ch := d.gen, d.expired
	d.timer = time.AfterFunc(time.Until(t), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen && !isClosed(ch) {
			close(ch)
		}
	})
}

// wait returns a channel that is closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// passed reports whether the deadline has passed.
func (d *deadline) passed() bool { return isClosed(d.wait()) }

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// signal does a non-blocking send on a one-slot wake-up channel.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
