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
