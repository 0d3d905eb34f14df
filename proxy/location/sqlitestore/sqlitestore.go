// Package sqlitestore is a proxy.Location in an SQLite file, through the
// pure-Go driver modernc.org/sqlite (no cgo): the bindings of a proxy that
// restarts survive it.
//
//	loc, err := sqlitestore.Open(ctx, "/var/lib/proxy/location.db")
//	…
//	defer loc.Close()
//	srv, err := proxy.New(tp, proxy.Config{Location: loc, …})
//
// Each registrar write is one transaction that begins IMMEDIATE (the write
// lock first), so two Updates of one AOR cannot interleave, even from two
// processes on one file; a writer waits up to BusyTimeout for another.
// The file is in WAL mode, so lookups do not wait for writes.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/internal/sqlstore"
)

// BusyTimeout is how long a write waits for another connection's or
// process's write lock before it fails.
const BusyTimeout = 5 * time.Second

// ErrStore wraps every failure of the database (errors.Is).
var ErrStore = sqlstore.ErrStore

// Store is a proxy.Location in an SQLite file. It is safe for concurrent
// use. Close it when the Server using it is closed.
type Store struct {
	*sqlstore.Store
	db   *sql.DB
	once sync.Once
	err  error
}

var _ proxy.Location = (*Store)(nil)

// Open opens (creating it when missing) the SQLite database at path and
// the location table in it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite: no file name", ErrStore)
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout/time.Millisecond))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite: %s: %w", ErrStore, path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: sqlite: %s: %w", ErrStore, path, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "sqlite"})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{Store: s, db: db}, nil
}

// Close closes the database. It is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		if err := s.db.Close(); err != nil {
			s.err = errors.Join(ErrStore, err)
		}
	})
	return s.err
}
