package ua

import (
	"sync"
	"time"

	"github.com/dialtone/dialtone/internal/timerheap"
)

// clock runs every protocol timer of a UA — 2xx retransmissions until the
// ACK, registration refreshes and retries — from one deadline heap behind
// one time.Timer, on one goroutine, instead of a time.AfterFunc (and a
// goroutine when it fires) per timer. Its callbacks run on that goroutine
// and must not block: what may wait is handed to a goroutine of the UA.
// The goroutine runs while timers are armed and belongs to the UA's
// lifecycle.Group, so Close waits for it.
type clock struct {
	u *UA

	mu      sync.Mutex
	heap    timerheap.Heap[*clockTimer]
	running bool // the goroutine exists
	// sleepUntil is the deadline the goroutine sleeps until; zero while it
	// is awake. Only a timer due before it needs a kick: one due later is
	// found when the goroutine wakes. So a call whose 2xx is acknowledged
	// at once costs a heap push and remove, not a goroutine wake-up.
	sleepUntil time.Time
	kick       chan struct{} // a deadline earlier than sleepUntil
	// tm is what the goroutine sleeps on, made by its first run and kept
	// (stopped) between runs: a clock that stops and starts again with
	// each call costs no new timer. Only the running goroutine uses it;
	// it is stopped under mu before running is cleared.
	tm *time.Timer
}

// firer is a timer's target that needs no closure: a state the UA keeps
// anyway (a 2xx retransmission, a session timer) fires itself.
type firer interface{ fire() }

// clockTimer is one armed callback; Stop disarms it.
type clockTimer struct {
	c    *clock
	f    func()
	fr   firer                       // instead of f (fireIn)
	item timerheap.Item[*clockTimer] // in the timer, not apart
}

func newClock(u *UA) *clock { return &clock{u: u, kick: make(chan struct{}, 1)} }

// after runs f on the clock's goroutine d from now, unless stopped first
// or the UA closes.
func (c *clock) after(d time.Duration, f func()) *clockTimer {
	return c.arm(d, new(clockTimer), f, nil)
}

// fireIn runs x.fire() on the clock's goroutine d from now, unless
// stopped first or the UA closes, on a timer its owner keeps (no
// allocation, no closure): t is (re)armed, moved if it was armed already.
func (c *clock) fireIn(t *clockTimer, d time.Duration, x firer) *clockTimer {
	return c.arm(d, t, nil, x)
}

// arm sets t to run f or x, puts it in the heap d from now and starts or
// wakes the clock. t's fields are written under c.mu: run reads what a
// due timer runs under it.
func (c *clock) arm(d time.Duration, t *clockTimer, f func(), x firer) *clockTimer {
	c.mu.Lock()
	t.c, t.f, t.fr, t.item.Value = c, f, x, t
	at := time.Now().Add(d)
	c.heap.Update(&t.item, at)
	start := !c.running
	if start {
		c.running = c.u.g.Enter()
		start = c.running
	}
	early := !start && !c.sleepUntil.IsZero() && at.Before(c.sleepUntil)
	c.mu.Unlock()
	if start {
		go c.run()
	} else if early {
		c.wake()
	}
	return t
}

// Stop disarms t; it reports whether t had not fired yet.
func (t *clockTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heap.Remove(&t.item)
}

func (c *clock) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run fires what is due and sleeps until the next deadline; it returns
// when no timer is armed, or when the UA stops.
func (c *clock) run() {
	defer c.u.g.Done()
	c.mu.Lock()
	if c.tm == nil {
		c.tm = time.NewTimer(time.Hour)
	}
	tm := c.tm
	c.mu.Unlock()
	// due holds what the due timers run, read under c.mu: a timer kept by
	// its owner (fireIn) may be armed again before it has run.
	type run struct {
		f  func()
		fr firer
	}
	var due []run
	for {
		c.mu.Lock()
		c.heap.PopDue(time.Now(), func(t *clockTimer) { due = append(due, run{t.f, t.fr}) })
		if len(due) > 0 {
			c.sleepUntil = time.Time{}
			c.mu.Unlock()
			for i, r := range due {
				// Either may arm timers: the heap is looked at again below.
				if r.fr != nil {
					r.fr.fire()
				} else {
					r.f()
				}
				due[i] = run{}
			}
			due = due[:0]
			continue
		}
		next, ok := c.heap.Peek()
		if !ok {
			// Stopped before running is cleared: the next run resets it.
			tm.Stop()
			c.running, c.sleepUntil = false, time.Time{}
			c.mu.Unlock()
			return
		}
		c.sleepUntil = next
		c.mu.Unlock()
		tm.Reset(time.Until(next))
		select {
		case <-tm.C:
		case <-c.kick:
			// Since Go 1.23 Reset leaves no stale tick in tm.C: the next
			// turn resets it to the new earliest deadline.
		case <-c.u.baseCtx.Done():
			tm.Stop() // running stays set: no run comes after this one
			return
		}
	}
}
