// Package timerheap is a min-heap of deadlines: one [time.Timer] stands for
// many protocol timers.
//
// Its owners today are each shard of the transaction layer (RFC 3261
// §17.1.1.2 Timers A and B, §17.1.2.2 E and F, §17.2.1 G/H/I, §17.2.2 J,
// the linger of absorbed retransmissions) and each worker of the rtp media
// engine (the next frame of every session it paces). An owner keeps one
// [time.Timer]: after every change it asks the heap for the earliest deadline
// with [Heap.Peek] and resets its timer to it, and when that timer fires it
// takes out everything that is due with [Heap.PopDue]. This keeps state
// machines free of goroutines: a thousand transactions or media sessions
// cost one timer, not a thousand.
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
// A Heap is not safe for concurrent use. Its owner serializes every call:
// a transaction shard under the shard's mutex, an rtp engine worker on its
// own goroutine. Nothing in this package starts goroutines or reads the
// clock.
package timerheap
