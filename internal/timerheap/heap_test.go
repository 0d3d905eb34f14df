package timerheap_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/timerheap"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// drain pops everything and returns the values in order.
func drain[T any](h *timerheap.Heap[T]) []T {
	var out []T
	for it := h.Pop(); it != nil; it = h.Pop() {
		out = append(out, it.Value)
	}
	return out
}

func TestOrder(t *testing.T) {
	type push struct {
		ms int
		v  string
	}
	tests := []struct {
		name   string
		pushes []push
		want   []string
	}{
		{name: "empty"},
		{name: "one", pushes: []push{{5, "a"}}, want: []string{"a"}},
		{name: "ascending", pushes: []push{{1, "a"}, {2, "b"}, {3, "c"}}, want: []string{"a", "b", "c"}},
		{name: "descending", pushes: []push{{3, "c"}, {2, "b"}, {1, "a"}}, want: []string{"a", "b", "c"}},
		{name: "ties are FIFO", pushes: []push{{7, "x"}, {7, "y"}, {1, "a"}, {7, "z"}}, want: []string{"a", "x", "y", "z"}},
		{name: "zero time first", pushes: []push{{1, "b"}, {-1000, "a"}}, want: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h timerheap.Heap[string]
			for _, p := range tt.pushes {
				h.Push(at(p.ms), p.v)
			}
			require.Equal(t, len(tt.pushes), h.Len())
			require.Equal(t, tt.want, drain(&h))
			require.Zero(t, h.Len())
			_, ok := h.Peek()
			require.False(t, ok)
			require.Nil(t, h.Min())
		})
	}
}

func TestUpdateAndRemove(t *testing.T) {
	tests := []struct {
		name string
		op   func(h *timerheap.Heap[string], items map[string]*timerheap.Item[string])
		want []string
	}{
		{
			name: "update moves earlier",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				h.Update(it["c"], at(0))
			},
			want: []string{"c", "a", "b", "d"},
		},
		{
			name: "update moves later",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				h.Update(it["a"], at(100))
			},
			want: []string{"b", "c", "d", "a"},
		},
		{
			name: "update to an equal deadline goes behind",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				h.Update(it["a"], at(20))
			},
			want: []string{"b", "a", "c", "d"},
		},
		{
			name: "remove root",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				require.True(t, h.Remove(it["a"]))
			},
			want: []string{"b", "c", "d"},
		},
		{
			name: "remove middle and last",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				require.True(t, h.Remove(it["c"]))
				require.True(t, h.Remove(it["d"]))
			},
			want: []string{"a", "b"},
		},
		{
			name: "remove twice",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				require.True(t, h.Remove(it["b"]))
				require.False(t, h.Remove(it["b"]))
				require.False(t, it["b"].Scheduled())
			},
			want: []string{"a", "c", "d"},
		},
		{
			name: "re-arm a removed item",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				require.True(t, h.Remove(it["a"]))
				h.Update(it["a"], at(35))
				require.True(t, it["a"].Scheduled())
			},
			want: []string{"b", "c", "a", "d"},
		},
		{
			name: "re-arm a popped item",
			op: func(h *timerheap.Heap[string], it map[string]*timerheap.Item[string]) {
				require.Same(t, it["a"], h.Pop())
				h.Update(it["a"], at(1000))
			},
			want: []string{"b", "c", "d", "a"},
		},
		{
			name: "remove nil and foreign items",
			op: func(h *timerheap.Heap[string], _ map[string]*timerheap.Item[string]) {
				require.False(t, h.Remove(nil))
				var other timerheap.Heap[string]
				require.False(t, h.Remove(other.Push(at(0), "x")))
				require.False(t, h.Remove(&timerheap.Item[string]{}))
			},
			want: []string{"a", "b", "c", "d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h timerheap.Heap[string]
			items := map[string]*timerheap.Item[string]{}
			for i, v := range []string{"a", "b", "c", "d"} {
				items[v] = h.Push(at(10*(i+1)), v)
			}
			tt.op(&h, items)
			require.Equal(t, tt.want, drain(&h))
		})
	}
}

func TestItemMovesBetweenHeaps(t *testing.T) {
	var h1, h2 timerheap.Heap[int]
	it := h1.Push(at(1), 1)
	h1.Push(at(2), 2)
	h2.Update(it, at(3))
	require.Equal(t, 1, h1.Len())
	require.Equal(t, 1, h2.Len())
	require.Equal(t, []int{2}, drain(&h1))
	require.Equal(t, []int{1}, drain(&h2))
}

func TestPopDue(t *testing.T) {
	tests := []struct {
		name    string
		nowMS   int
		want    []int
		wantLen int
	}{
		{name: "nothing due", nowMS: 5, want: nil, wantLen: 4},
		{name: "boundary is due", nowMS: 10, want: []int{10}, wantLen: 3},
		{name: "some due", nowMS: 25, want: []int{10, 20}, wantLen: 2},
		{name: "all due", nowMS: 99, want: []int{10, 20, 30, 40}, wantLen: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h timerheap.Heap[int]
			for _, ms := range []int{30, 10, 40, 20} {
				h.Push(at(ms), ms)
			}
			var got []int
			n := h.PopDue(at(tt.nowMS), func(v int) { got = append(got, v) })
			require.Equal(t, tt.want, got)
			require.Equal(t, len(tt.want), n)
			require.Equal(t, tt.wantLen, h.Len())
		})
	}
}

func TestPopDueReentrant(t *testing.T) {
	// A yield that re-arms items, as a run loop does with retransmit timers:
	// re-armed at or before now they fire again in the same call, after now
	// they wait for the next one.
	var h timerheap.Heap[*timerheap.Item[int]]
	var items []*timerheap.Item[*timerheap.Item[int]]
	for _, ms := range []int{1, 2, 3} {
		it := &timerheap.Item[*timerheap.Item[int]]{}
		it.Value = &timerheap.Item[int]{Value: ms}
		h.Update(it, at(ms))
		items = append(items, it)
	}
	var fired []int
	count := map[int]int{}
	h.PopDue(at(10), func(v *timerheap.Item[int]) {
		fired = append(fired, v.Value)
		count[v.Value]++
		it := items[v.Value-1]
		if v.Value == 2 && count[2] == 1 {
			h.Update(it, at(5)) // due again within this call
			return
		}
		h.Update(it, at(100+v.Value))
	})
	require.Equal(t, []int{1, 2, 3, 2}, fired)
	require.Equal(t, 3, h.Len())
	d, ok := h.Peek()
	require.True(t, ok)
	require.Equal(t, at(101), d)
}

// TestAgainstModel runs random operations against a sorted-slice model.
func TestAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		r := rand.New(rand.NewPCG(seed, seed))
		var h timerheap.Heap[int]
		type entry struct {
			it  *timerheap.Item[int]
			due time.Time
			seq int
		}
		model := map[int]*entry{}
		seq := 0
		next := 0
		for range 5000 {
			switch op := r.IntN(10); {
			case op < 4 || len(model) == 0: // push
				due := at(r.IntN(200))
				seq++
				model[next] = &entry{it: h.Push(due, next), due: due, seq: seq}
				next++
			case op < 6: // update a random live entry
				e := model[anyKey(r, model)]
				e.due = at(r.IntN(200))
				seq++
				e.seq = seq
				h.Update(e.it, e.due)
			case op < 8: // remove
				k := anyKey(r, model)
				require.True(t, h.Remove(model[k].it))
				delete(model, k)
			default: // pop due
				now := at(r.IntN(200))
				var want []int
				for k, e := range model {
					if !e.due.After(now) {
						want = append(want, k)
					}
				}
				slices.SortFunc(want, func(a, b int) int {
					if c := model[a].due.Compare(model[b].due); c != 0 {
						return c
					}
					return model[a].seq - model[b].seq
				})
				var got []int
				h.PopDue(now, func(v int) { got = append(got, v) })
				require.Equal(t, want, got, "seed %d", seed)
				for _, k := range want {
					delete(model, k)
				}
			}
			require.Equal(t, len(model), h.Len())
		}
	}
}

func anyKey[V any](r *rand.Rand, m map[int]V) int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[r.IntN(len(keys))]
}

func TestNoAllocations(t *testing.T) {
	var h timerheap.Heap[int]
	items := make([]*timerheap.Item[int], 1000)
	for i := range items {
		items[i] = h.Push(at(i), i)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		it := items[(i*7919)%len(items)]
		h.Update(it, at((i*104729)%5000))
		h.Remove(items[(i*31)%len(items)])
		h.Update(items[(i*31)%len(items)], at(i%3000)) // re-arm
		i++
	})
	require.Zero(t, allocs)
	allocs = testing.AllocsPerRun(100, func() {
		it := h.Pop()
		h.Update(it, at(10000+i))
		i++
	})
	require.Zero(t, allocs)
}

func TestClear(t *testing.T) {
	var h timerheap.Heap[int]
	a := h.Push(at(1), 1)
	h.Push(at(2), 2)
	h.Clear()
	require.Zero(t, h.Len())
	require.False(t, a.Scheduled())
	h.Update(a, at(3))
	require.Equal(t, []int{1}, drain(&h))
}
