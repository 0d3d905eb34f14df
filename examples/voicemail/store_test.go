package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func deposit(t *testing.T, s *Store, box, caller string, at time.Time) string {
	t.Helper()
	id, path, err := s.Reserve(box, at)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("RIFF"), 0o644))
	require.NoError(t, s.Commit(box, Message{ID: id, Caller: caller, Time: at, Seconds: 1}))
	return id
}

func TestStoreLifecycle(t *testing.T) {
	dir := t.TempDir()
	var changes []string
	s, err := OpenStore(StoreConfig{Dir: dir, Mailboxes: []string{"alice", "bob"}, MaxMessages: 3, OnChange: func(b string) { changes = append(changes, b) }})
	require.NoError(t, err)
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

	a1 := deposit(t, s, "alice", "sip:carol@example.com", t0)
	a2 := deposit(t, s, "alice", "sip:dave@example.com", t0.Add(time.Minute))
	n, o := s.Counts("alice")
	require.Equal(t, [2]int{2, 0}, [2]int{n, o})
	require.NoError(t, s.Save("alice", a1))
	require.NoError(t, s.Save("alice", a1), "saving twice is no change")
	msgs := s.Messages("alice")
	require.Equal(t, []string{a2, a1}, []string{msgs[0].ID, msgs[1].ID}, "new first, then saved")
	require.Equal(t, []string{"alice", "alice", "alice"}, changes)

	// Reopened from disk: the same messages and states.
	s2, err := OpenStore(StoreConfig{Dir: dir, Mailboxes: []string{"alice", "bob"}})
	require.NoError(t, err)
	require.Equal(t, s.Messages("alice"), s2.Messages("alice"))
	n, o = s2.Counts("alice")
	require.Equal(t, [2]int{1, 1}, [2]int{n, o})

	require.NoError(t, s.Delete("alice", a2))
	require.ErrorIs(t, s.Delete("alice", a2), ErrNoMessage)
	require.NoFileExists(t, s.Path("alice", a2))
	n, o = s.Counts("alice")
	require.Equal(t, [2]int{0, 1}, [2]int{n, o})
	require.Empty(t, s.Messages("bob"))
}

func TestStoreRefusals(t *testing.T) {
	s, err := OpenStore(StoreConfig{Dir: t.TempDir(), Mailboxes: []string{"alice"}, MaxMessages: 1})
	require.NoError(t, err)
	t0 := time.Now()
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"unknown mailbox", func() error { _, _, err := s.Reserve("zed", t0); return err }, ErrNoMailbox},
		{"commit to unknown", func() error { return s.Commit("zed", Message{ID: "x"}) }, ErrNoMailbox},
		{"save unknown message", func() error { return s.Save("alice", "nope") }, ErrNoMessage},
		{"full", func() error {
			deposit(t, s, "alice", "sip:x@y", t0)
			_, _, err := s.Reserve("alice", t0)
			return err
		}, ErrMailboxFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.want == nil {
				require.Error(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
	require.False(t, s.Has("zed"))
	require.True(t, s.Has("alice"))
}
