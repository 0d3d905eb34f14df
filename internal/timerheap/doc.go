// Package timerheap is a min-heap of deadlines for the run loops of the
// transaction and dialog layers.
//
// A run loop owns many protocol timers (RFC 3261 §17.1.1.2 Timers A and B,
// §17.1.2.2 E and F, §17.2.1 G/H/I, §17.2.2 J, §13.3.1.4 2xx retransmission,
// dialog refreshes, …) but only one [time.Timer]: after every step it asks the
// heap for the earliest deadline with [Heap.Peek] and resets its timer to it,
// and when that timer fires it takes out everything that is due with
// [Heap.PopDue]. This is the shape of quic-go's connection run loop; it keeps
// state machines free of goroutines.
//
// Push is O(log n) and allocates one [Item]; Update, Remove and Pop are
// O(log n) and do not allocate, because each Item records its own position in
// the heap. An Item that was popped or removed can be armed again with
// [Heap.Update], also without allocating, so a transaction can keep one Item
// for its whole life.
//
// Items with equal deadlines come out in the order in which they were last
// pushed or updated, so runs are deterministic.
//
// # Concurrency
//
// A Heap is not safe for concurrent use. It is meant to be owned by a single
// goroutine (the run loop), which serializes every call; nothing in this
// package starts goroutines or reads the clock.
package timerheap
