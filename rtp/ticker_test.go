package rtp

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

func TestNewTickerConfig(t *testing.T) {
	tests := []struct {
		name   string
		period time.Duration
		fn     func(time.Time)
		ok     bool
	}{
		{name: "20 ms", period: audio.FrameDuration, fn: func(time.Time) {}, ok: true},
		{name: "too short", period: TickerMinPeriod - 1, fn: func(time.Time) {}},
		{name: "too long", period: TickerMaxPeriod + 1, fn: func(time.Time) {}},
		{name: "nil function", period: audio.FrameDuration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, err := NewEngine(EngineConfig{Workers: 1})
				require.NoError(t, err)
				tk, err := e.NewTicker(tt.period, tt.fn)
				if !tt.ok {
					require.ErrorIs(t, err, ErrEngineConfig)
					return
				}
				require.NoError(t, err)
				tk.Stop()
				tk.Stop() // idempotent
				require.Zero(t, e.Sessions())
			})
		})
	}
}

// A ticker beside sessions on one engine, in virtual time: it runs once per
// period on the slot grid for a minute, none skipped, in its own slot of
// the period; after Stop it never runs again and the worker stops with the
// last job.
func TestTickerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := NewEngine(EngineConfig{Workers: 1})
		require.NoError(t, err)
		peer := netip.MustParseAddrPort("192.0.2.9:4000")
		var sessions []*Session
		for range 3 {
			s := testSession(t, peer)
			e.attach(s, time.Now())
			sessions = append(sessions, s)
		}
		var mu sync.Mutex
		var ticks []time.Time
		tk, err := e.NewTicker(audio.FrameDuration, func(d time.Time) {
			mu.Lock()
			ticks = append(ticks, d)
			mu.Unlock()
		})
		require.NoError(t, err)
		require.Equal(t, 4, e.Sessions())

		time.Sleep(time.Minute)
		synctest.Wait()
		tk.Stop()
		mu.Lock()
		n := len(ticks)
		require.InDelta(t, int(time.Minute/audio.FrameDuration), n, 1)
		for i := 1; i < n; i++ {
			require.Equal(t, audio.FrameDuration, ticks[i].Sub(ticks[i-1]), "tick %d on the period", i)
		}
		require.Zero(t, ticks[0].Sub(e.epoch)%DefaultEngineSlot, "on the slot grid")
		for _, s := range sessions {
			require.NotEqual(t, s.phase, tk.phase, "a slot of its own")
		}
		mu.Unlock()
		require.Zero(t, tk.Skipped())

		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		require.Len(t, ticks, n, "stopped")
		mu.Unlock()
		for _, s := range sessions {
			s.worker.detach(s)
		}
		require.Zero(t, e.Sessions())
	})
}

// PollFrame and PushFrame never wait: PollFrame reports an empty queue and
// then the frames played out, PushFrame drops the oldest frame of a full
// queue, refuses an oversized frame, and both refuse after Close.
func TestPollPushFrame(t *testing.T) {
	s, err := newSession(SessionConfig{SendQueueFrames: 2})
	require.NoError(t, err)
	buf, n, err := s.PollFrame(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, buf)
	s.mu.Lock()
	s.rx.q.push([]int16{1, 2}, 0, true)
	s.rx.q.push([]int16{3}, 0, true)
	s.mu.Unlock()
	buf, n, err = s.PollFrame(buf[:0])
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []int16{1, 2}, buf)

	for i, want := range []bool{false, false, true} {
		dropped, err := s.PushFrame([]int16{int16(i)})
		require.NoError(t, err)
		require.Equal(t, want, dropped, "push %d", i)
	}
	s.mu.Lock()
	got, _ := s.tx.q.pop(nil)
	s.mu.Unlock()
	require.Equal(t, int16(1), got[0], "the oldest went")
	_, err = s.PushFrame(make([]int16, audio.FrameSamples+1))
	require.ErrorIs(t, err, ErrFrameSize)

	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	_, _, err = s.PollFrame(nil)
	require.ErrorIs(t, err, ErrSessionClosed)
	_, err = s.PushFrame(nil)
	require.ErrorIs(t, err, ErrSessionClosed)
}
