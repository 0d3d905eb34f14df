package timerheap

import "time"

// Item is an entry of a [Heap]: a value with a deadline. The heap keeps a
// pointer to it; the owner keeps the same pointer to update or remove the
// entry later. The zero Item is not in any heap.
type Item[T any] struct {
	// Value is the caller's payload. The heap never reads it.
	Value T

	deadline time.Time
	index    int // position in Heap.items, or -1 when not in a heap
	owner    *Heap[T]
}

// Deadline returns the deadline the item was last given.
func (it *Item[T]) Deadline() time.Time { return it.deadline }

// Scheduled reports whether the item is currently in a heap.
func (it *Item[T]) Scheduled() bool { return it.owner != nil }

// Heap is a min-heap of [Item]s ordered by deadline, earliest first; equal
// deadlines are ordered first in, first out. The zero Heap is empty and ready
// to use. A Heap must not be copied after first use, and it is not safe for
// concurrent use.
type Heap[T any] struct {
	// items holds each item's sort key beside its pointer, so that a
	// comparison reads the heap's own array instead of two items
	// scattered over memory: sifting an item through a heap of a
	// thousand touches ten levels, and the deadline held as a time.Time
	// made each comparison the costliest step of a media clock's tick.
	items []entry[T]
	seq   uint64
	// base is the origin of the keys: the first deadline ever given.
	base  time.Time
	based bool
}

// entry is one heap slot: the item and its sort key.
type entry[T any] struct {
	at  int64  // deadline as nanoseconds since Heap.base
	seq uint64 // tie-break: order of the item's last Push or Update
	it  *Item[T]
}

// key returns deadline as nanoseconds since the heap's base. Sub uses the
// monotonic clock readings when both times have them, as Compare does, so
// the order is the deadlines' own.
func (h *Heap[T]) key(deadline time.Time) int64 {
	if !h.based {
		h.base, h.based = deadline, true
	}
	return int64(deadline.Sub(h.base))
}

// Len returns the number of items in the heap.
func (h *Heap[T]) Len() int { return len(h.items) }

// Push adds v with the given deadline and returns its Item, which the caller
// may keep to [Heap.Update] or [Heap.Remove] it. Push allocates the Item.
func (h *Heap[T]) Push(deadline time.Time, v T) *Item[T] {
	it := &Item[T]{Value: v, index: -1}
	h.Update(it, deadline)
	return it
}

// Update sets the deadline of it and moves it to its new place. If it is not
// in the heap (new, popped, or removed), Update puts it back in. Update does
// not allocate unless the heap's backing array must grow.
//
// An Item belongs to at most one Heap at a time: updating an Item that is
// scheduled in another Heap first removes it from there.
func (h *Heap[T]) Update(it *Item[T], deadline time.Time) {
	if it.owner != nil && it.owner != h {
		it.owner.Remove(it)
	}
	h.seq++
	it.deadline = deadline
	e := entry[T]{at: h.key(deadline), seq: h.seq, it: it}
	if it.owner == nil {
		it.owner = h
		it.index = len(h.items)
		h.items = append(h.items, e)
		h.up(it.index)
		return
	}
	h.items[it.index] = e
	if !h.down(it.index) {
		h.up(it.index)
	}
}

// Remove takes it out of the heap. It reports whether it was in the heap, so
// removing twice, or removing an item that was already popped, is harmless.
func (h *Heap[T]) Remove(it *Item[T]) bool {
	if it == nil || it.owner != h {
		return false
	}
	i := it.index
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = entry[T]{}
	h.items = h.items[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	it.index = -1
	it.owner = nil
	return true
}

// Peek returns the earliest deadline, and false if the heap is empty.
func (h *Heap[T]) Peek() (time.Time, bool) {
	if len(h.items) == 0 {
		return time.Time{}, false
	}
	return h.items[0].it.deadline, true
}

// Min returns the item with the earliest deadline without removing it, or
// nil if the heap is empty.
func (h *Heap[T]) Min() *Item[T] {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0].it
}

// Pop removes and returns the item with the earliest deadline, or nil if the
// heap is empty.
func (h *Heap[T]) Pop() *Item[T] {
	it := h.Min()
	if it != nil {
		h.Remove(it)
	}
	return it
}

// PopDue removes, in deadline order, every item whose deadline is not after
// now, and calls yield with each value after the item has left the heap. It
// returns how many items it removed.
//
// yield may push, update or remove items. An item it schedules at or before
// now is popped by the same call, so a yield that always re-arms its item at
// a deadline not after now never returns; schedule into the future instead.
func (h *Heap[T]) PopDue(now time.Time, yield func(T)) int {
	n := 0
	for len(h.items) > 0 && !h.items[0].it.deadline.After(now) {
		it := h.items[0].it
		h.Remove(it)
		n++
		yield(it.Value)
	}
	return n
}

// Clear removes every item.
func (h *Heap[T]) Clear() {
	for i, e := range h.items {
		e.it.index = -1
		e.it.owner = nil
		h.items[i] = entry[T]{}
	}
	h.items = h.items[:0]
}

func (h *Heap[T]) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (h *Heap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].it.index = i
	h.items[j].it.index = j
}

func (h *Heap[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down sifts the element at i0 down and reports whether it moved.
func (h *Heap[T]) down(i0 int) bool {
	n := len(h.items)
	i := i0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
