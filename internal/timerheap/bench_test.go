package timerheap_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dialtone/dialtone/internal/timerheap"
)

const benchItems = 100_000

// fill builds a heap of benchItems items with random deadlines within 64 s,
// the spread of RFC 3261 timers (64·T1).
func fill(r *rand.Rand) (*timerheap.Heap[int], []*timerheap.Item[int]) {
	h := new(timerheap.Heap[int])
	items := make([]*timerheap.Item[int], benchItems)
	for i := range items {
		items[i] = h.Push(t0.Add(time.Duration(r.Int64N(int64(64*time.Second)))), i)
	}
	return h, items
}

// BenchmarkPush measures Push plus Remove on a heap holding 100,000 items.
func BenchmarkPush(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h, _ := fill(r)
	b.ReportAllocs()
	for b.Loop() {
		it := h.Push(t0.Add(time.Duration(r.Int64N(int64(64*time.Second)))), 0)
		h.Remove(it)
	}
}

// BenchmarkUpdate moves a random item of 100,000 to a new deadline.
func BenchmarkUpdate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h, items := fill(r)
	b.ReportAllocs()
	for b.Loop() {
		h.Update(items[r.IntN(len(items))], t0.Add(time.Duration(r.Int64N(int64(64*time.Second)))))
	}
}

// BenchmarkRemoveRearm removes a random item of 100,000 and arms it again.
func BenchmarkRemoveRearm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h, items := fill(r)
	b.ReportAllocs()
	for b.Loop() {
		it := items[r.IntN(len(items))]
		h.Remove(it)
		h.Update(it, t0.Add(time.Duration(r.Int64N(int64(64*time.Second)))))
	}
}

// BenchmarkPopDue is a run loop's steady state: the earliest timer fires and
// is re-armed 64 s later, with 100,000 timers armed.
func BenchmarkPopDue(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h, items := fill(r)
	b.ReportAllocs()
	for b.Loop() {
		now, _ := h.Peek()
		h.PopDue(now, func(i int) { h.Update(items[i], now.Add(64*time.Second)) })
	}
}
