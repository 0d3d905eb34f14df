package transaction

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func tombKey(i int) serverKey {
	return serverKey{branch: "z9hG4bK-" + strings.Repeat("b", i%7) + string(rune('a'+i%26)),
		host: "10.0.0.1", port: 5060 + i, method: sip.BYE}
}

// TestTombStoreFind: a tomb is found by its whole key and gives back its
// tag, final response and kind; a key that differs in any field is not.
func TestTombStoreFind(t *testing.T) {
	st := newTombStore()
	k := serverKey{branch: "z9hG4bK1", host: "10.0.0.1", port: 5060, method: sip.BYE}
	final := []byte("SIP/2.0 200 OK\r\n\r\n")
	_, ok := st.add(k, t0.Add(32*time.Second), "tag1", false, final)
	require.True(t, ok)
	ik := k
	ik.method = sip.INVITE
	_, ok = st.add(ik, t0.Add(32*time.Second), "tag2", true, nil)
	require.True(t, ok)

	tests := []struct {
		name   string
		key    serverKey
		found  bool
		invite bool
		tag    string
		final  string
	}{
		{"non-INVITE", k, true, false, "tag1", string(final)},
		{"INVITE", ik, true, true, "tag2", ""},
		{"other branch", serverKey{branch: "z9hG4bK2", host: k.host, port: k.port, method: k.method}, false, false, "", ""},
		{"other host", serverKey{branch: k.branch, host: "10.0.0.2", port: k.port, method: k.method}, false, false, "", ""},
		{"other port", serverKey{branch: k.branch, host: k.host, port: 5061, method: k.method}, false, false, "", ""},
		{"other method", serverKey{branch: k.branch, host: k.host, port: k.port, method: sip.OPTIONS}, false, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, ok := st.find(tc.key)
			require.Equal(t, tc.found, ok)
			if !ok {
				return
			}
			require.Equal(t, tc.invite, tb.invite)
			require.Equal(t, tc.tag, string(tb.tag))
			require.Equal(t, tc.final, string(tb.final))
		})
	}
}

// TestTombStoreCollision: two keys with one hash never answer for each
// other; the index follows the newer, and the older's expiry leaves it.
func TestTombStoreCollision(t *testing.T) {
	st := newTombStore()
	a, b := tombKey(1), tombKey(2)
	_, ok := st.put(42, a, t0.Add(time.Second), "ta", false, []byte("A"))
	require.True(t, ok)
	_, ok = st.put(42, b, t0.Add(2*time.Second), "tb", false, []byte("B"))
	require.True(t, ok)

	_, ok = st.get(42, a)
	require.False(t, ok, "a's hash now leads to b's record")
	tb, ok := st.get(42, b)
	require.True(t, ok)
	require.Equal(t, "B", string(tb.final))

	require.True(t, st.pop(t0.Add(time.Second).UnixNano()))
	tb, ok = st.get(42, b)
	require.True(t, ok, "a's expiry must not drop b")
	require.Equal(t, "tb", string(tb.tag))
	require.True(t, st.pop(t0.Add(2*time.Second).UnixNano()))
	_, ok = st.get(42, b)
	require.False(t, ok)
	require.Empty(t, st.index)
}

// TestTombStoreExpiry: tombs leave in the order they came, each at its
// deadline, and a deadline earlier than the one before is moved up to it.
func TestTombStoreExpiry(t *testing.T) {
	st := newTombStore()
	deadlines := []time.Duration{10, 20, 15, 30} // ms; the third is moved to 20
	want := []time.Duration{10, 20, 20, 30}
	for i, d := range deadlines {
		got, ok := st.add(tombKey(i), t0.Add(ms(int(d))), "", false, []byte("x"))
		require.True(t, ok)
		require.True(t, t0.Add(ms(int(want[i]))).Equal(got), "tomb %d: %v", i, got)
	}
	next, ok := st.peek()
	require.True(t, ok)
	require.True(t, t0.Add(ms(10)).Equal(next))

	steps := []struct {
		at   time.Duration
		left int
	}{
		{9, 4}, {10, 3}, {19, 3}, {20, 1}, {29, 1}, {30, 0},
	}
	for _, s := range steps {
		for st.pop(t0.Add(ms(int(s.at))).UnixNano()) {
		}
		require.Equal(t, s.left, st.len(), "at %v ms", s.at)
		for i := range deadlines {
			_, found := st.find(tombKey(i))
			require.Equal(t, i >= len(deadlines)-s.left, found, "tomb %d at %v ms", i, s.at)
		}
	}
	_, ok = st.peek()
	require.False(t, ok)
}

// TestTombStoreChunks: records fill chunk after chunk, a record larger
// than a chunk gets its own, emptied chunks are reused, and a store that
// cycles through many tombs holds only the chunks its live ones need.
func TestTombStoreChunks(t *testing.T) {
	st := newTombStore()
	final := []byte(strings.Repeat("f", 300))
	big := []byte(strings.Repeat("g", 2*tombChunk))
	at := t0
	for round := range 20 {
		for i := range 500 {
			f := final
			if i == 250 {
				f = big
			}
			_, ok := st.add(tombKey(round*500+i), at, "t", false, f)
			require.True(t, ok)
			at = at.Add(time.Millisecond)
		}
		tb, ok := st.find(tombKey(round*500 + 250))
		require.True(t, ok)
		require.Equal(t, big, tb.final)
		// Expire all but the last 100.
		for st.pop(at.Add(-101 * time.Millisecond).UnixNano()) {
		}
		require.Equal(t, 100, st.len())
		require.LessOrEqual(t, len(st.chunks), 4, "round %d", round)
		for i := 400; i < 500; i++ {
			tb, ok := st.find(tombKey(round*500 + i))
			require.True(t, ok)
			require.Len(t, tb.final, len(final))
		}
	}
	for st.pop(at.UnixNano()) {
	}
	require.Zero(t, st.len())
	require.Empty(t, st.index)
	require.Len(t, st.chunks, 1)
	require.Zero(t, len(st.chunks[0]))
}

// TestTombStoreSequenceWraps: chunk sequence numbers wrap after 2³²
// chunks (months at full load) without losing or confusing a tomb.
func TestTombStoreSequenceWraps(t *testing.T) {
	st := newTombStore()
	st.first = 1<<32 - 3
	final := []byte(strings.Repeat("f", tombChunk/4))
	at := t0
	for i := range 40 { // about ten chunks: the sequence crosses zero
		_, ok := st.add(tombKey(i), at, "", false, final)
		require.True(t, ok)
		at = at.Add(time.Millisecond)
	}
	for i := range 40 {
		tb, ok := st.find(tombKey(i))
		require.True(t, ok, "tomb %d", i)
		require.Len(t, tb.final, len(final))
	}
	for i := range 40 {
		require.True(t, st.pop(at.UnixNano()))
		_, ok := st.find(tombKey(i))
		require.False(t, ok, "tomb %d expired", i)
		if i+1 < 40 {
			_, ok = st.find(tombKey(i + 1))
			require.True(t, ok, "tomb %d still there", i+1)
		}
	}
	require.Less(t, st.first, uint32(16), "the sequence wrapped")
	require.Empty(t, st.index)
}

// TestTombStoreTooLong: a field longer than its record field is refused,
// so the transaction keeps its full state instead.
func TestTombStoreTooLong(t *testing.T) {
	st := newTombStore()
	k := tombKey(1)
	k.branch = strings.Repeat("z", 0x10000)
	_, ok := st.add(k, t0, "", false, nil)
	require.False(t, ok)
	_, ok = st.add(tombKey(1), t0, strings.Repeat("t", 0x10000), false, nil)
	require.False(t, ok)
	require.Zero(t, st.len())
}

// TestTombStoreReset drops everything.
func TestTombStoreReset(t *testing.T) {
	st := newTombStore()
	for i := range 10 {
		_, ok := st.add(tombKey(i), t0, "", true, nil)
		require.True(t, ok)
	}
	st.reset()
	require.Zero(t, st.len())
	_, ok := st.find(tombKey(1))
	require.False(t, ok)
	_, ok = st.add(tombKey(1), t0, "", true, nil)
	require.True(t, ok)
	_, ok = st.find(tombKey(1))
	require.True(t, ok)
}

// TestTombStoreNoAllocs: in the steady state (as many tombs come as go)
// adding, finding and expiring allocate nothing.
func TestTombStoreNoAllocs(t *testing.T) {
	st := newTombStore()
	final := []byte(strings.Repeat("f", 300))
	keys := make([]serverKey, 4096)
	for i := range keys {
		keys[i] = tombKey(i)
	}
	at := t0
	i := 0
	step := func() {
		k := keys[i%len(keys)]
		i++
		_, _ = st.add(k, at, "tag", false, final)
		_, _ = st.find(k)
		at = at.Add(time.Millisecond)
		st.pop(at.Add(-time.Second).UnixNano())
	}
	for range 20000 {
		step()
	}
	require.Zero(t, testing.AllocsPerRun(10000, step))
}

// TestTombStoreIndexShrinks: after a burst the index gives its memory
// back, and the tombs still live are found through the rebuilt index.
func TestTombStoreIndexShrinks(t *testing.T) {
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	st := newTombStore()
	before := heap()
	const burst = 200_000
	for i := range burst {
		_, ok := st.add(tombKey(i), t0.Add(ms(i)), "", false, nil)
		require.True(t, ok)
	}
	grown := heap()
	require.Greater(t, grown-before, int64(4<<20), "the burst's index and chunks")

	// Expire all but the newest 1,000: the index is rebuilt on the way.
	for st.pop(t0.Add(ms(burst - 1001)).UnixNano()) {
	}
	require.Equal(t, 1000, st.len())
	for _, i := range []int{0, burst / 2, burst - 1001, burst - 1000, burst - 1} {
		_, found := st.find(tombKey(i))
		require.Equal(t, i >= burst-1000, found, "tomb %d", i)
	}
	require.Less(t, heap()-before, int64(1<<20), "memory held for 1,000 tombs")

	for st.pop(t0.Add(ms(burst)).UnixNano()) {
	}
	require.Zero(t, st.len())
	runtime.KeepAlive(&st)
}
