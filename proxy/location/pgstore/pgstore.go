// Package pgstore is a proxy.Location in PostgreSQL, through
// github.com/jackc/pgx/v5: several proxy instances behind a SIP load
// balancer share one location table, so a call reaches a user whichever
// instance the user registered through.
//
//	loc, err := pgstore.Open(ctx, "postgres://proxy@db.example.com/sip")
//	…
//	defer loc.Close()
//	srv, err := proxy.New(tp, proxy.Config{Location: loc, …})
//
// Each registrar write is one transaction that first takes a transaction
// advisory lock on the AOR (pg_advisory_xact_lock), so the Updates of one
// AOR from every instance follow one another, including the first
// registration of an AOR that has no row yet to lock.
package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/internal/sqlstore"
)

// DefaultMaxConns bounds the connections one Store opens to the server.
const DefaultMaxConns = 16

// ErrStore wraps every failure of the database (errors.Is).
var ErrStore = sqlstore.ErrStore

// Options tune Open; the zero value is the defaults.
type Options struct {
	// MaxConns bounds the open connections; zero means DefaultMaxConns.
	MaxConns int
}

// Store is a proxy.Location in PostgreSQL. It is safe for concurrent
// use. Close it when the Server using it is closed.
type Store struct {
	*sqlstore.Store
	db   *sql.DB
	once sync.Once
	err  error
}

var _ proxy.Location = (*Store)(nil)

// lockAOR serializes the Updates of one AOR until the transaction ends.
const lockAOR = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"

// lockSchema serializes the instances creating the table; the key is
// arbitrary but fixed.
const lockSchema = "SELECT pg_advisory_xact_lock(4242424242)"

// Open connects to the PostgreSQL database of dsn (a URL or key=value
// string, as libpq takes) and creates the location table when missing.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: %w", ErrStore, err)
	}
	n := opts.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: postgres: %w", ErrStore, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "postgres", Dollar: true, LockAOR: lockAOR, LockSchema: lockSchema})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{Store: s, db: db}, nil
}

// Close closes the connections. It is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		if err := s.db.Close(); err != nil {
			s.err = errors.Join(ErrStore, err)
		}
	})
	return s.err
}
