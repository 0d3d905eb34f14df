package timerheap_test

import (
	"fmt"
	"time"

	"github.com/dialtone/dialtone/internal/timerheap"
)

// A run loop keeps one Item per timer, resets its single time.Timer to
// Peek's deadline, and fires what is due.
func Example() {
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var h timerheap.Heap[string]
	h.Push(start.Add(32*time.Second), "Timer F")
	e := h.Push(start.Add(500*time.Millisecond), "Timer E")
	h.Push(start.Add(5*time.Second), "Timer K")

	next, _ := h.Peek()
	fmt.Println("wake at", next.Sub(start))

	// Timer E fires and is re-armed with a doubled interval (RFC 3261 §17.1.2.2).
	h.PopDue(next, func(name string) {
		fmt.Println("fired", name)
		h.Update(e, next.Add(time.Second))
	})
	next, _ = h.Peek()
	fmt.Println("wake at", next.Sub(start))

	// A provisional response arrives: Timer E stops, Timer F keeps running.
	h.Remove(e)
	fmt.Println("armed", h.Len())
	// Output:
	// wake at 500ms
	// fired Timer E
	// wake at 1.5s
	// armed 2
}
