package memnet_test

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

const (
	impairCount = 1000
	impairGap   = time.Millisecond // between two sends
)

type arrival struct {
	idx   int
	delay time.Duration // arrival time minus send time
}

// runImpaired sends impairCount numbered datagrams one impairGap apart over a
// network configured by cfg, and returns what arrived, in arrival order, with
// the network's counters.
func runImpaired(t *testing.T, cfg memnet.Config) (got []arrival, st memnet.Stats) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(cfg)
		defer n.Close()
		a, b := listenUDP(t, n, "192.0.2.1:5060"), listenUDP(t, n, "192.0.2.2:5060")
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 8)
			for {
				nr, _, err := b.ReadFrom(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				require.NoError(t, err)
				require.Equal(t, 8, nr)
				idx := int(binary.BigEndian.Uint64(buf))
				got = append(got, arrival{idx: idx, delay: time.Since(start) - time.Duration(idx)*impairGap})
			}
		}()
		for i := range impairCount {
			var p [8]byte
			binary.BigEndian.PutUint64(p[:], uint64(i))
			_, err := a.WriteToUDPAddrPort(p[:], addrPort(b))
			if cfg.Refuse > 0 && errors.Is(err, syscall.EPERM) {
				err = nil // the Refuse condition: the sender is told
			}
			require.NoError(t, err)
			time.Sleep(impairGap)
		}
		time.Sleep(time.Second) // everything in flight lands
		synctest.Wait()
		st = n.Stats()
		b.Close()
		<-done
	})
	return got, st
}

func indexes(as []arrival) []int {
	out := make([]int, len(as))
	for i, a := range as {
		out[i] = a.idx
	}
	return out
}

func inversions(idx []int) int {
	n := 0
	for i := 1; i < len(idx); i++ {
		if idx[i] < idx[i-1] {
			n++
		}
	}
	return n
}

func TestImpairments(t *testing.T) {
	const p = 0.2
	// Binomial(1000, 0.2): mean 200, sd ≈ 12.6; the bounds are ±6 sd. The
	// counts are deterministic for the seed, so this cannot flake; the
	// bounds check that the probability is applied at all and roughly right.
	lo, hi := uint64(125), uint64(275)
	tests := []struct {
		name  string
		cfg   memnet.Config
		check func(t *testing.T, got []arrival, st memnet.Stats)
	}{
		{
			name: "perfect",
			cfg:  memnet.Config{},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.Equal(t, memnet.Stats{Sent: impairCount, Delivered: impairCount}, st)
				require.True(t, slices.IsSorted(indexes(got)))
				for _, a := range got {
					require.Zero(t, a.delay)
				}
			},
		},
		{
			name: "loss",
			cfg:  memnet.Config{Loss: p},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.GreaterOrEqual(t, st.Lost, lo)
				require.LessOrEqual(t, st.Lost, hi)
				require.Equal(t, st.Sent-st.Lost, st.Delivered)
				require.Len(t, got, int(st.Delivered))
				require.True(t, slices.IsSorted(indexes(got)))
			},
		},
		{
			name: "refuse",
			cfg:  memnet.Config{Refuse: p},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.GreaterOrEqual(t, st.RefusedWrites, lo)
				require.LessOrEqual(t, st.RefusedWrites, hi)
				require.Equal(t, uint64(impairCount), st.Sent+st.RefusedWrites, "a refused write is not sent")
				require.Equal(t, st.Sent, st.Delivered)
				require.Zero(t, st.Dropped())
				require.Len(t, got, int(st.Delivered))
			},
		},
		{
			name: "total loss",
			cfg:  memnet.Config{Loss: 1},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.Empty(t, got)
				require.Equal(t, uint64(impairCount), st.Lost)
			},
		},
		{
			name: "duplicate",
			cfg:  memnet.Config{Duplicate: p},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.GreaterOrEqual(t, st.Duplicated, lo)
				require.LessOrEqual(t, st.Duplicated, hi)
				require.Equal(t, st.Sent+st.Duplicated, st.Delivered)
				require.Len(t, got, int(st.Delivered))
				idx := indexes(got)
				require.True(t, slices.IsSorted(idx), "duplicates follow their original")
				require.Len(t, slices.Compact(idx), impairCount)
			},
		},
		{
			name: "reorder",
			cfg:  memnet.Config{Reorder: p},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.GreaterOrEqual(t, st.Reordered, lo)
				require.LessOrEqual(t, st.Reordered, hi)
				require.Equal(t, uint64(impairCount), st.Delivered)
				idx := indexes(got)
				// Each held datagram lands right behind its successor.
				require.Equal(t, int(st.Reordered), inversions(idx))
				slices.Sort(idx)
				require.Len(t, slices.Compact(idx), impairCount)
			},
		},
		{
			name: "latency and jitter",
			cfg:  memnet.Config{Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.Equal(t, uint64(impairCount), st.Delivered)
				seen := map[time.Duration]bool{}
				for _, a := range got {
					require.GreaterOrEqual(t, a.delay, 50*time.Millisecond)
					require.LessOrEqual(t, a.delay, 60*time.Millisecond)
					seen[a.delay] = true
				}
				require.Greater(t, len(seen), 100, "jitter varies the delay")
				require.Positive(t, inversions(indexes(got)), "jitter larger than the gap reorders")
			},
		},
		{
			name: "latency alone keeps order",
			cfg:  memnet.Config{Latency: 30 * time.Millisecond},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.Equal(t, uint64(impairCount), st.Delivered)
				require.True(t, slices.IsSorted(indexes(got)))
				for _, a := range got {
					require.Equal(t, 30*time.Millisecond, a.delay)
				}
			},
		},
		{
			name: "everything at once",
			cfg:  memnet.Config{Loss: 0.1, Duplicate: 0.1, Reorder: 0.1, Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond},
			check: func(t *testing.T, got []arrival, st memnet.Stats) {
				require.Equal(t, st.Sent-st.Lost+st.Duplicated, st.Delivered)
				require.Len(t, got, int(st.Delivered))
				require.Positive(t, st.Lost)
				require.Positive(t, st.Duplicated)
				require.Positive(t, st.Reordered)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Seed = 7
			got, st := runImpaired(t, tt.cfg)
			require.Equal(t, uint64(impairCount), st.Sent+st.RefusedWrites)
			tt.check(t, got, st)

			// Same seed, same outcome.
			again, st2 := runImpaired(t, tt.cfg)
			require.Equal(t, st, st2)
			require.Equal(t, got, again)
		})
	}
}

func TestSeedChangesOutcome(t *testing.T) {
	cfg := memnet.Config{Loss: 0.3, Reorder: 0.2, Jitter: 3 * time.Millisecond}
	cfg.Seed = 1
	a, _ := runImpaired(t, cfg)
	cfg.Seed = 2
	b, _ := runImpaired(t, cfg)
	require.NotEqual(t, a, b)
}

func TestReorderHold(t *testing.T) {
	// A reordered datagram with no successor is delivered after ReorderHold.
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{Reorder: 1, ReorderHold: 300 * time.Millisecond, Latency: 10 * time.Millisecond})
		defer n.Close()
		a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:0")
		start := time.Now()
		send(t, a, "late", addrPort(b))
		msg, _, ok := recv(t, b)
		require.True(t, ok)
		require.Equal(t, "late", msg)
		require.Equal(t, 310*time.Millisecond, time.Since(start))
		require.Equal(t, uint64(1), n.Stats().Reordered)
	})
}
