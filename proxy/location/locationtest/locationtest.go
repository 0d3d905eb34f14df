// Package locationtest is the conformance suite every proxy.Location
// passes: the in-memory one, SQLite and PostgreSQL run the same cases.
//
//	func TestConformance(t *testing.T) {
//		locationtest.Run(t, locationtest.Store{
//			New: func(t *testing.T) locationtest.Handle { … },
//		})
//	}
package locationtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Handle is one store under test, and how to reach its data again.
type Handle struct {
	// Location is the store.
	Location proxy.Location
	// Again, when set, returns another store over the same data: the
	// same file reopened (bindings survive a restart), or a second
	// connection pool to the same database (instances share a table).
	// The suite's sharing cases run only for stores that have it.
	Again func(t *testing.T) proxy.Location
}

// Store says how to make fresh, empty stores of one kind.
type Store struct {
	// New returns an empty store whose cleanup is registered on t.
	New func(t *testing.T) Handle
	// Writers is how many goroutines the atomicity case runs at once;
	// zero means 8.
	Writers int
}

// Deadline bounds each case.
const Deadline = 30 * time.Second

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

// Binding returns a binding of aor with every field set, distinct by n.
func Binding(aor string, n int, expires time.Time) proxy.Binding {
	return proxy.Binding{
		AOR:      aor,
		Contact:  mustURI(fmt.Sprintf("sip:dev%d@192.0.2.%d:5060;transport=tcp;ob", n, n%250+1)),
		Q:        0.5 + float64(n%5)/10,
		Expires:  expires,
		CallID:   fmt.Sprintf("call-%d@example.test", n),
		CSeq:     uint32(100 + n),
		Path:     []string{fmt.Sprintf("<sip:edge%d.example.test;lr>", n), "<sip:core.example.test;lr>"},
		Instance: fmt.Sprintf("<urn:uuid:00000000-0000-0000-0000-%012d>", n),
		RegID:    n%3 + 1,
		Source: transport.Flow{
			Network: transport.TCP,
			Local:   netip.MustParseAddrPort("127.0.0.1:5060"),
			Remote:  netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(40000+n)),
			Conn:    uint64(n + 1),
		},
		UserAgent: "phone/" + fmt.Sprint(n),
	}
}

func mustURI(s string) sip.URI {
	u, err := sip.ParseURI(s)
	if err != nil {
		panic(err) // the suite's own literals
	}
	return u
}

// Equal fails t unless got holds want's bindings in order, field by field
// (times compared as instants, URIs as text).
func Equal(t *testing.T, want, got []proxy.Binding) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.AOR, g.AOR, "binding %d AOR", i)
		assert.Equal(t, w.Contact.String(), g.Contact.String(), "binding %d Contact", i)
		assert.True(t, w.Expires.Equal(g.Expires), "binding %d Expires: want %v, got %v", i, w.Expires, g.Expires)
		w.Contact, g.Contact = sip.URI{}, sip.URI{}
		w.Expires, g.Expires = time.Time{}, time.Time{}
		if len(w.Path) == 0 && len(g.Path) == 0 {
			w.Path, g.Path = nil, nil
		}
		assert.Equal(t, w, g, "binding %d", i)
	}
}

var errRefused = errors.New("refused by the test")

// Run runs the suite against fresh stores of s.
func Run(t *testing.T, s Store) {
	writers := s.Writers
	if writers == 0 {
		writers = 8
	}
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), Deadline)
		t.Cleanup(cancel)
		return c
	}
	const aor, other = "sip:alice@example.test", "sip:bob@example.test"
	later := t0.Add(time.Hour)

	t.Run("empty", func(t *testing.T) {
		h := s.New(t)
		bs, err := h.Location.Lookup(ctx(t), aor, t0)
		require.NoError(t, err)
		assert.Empty(t, bs)
		n, err := h.Location.Expire(ctx(t), t0)
		require.NoError(t, err)
		assert.Zero(t, n)
	})

	t.Run("round trip of every field, in order", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		want := []proxy.Binding{Binding(aor, 3, later), Binding(aor, 1, later.Add(time.Second)), Binding(aor, 2, later)}
		want[2].Path = nil
		want[2].Source = transport.Flow{}
		want[2].Instance, want[2].RegID = "", 0
		got, err := h.Location.Update(c, aor, t0, func(cur []proxy.Binding) ([]proxy.Binding, error) {
			assert.Empty(t, cur)
			return want, nil
		})
		require.NoError(t, err)
		Equal(t, want, got)
		got, err = h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, want, got)
		got, err = h.Location.Lookup(c, other, t0)
		require.NoError(t, err)
		assert.Empty(t, got, "another AOR")
	})

	t.Run("update sees the current bindings and replaces them", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		first := []proxy.Binding{Binding(aor, 1, later), Binding(aor, 2, later)}
		_, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) { return first, nil })
		require.NoError(t, err)
		second := []proxy.Binding{Binding(aor, 2, later.Add(time.Minute)), Binding(aor, 5, later)}
		got, err := h.Location.Update(c, aor, t0, func(cur []proxy.Binding) ([]proxy.Binding, error) {
			Equal(t, first, cur)
			return second, nil
		})
		require.NoError(t, err)
		Equal(t, second, got)
		got, err = h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, second, got)
	})

	t.Run("a failing update changes nothing", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		first := []proxy.Binding{Binding(aor, 1, later)}
		_, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) { return first, nil })
		require.NoError(t, err)
		_, err = h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) {
			return []proxy.Binding{Binding(aor, 9, later)}, errRefused
		})
		require.ErrorIs(t, err, errRefused)
		got, err := h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, first, got)
	})

	t.Run("an update to nothing removes the AOR", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		_, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) {
			return []proxy.Binding{Binding(aor, 1, later)}, nil
		})
		require.NoError(t, err)
		got, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) { return nil, nil })
		require.NoError(t, err)
		assert.Empty(t, got)
		got, err = h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("expired bindings are neither seen nor kept", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		soon := t0.Add(time.Minute)
		_, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) {
			return []proxy.Binding{Binding(aor, 1, soon), Binding(aor, 2, later), Binding(aor, 3, t0)}, nil
		})
		require.NoError(t, err)
		got, err := h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, []proxy.Binding{Binding(aor, 1, soon), Binding(aor, 2, later)}, got)
		got, err = h.Location.Lookup(c, aor, soon)
		require.NoError(t, err)
		Equal(t, []proxy.Binding{Binding(aor, 2, later)}, got) // expired at its instant
		got, err = h.Location.Update(c, aor, soon, func(cur []proxy.Binding) ([]proxy.Binding, error) {
			Equal(t, []proxy.Binding{Binding(aor, 2, later)}, cur)
			return append(cur, Binding(aor, 4, t0)), nil
		})
		require.NoError(t, err)
		Equal(t, []proxy.Binding{Binding(aor, 2, later)}, got)
	})

	t.Run("expire removes and counts what has expired", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		soon := t0.Add(time.Minute)
		for _, a := range []string{aor, other} {
			_, err := h.Location.Update(c, a, t0, func([]proxy.Binding) ([]proxy.Binding, error) {
				return []proxy.Binding{Binding(a, 1, soon), Binding(a, 2, later)}, nil
			})
			require.NoError(t, err)
		}
		_, err := h.Location.Update(c, "tel:+15551234", t0, func([]proxy.Binding) ([]proxy.Binding, error) {
			return []proxy.Binding{Binding("tel:+15551234", 1, soon)}, nil
		})
		require.NoError(t, err)
		n, err := h.Location.Expire(c, soon)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		n, err = h.Location.Expire(c, soon)
		require.NoError(t, err)
		assert.Zero(t, n, "already removed")
		// Removed, not only hidden: a lookup at an earlier time finds
		// nothing of them.
		got, err := h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, []proxy.Binding{Binding(aor, 2, later)}, got)
		got, err = h.Location.Lookup(c, "tel:+15551234", t0)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("updates of one AOR are atomic", func(t *testing.T) {
		h := s.New(t)
		c := ctx(t)
		locs := []proxy.Location{h.Location}
		if h.Again != nil {
			locs = append(locs, h.Again(t))
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Go(func() {
				loc := locs[i%len(locs)]
				_, err := loc.Update(c, aor, t0, func(cur []proxy.Binding) ([]proxy.Binding, error) {
					return append(cur, Binding(aor, i, later)), nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		require.Len(t, got, writers, "an update was lost: two read the same bindings")
		seen := map[string]bool{}
		for _, b := range got {
			seen[b.CallID] = true
		}
		assert.Len(t, seen, writers)
	})

	t.Run("another handle sees the same bindings", func(t *testing.T) {
		h := s.New(t)
		if h.Again == nil {
			return // one process's memory: nothing else to reach it through
		}
		c := ctx(t)
		want := []proxy.Binding{Binding(aor, 1, later), Binding(aor, 2, later)}
		_, err := h.Location.Update(c, aor, t0, func([]proxy.Binding) ([]proxy.Binding, error) { return want, nil })
		require.NoError(t, err)
		again := h.Again(t)
		got, err := again.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, want, got)
		_, err = again.Update(c, aor, t0, func(cur []proxy.Binding) ([]proxy.Binding, error) { return cur[1:], nil })
		require.NoError(t, err)
		got, err = h.Location.Lookup(c, aor, t0)
		require.NoError(t, err)
		Equal(t, want[1:], got)
	})
}
