package pgstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/locationtest"
	"github.com/dialtone/dialtone/proxy/location/pgstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// TestConformance runs the suite on one server, each case in a database
// of its own.
func TestConformance(t *testing.T) {
	pg := testenv.StartPostgres(t)
	admin, err := sql.Open("pgx", pg.DSN("postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var n atomic.Int32
	locationtest.Run(t, locationtest.Store{
		New: func(t *testing.T) locationtest.Handle {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			db := fmt.Sprintf("case%d", n.Add(1))
			_, err := admin.ExecContext(ctx, "CREATE DATABASE "+db)
			require.NoError(t, err)
			dsn := pg.DSN(db)
			return locationtest.Handle{
				Location: open(t, dsn),
				Again:    func(t *testing.T) proxy.Location { return open(t, dsn) },
			}
		},
		Writers: 16,
	})
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgstore.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", pgstore.Options{})
	require.ErrorIs(t, err, pgstore.ErrStore, "no server there")
	_, err = pgstore.Open(ctx, "not a dsn ::: %%%", pgstore.Options{})
	require.ErrorIs(t, err, pgstore.ErrStore, "a DSN that does not parse")
}
