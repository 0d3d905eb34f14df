package rtp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

// sentRTP is one RTP packet a session handed over to be sent.
type sentRTP struct {
	seq uint16
	ts  uint32
}

// A worker held up (descheduled, a busy core) at every fifth wake-up, for
// 1, 19, 20, 21 and 200 ms, in virtual time, through the io_uring batch
// and without it: every sequence number leaves exactly once and in order,
// timestamps only move forward on the frame grid, and every frame period
// is either sent once or skipped and counted: late frames go out once each
// when at most SendMaxCatchUpFrames are owed, the rest are skipped.
func TestEngineLateWorkerSendsEachSequenceOnce(t *testing.T) {
	holds := []time.Duration{
		time.Millisecond, 19 * time.Millisecond, 20 * time.Millisecond,
		21 * time.Millisecond, 200 * time.Millisecond,
	}
	for _, noRing := range []bool{false, true} {
		for _, hold := range holds {
			t.Run(fmt.Sprintf("NoRing=%v/hold=%v", noRing, hold), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					lateWorkerRun(t, noRing, hold)
				})
			})
		}
	}
}

func lateWorkerRun(t *testing.T, noRing bool, hold time.Duration) {
	e, err := NewEngine(EngineConfig{Workers: 1, NoRing: noRing})
	require.NoError(t, err)
	w := e.workers[0]
	wakes := 0
	w.stall = func() {
		wakes++
		if wakes%5 == 0 {
			time.Sleep(hold)
		}
	}
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	const calls = 4
	sessions := make([]*Session, 0, calls)
	sent := make([][]sentRTP, calls)
	detached := false
	detachAll := func() {
		if !detached {
			detached = true
			for _, s := range sessions {
				s.worker.detach(s)
			}
		}
	}
	defer detachAll() // also when the test fails: leave no worker behind
	for i := range calls {
		s := testSession(t, peer)
		s.tx.sink = func(b []byte) {
			if isRTCP(b) {
				return
			}
			require.GreaterOrEqual(t, len(b), 12)
			sent[i] = append(sent[i], sentRTP{seq: binary.BigEndian.Uint16(b[2:]), ts: binary.BigEndian.Uint32(b[4:])})
		}
		e.attach(s, time.Now())
		sessions = append(sessions, s)
		time.Sleep(time.Duration(i) * 7 * time.Millisecond) // other phases
	}
	time.Sleep(3 * time.Second)
	synctest.Wait()
	detachAll() // the worker has stopped: the sessions are ours to read
	require.Greater(t, wakes, 50, "the worker ran")

	var skippedAll uint64
	for i, s := range sessions {
		got := sent[i]
		require.NotEmpty(t, got, "session %d sent nothing", i)
		for k := 1; k < len(got); k++ {
			require.Equal(t, got[0].seq+uint16(k), got[k].seq, "session %d packet %d: each sequence number once, in order", i, k)
			d := got[k].ts - got[k-1].ts
			require.Positive(t, d, "session %d packet %d: timestamp moves forward", i, k)
			require.Zero(t, d%audio.FrameSamples, "session %d packet %d: timestamp on the frame grid", i, k)
		}
		require.Equal(t, uint64(len(got)), s.tx.packets, "session %d", i)
		// Every frame period due was handled once: sent or skipped.
		require.Equal(t, uint64(s.pace.n), s.tx.packets+s.tx.skipped, "session %d: periods = sent + skipped", i)
		skippedAll += s.tx.skipped
	}
	if hold+DefaultEngineSlot < SendMaxCatchUpFrames*audio.FrameDuration {
		require.Zero(t, skippedAll, "a worker late by less than the catch-up window sends every frame it owes")
	} else {
		require.Positive(t, skippedAll, "a worker late beyond the catch-up window skips, counted")
	}
}
