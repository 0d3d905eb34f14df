package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/locationtest"
	"github.com/dialtone/dialtone/proxy/location/sqlitestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sqlitestore.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	locationtest.Run(t, locationtest.Store{
		New: func(t *testing.T) locationtest.Handle {
			path := filepath.Join(t.TempDir(), "location.db")
			return locationtest.Handle{
				Location: open(t, path),
				Again:    func(t *testing.T) proxy.Location { return open(t, path) },
			}
		},
	})
}

func TestBindingsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "location.db")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	s, err := sqlitestore.Open(ctx, path)
	require.NoError(t, err)
	want := []proxy.Binding{locationtest.Binding("sip:alice@example.test", 1, now.Add(time.Hour))}
	_, err = s.Update(ctx, "sip:alice@example.test", now, func([]proxy.Binding) ([]proxy.Binding, error) { return want, nil })
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	got, err := open(t, path).Lookup(ctx, "sip:alice@example.test", now)
	require.NoError(t, err)
	locationtest.Equal(t, want, got)
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := sqlitestore.Open(ctx, "")
	require.ErrorIs(t, err, sqlitestore.ErrStore)
	dir := t.TempDir()
	_, err = sqlitestore.Open(ctx, filepath.Join(dir, "missing", "location.db"))
	require.ErrorIs(t, err, sqlitestore.ErrStore, "a directory that does not exist")
	bad := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(bad, []byte("this is not an SQLite database, not at all, no header"), 0o600))
	_, err = sqlitestore.Open(ctx, bad)
	require.ErrorIs(t, err, sqlitestore.ErrStore, "a file that is not a database")
}
