package rtp

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

func TestNewEngineConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  EngineConfig
		ok   bool
	}{
		{name: "defaults", ok: true},
		{name: "explicit", cfg: EngineConfig{Workers: 3, Slot: 2 * time.Millisecond}, ok: true},
		{name: "negative workers", cfg: EngineConfig{Workers: -1}},
		{name: "too many workers", cfg: EngineConfig{Workers: EngineMaxWorkers + 1}},
		{name: "slot too small", cfg: EngineConfig{Slot: EngineMinSlot - 1}},
		{name: "slot too large", cfg: EngineConfig{Slot: EngineMaxSlot + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEngine(tt.cfg)
			if !tt.ok {
				require.ErrorIs(t, err, ErrEngineConfig)
				return
			}
			require.NoError(t, err)
			require.Zero(t, e.Sessions())
		})
	}
}

// An engine in virtual time: sessions joining at odd moments tick on the
// slot grid, spread evenly over the slots of the frame period, every frame
// exactly on time and none skipped, without drift over a minute; a ptime
// change keeps the grid; the workers stop when the last session leaves.
func TestEngineSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers, perWorker = 2, 60
		e, err := NewEngine(EngineConfig{Workers: workers})
		require.NoError(t, err)
		peer := netip.MustParseAddrPort("192.0.2.9:4000")
		var sessions []*Session
		defer func() { // also when the test fails: leave no worker behind
			for _, s := range sessions {
				s.worker.detach(s)
			}
		}()
		joined := map[*Session]time.Time{}
		for i := range workers * perWorker {
			s := testSession(t, peer)
			e.attach(s, time.Now())
			joined[s] = time.Now()
			sessions = append(sessions, s)
			time.Sleep(time.Duration(i%7) * 370 * time.Microsecond)
		}
		require.Equal(t, workers*perWorker, e.Sessions())
		// One session switches to 30 ms frames (a re-INVITE).
		p30 := sessions[0]
		require.NoError(t, p30.SetRemote(sdp.MediaParams{RemoteRTP: peer, Codec: audio.PCMU(), Direction: sdp.SendRecv, RemotePtime: 30}))

		const run = time.Minute
		time.Sleep(run)
		synctest.Wait()
		end := time.Now()

		phases := int(audio.FrameDuration / DefaultEngineSlot)
		perPhase := map[*worker][]int{}
		for _, s := range sessions {
			s.mu.Lock()
			st := s.tx
			s.mu.Unlock()
			require.Zero(t, s.pace.start.Sub(e.epoch)%DefaultEngineSlot, "on the slot grid")
			require.Zero(t, s.next.Sub(e.epoch)%DefaultEngineSlot, "still on the grid")
			require.True(t, s.next.After(end), "nothing overdue")
			if s != p30 {
				require.Less(t, s.pace.start.Sub(joined[s]), audio.FrameDuration+DefaultEngineSlot, "first frame within a period")
				// Every deadline start + n·20ms up to a slot after the
				// end was handled (frames may go a slot early).
				want := int64(end.Add(DefaultEngineSlot).Sub(s.pace.start)/audio.FrameDuration) + 1
				require.Equal(t, want, s.pace.n, "no drift")
				require.Equal(t, uint64(want), st.packets)
			}
			require.Zero(t, st.skipped)
			require.Zero(t, st.late.Max(), "every frame on time")
			if perPhase[s.worker] == nil {
				perPhase[s.worker] = make([]int, phases)
			}
			perPhase[s.worker][int(s.pace.start.Sub(e.epoch)/DefaultEngineSlot)%phases]++
		}
		require.Len(t, perPhase, workers, "every worker has sessions")
		for _, load := range perPhase {
			for _, n := range load {
				require.LessOrEqual(t, n, (perWorker+phases-1)/phases, "phases spread: %v", load)
			}
		}
		require.Equal(t, 30*time.Millisecond, p30.pace.period)

		for _, s := range sessions {
			s.worker.detach(s)
			require.False(t, s.item.Scheduled())
		}
		require.Zero(t, e.Sessions())
		sessions = nil
		// synctest.Test fails if a worker goroutine is left behind.
	})
}

// A worker woken late handles at most SendMaxCatchUpFrames overdue frames
// and skips the older ones, through the session's wake.
func TestSessionWakeCatchUp(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	s := testSession(t, peer)
	t0 := time.Unix(1000, 0)
	p := &pacer{start: t0, period: audio.FrameDuration}
	for i := range 10 {
		s.wake(t0.Add(time.Duration(i)*audio.FrameDuration), p, nil)
	}
	require.Equal(t, int64(10), p.n)
	// The next wake-up comes 7.5 periods late.
	s.wake(t0.Add(10*audio.FrameDuration+15*audio.FrameDuration/2), p, nil)
	require.Equal(t, int64(18), p.n, "every due tick handled")
	require.Equal(t, uint64(8-SendMaxCatchUpFrames), s.tx.skipped)
	require.Equal(t, uint64(10+SendMaxCatchUpFrames), s.tx.packets)
	require.Equal(t, t0.Add(18*audio.FrameDuration), p.deadline(), "no drift")
}
