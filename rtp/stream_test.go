package rtp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrameRing(t *testing.T) {
	r := newFrameRing(3, 4)
	_, ok := r.pop(nil)
	require.False(t, ok)

	ok, dropped := r.push([]int16{1, 2}, 4, false)
	require.True(t, ok)
	require.False(t, dropped)
	r.push([]int16{3, 4, 5, 6}, 4, false)
	r.push([]int16{7}, 0, false) // no padding: one sample
	require.True(t, r.full())
	ok, _ = r.push([]int16{8}, 0, false)
	require.False(t, ok, "full without overwrite")

	got, ok := r.pop(nil)
	require.True(t, ok)
	require.Equal(t, []int16{1, 2, 0, 0}, got, "padded with silence")

	ok, dropped = r.push([]int16{9, 9, 9, 9, 9}, 4, true) // truncated to the slot
	require.True(t, ok)
	require.False(t, dropped)
	ok, dropped = r.push([]int16{10}, 1, true)
	require.True(t, ok)
	require.True(t, dropped, "the oldest frame made room")

	var all [][]int16
	for {
		f, ok := r.pop(nil)
		if !ok {
			break
		}
		all = append(all, f)
	}
	require.Equal(t, [][]int16{{7}, {9, 9, 9, 9}, {10}}, all)
	require.Zero(t, r.len())
	r.push([]int16{1}, 1, false)
	r.reset()
	require.Zero(t, r.len())
}

// TestFrameRingResize: resize empties the ring and packs its slots at the
// new size, never beyond the memory's largest slot; frames of that size go
// through whole.
func TestFrameRingResize(t *testing.T) {
	r := newFrameRing(3, 6)
	require.Equal(t, 6, r.maxSlot())
	r.push([]int16{1, 2, 3}, 0, false)
	r.resize(2)
	require.Zero(t, r.len(), "emptied")
	for i := range int16(3) {
		ok, _ := r.push([]int16{i, i, i}, 2, false) // truncated to the slot
		require.True(t, ok)
	}
	for i := range int16(3) {
		got, ok := r.pop(nil)
		require.True(t, ok)
		require.Equal(t, []int16{i, i}, got)
	}
	require.Equal(t, []int16{0, 0, 1, 1, 2, 2}, r.data[:6], "slots packed at the front")
	r.resize(100)
	require.Equal(t, 6, r.slotSize, "at most the largest slot")
	ok, _ := r.push([]int16{1, 2, 3, 4, 5, 6}, 6, false)
	require.True(t, ok)
	got, _ := r.pop(nil)
	require.Equal(t, []int16{1, 2, 3, 4, 5, 6}, got)
	var zero frameRing
	require.Zero(t, zero.maxSlot())
}

// TestFrameRingInPlace: a frame built in tail's memory is queued by push
// without a copy (the memory is the slot's), also when the ring is full
// and the push drops the oldest frame; popInPlace hands out the slot's
// memory.
func TestFrameRingInPlace(t *testing.T) {
	r := newFrameRing(2, 4)
	for i := range int16(3) { // the third overwrites the first
		f := append(r.tail(), i, i, i)
		require.Equal(t, 4, cap(f), "room for a slot")
		ok, dropped := r.push(f, 0, true)
		require.True(t, ok)
		require.Equal(t, i == 2, dropped)
		require.Same(t, &f[0], &r.data[int(i)%2*4], "built in place")
	}
	f, ok := r.popInPlace()
	require.True(t, ok)
	require.Equal(t, []int16{1, 1, 1}, f)
	require.Same(t, &r.data[4], &f[0], "in the ring's memory")
	got, ok := r.pop([]int16{9})
	require.True(t, ok)
	require.Equal(t, []int16{9, 2, 2, 2}, got)
	_, ok = r.popInPlace()
	require.False(t, ok)

	// A frame from elsewhere is copied in.
	other := []int16{5, 6}
	r.push(other, 4, false)
	other[0] = 0
	got, _ = r.pop(nil)
	require.Equal(t, []int16{5, 6, 0, 0}, got)
}
