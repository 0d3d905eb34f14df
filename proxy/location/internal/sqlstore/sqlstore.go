// Package sqlstore is the proxy.Location both SQL stores share: one row
// per binding in one table, over database/sql, with what differs between
// SQLite and PostgreSQL (placeholders, how an AOR is locked) in a Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Dialect is what differs between the SQL databases the store runs on.
type Dialect struct {
	// Name is for errors ("sqlite", "postgres").
	Name string
	// Dollar: placeholders are $1, $2 (PostgreSQL); otherwise ?.
	Dollar bool
	// LockAOR, when set, is run first in an Update's transaction with the
	// AOR as its one argument, to serialize the Updates of one AOR across
	// connections and processes (PostgreSQL: an advisory transaction
	// lock, which also covers an AOR without rows, where SELECT … FOR
	// UPDATE would lock nothing). SQLite needs none: its transactions
	// begin IMMEDIATE, so one writer at a time.
	LockAOR string
	// LockSchema, when set, is run first in the transaction that creates
	// the table, so that instances starting together do not race to
	// create it (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
	// against a concurrent one).
	LockSchema string
}

// ErrStore wraps every failure of the database.
var ErrStore = errors.New("location store")

// Store is a proxy.Location in one SQL table.
type Store struct {
	db      *sql.DB
	d       Dialect
	qLookup string
	qDelete string
	qInsert string
	qExpire string
}

// Schema is the table the store keeps, created when missing. One row per
// binding; pos keeps the order Update was given; expires is Unix
// nanoseconds; path is a JSON array of Path values.
const Schema = `CREATE TABLE IF NOT EXISTS location (
	aor TEXT NOT NULL,
	pos INTEGER NOT NULL,
	contact TEXT NOT NULL,
	q DOUBLE PRECISION NOT NULL,
	expires BIGINT NOT NULL,
	call_id TEXT NOT NULL,
	cseq BIGINT NOT NULL,
	path TEXT NOT NULL,
	instance TEXT NOT NULL,
	reg_id INTEGER NOT NULL,
	flow_network TEXT NOT NULL,
	flow_local TEXT NOT NULL,
	flow_remote TEXT NOT NULL,
	flow_conn BIGINT NOT NULL,
	user_agent TEXT NOT NULL,
	PRIMARY KEY (aor, pos)
)`

// schemaIndex lets Expire find expired rows without a full scan.
const schemaIndex = `CREATE INDEX IF NOT EXISTS location_expires ON location (expires)`

const columns = "contact, q, expires, call_id, cseq, path, instance, reg_id, flow_network, flow_local, flow_remote, flow_conn, user_agent"

// New creates the table when missing and returns the store over db, which
// the caller keeps and closes.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	if err := create(ctx, db, d); err != nil {
		return nil, fmt.Errorf("%w: %s: creating the table: %w", ErrStore, d.Name, err)
	}
	s := &Store{db: db, d: d}
	s.qLookup = s.ph("SELECT " + columns + " FROM location WHERE aor = ? AND expires > ? ORDER BY pos")
	s.qDelete = s.ph("DELETE FROM location WHERE aor = ?")
	s.qInsert = s.ph("INSERT INTO location (aor, pos, " + columns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	s.qExpire = s.ph("DELETE FROM location WHERE expires <= ?")
	return s, nil
}

func create(ctx context.Context, db *sql.DB, d Dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	qs := []string{Schema, schemaIndex}
	if d.LockSchema != "" {
		qs = append([]string{d.LockSchema}, qs...)
	}
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ph turns ? placeholders into the dialect's.
func (s *Store) ph(q string) string {
	if !s.d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) fail(what string, err error) error {
	return fmt.Errorf("%w: %s: %s: %w", ErrStore, s.d.Name, what, err)
}

// querier is what Lookup and Update read through: the DB or a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) lookup(ctx context.Context, q querier, aor string, now time.Time) ([]proxy.Binding, error) {
	rows, err := q.QueryContext(ctx, s.qLookup, aor, now.UnixNano())
	if err != nil {
		return nil, s.fail("lookup", err)
	}
	defer rows.Close()
	var out []proxy.Binding
	for rows.Next() {
		var (
			b                             proxy.Binding
			contact, path, net, loc, remo string
			exp, cseq, conn               int64
		)
		if err := rows.Scan(&contact, &b.Q, &exp, &b.CallID, &cseq, &path, &b.Instance, &b.RegID,
			&net, &loc, &remo, &conn, &b.UserAgent); err != nil {
			return nil, s.fail("reading a binding", err)
		}
		b.AOR = aor
		b.Expires = time.Unix(0, exp)
		b.CSeq = uint32(cseq)
		if b.Contact, err = sip.ParseURI(contact); err != nil {
			return nil, s.fail("binding of "+aor+": contact", err)
		}
		if err := json.Unmarshal([]byte(path), &b.Path); err != nil {
			return nil, s.fail("binding of "+aor+": path", err)
		}
		b.Source = transport.Flow{Network: transport.Network(net), Conn: uint64(conn)}
		if b.Source.Local, err = parseAddrPort(loc); err != nil {
			return nil, s.fail("binding of "+aor+": flow", err)
		}
		if b.Source.Remote, err = parseAddrPort(remo); err != nil {
			return nil, s.fail("binding of "+aor+": flow", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("lookup", err)
	}
	return out, nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	return netip.ParseAddrPort(s)
}

func addrPort(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Lookup implements proxy.Location.
func (s *Store) Lookup(ctx context.Context, aor string, now time.Time) ([]proxy.Binding, error) {
	return s.lookup(ctx, s.db, aor, now)
}

// Update implements proxy.Location in one transaction: lock the AOR (the
// dialect's way), read its live bindings, delete its rows, insert what fn
// returns that is still live.
func (s *Store) Update(ctx context.Context, aor string, now time.Time, fn func([]proxy.Binding) ([]proxy.Binding, error)) ([]proxy.Binding, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail("begin", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit: ErrTxDone, ignored
	if s.d.LockAOR != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockAOR, aor); err != nil {
			return nil, s.fail("locking "+aor, err)
		}
	}
	cur, err := s.lookup(ctx, tx, aor, now)
	if err != nil {
		return nil, err
	}
	next, err := fn(cur)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.qDelete, aor); err != nil {
		return nil, s.fail("update of "+aor, err)
	}
	kept := make([]proxy.Binding, 0, len(next))
	for _, b := range next {
		if !b.Expires.After(now) {
			continue
		}
		b.AOR = aor
		path, err := json.Marshal(b.Path)
		if err != nil {
			return nil, s.fail("update of "+aor, err)
		}
		if _, err := tx.ExecContext(ctx, s.qInsert, aor, len(kept), b.Contact.String(), b.Q, b.Expires.UnixNano(),
			b.CallID, int64(b.CSeq), string(path), b.Instance, b.RegID, string(b.Source.Network),
			addrPort(b.Source.Local), addrPort(b.Source.Remote), int64(b.Source.Conn), b.UserAgent); err != nil {
			return nil, s.fail("update of "+aor, err)
		}
		kept = append(kept, b)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.fail("commit of "+aor, err)
	}
	return kept, nil
}

// Expire implements proxy.Location.
func (s *Store) Expire(ctx context.Context, now time.Time) (int, error) {
	r, err := s.db.ExecContext(ctx, s.qExpire, now.UnixNano())
	if err != nil {
		return 0, s.fail("expire", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, s.fail("expire", err)
	}
	return int(n), nil
}
