package proxy

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Binding is one contact of an address of record (RFC 3261 §10): where the
// AOR's requests go, until when, and what the registrar learned with it.
// It is a plain value with text and numeric fields only, so that a SQL
// location service stores it as one row.
type Binding struct {
	// AOR is the canonical address of record (AORKey).
	AOR string
	// Contact is the registered Contact URI.
	Contact sip.URI
	// Q is the contact's preference, 0 to 1 (q parameter; 1 without one).
	Q float64
	// Expires is when the binding ends.
	Expires time.Time
	// CallID and CSeq are those of the REGISTER that last wrote the
	// binding; older REGISTERs of the same Call-ID cannot change it
	// (RFC 3261 §10.3 step 7).
	CallID string
	CSeq   uint32
	// Path holds the Path header values of the REGISTER (RFC 3327), in
	// order: requests for the binding carry them as Route headers.
	Path []string
	// Instance and RegID are the +sip.instance and reg-id Contact
	// parameters (RFC 5626 §4.2); a new registration of the same pair
	// replaces the binding whatever its Contact URI.
	Instance string
	RegID    int
	// Source is the flow the REGISTER arrived on (RFC 5626 §5.2): requests
	// for the binding without a Path go there, which reaches phones behind
	// NATs and over connections they opened.
	Source transport.Flow
	// UserAgent is the REGISTER's User-Agent, for display.
	UserAgent string
}

// Location is the location service (RFC 3261 §10.3): the bindings of each
// AOR. Keys are canonical AORs (AORKey). Implementations must be safe for
// concurrent use; now is passed in so that expiry follows the caller's
// clock.
//
// Update is the registrar's one write: it reads an AOR's bindings and
// replaces them in one step, atomic with respect to other Updates of the
// same AOR. That maps onto one SQL transaction (SELECT … FOR UPDATE on
// PostgreSQL, BEGIN IMMEDIATE on SQLite), so several proxies can share a
// table, and onto a mutex in MemoryLocation.
type Location interface {
	// Lookup returns the bindings of aor that have not expired at now.
	Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error)
	// Update calls fn with the unexpired bindings of aor at now and
	// stores what fn returns as aor's bindings. If fn fails, nothing
	// changes and Update returns fn's error.
	Update(ctx context.Context, aor string, now time.Time, fn func([]Binding) ([]Binding, error)) ([]Binding, error)
	// Expire removes every binding expired at now and returns how many.
	Expire(ctx context.Context, now time.Time) (int, error)
}

// MemoryLocation is a Location in memory. The zero value is not usable;
// call NewMemoryLocation.
type MemoryLocation struct {
	mu   sync.Mutex
	aors map[string][]Binding
}

// NewMemoryLocation returns an empty in-memory location service.
func NewMemoryLocation() *MemoryLocation {
	return &MemoryLocation{aors: make(map[string][]Binding)}
}

func live(bs []Binding, now time.Time) []Binding {
	out := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// Lookup implements Location.
func (m *MemoryLocation) Lookup(_ context.Context, aor string, now time.Time) ([]Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return live(m.aors[aor], now), nil
}

// Update implements Location.
func (m *MemoryLocation) Update(_ context.Context, aor string, now time.Time, fn func([]Binding) ([]Binding, error)) ([]Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := live(m.aors[aor], now)
	next, err := fn(slices.Clone(cur))
	if err != nil {
		return nil, err
	}
	next = live(next, now)
	if len(next) == 0 {
		delete(m.aors, aor)
	} else {
		m.aors[aor] = next
	}
	return slices.Clone(next), nil
}

// Expire implements Location.
func (m *MemoryLocation) Expire(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for aor, bs := range m.aors {
		l := live(bs, now)
		n += len(bs) - len(l)
		if len(l) == 0 {
			delete(m.aors, aor)
		} else {
			m.aors[aor] = l
		}
	}
	return n, nil
}

// Len returns the number of AORs with bindings (expired ones included
// until Expire runs).
func (m *MemoryLocation) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.aors)
}

// ErrNotAOR reports a URI that cannot be an address of record: not sip,
// sips or tel, or without a user part or number.
var ErrNotAOR = errors.New("proxy: not an address of record")

// AORKey returns the canonical form of an address of record, the key of
// the location service and of aliases (RFC 3261 §10.3 step 5): for sip and
// sips, "sip:" + the unescaped user + "@" + the lower-case host (and
// ":port" when there is one), parameters and headers dropped; for tel,
// "tel:" + the number without visual separators (RFC 3966 §5.1.1).
func AORKey(u sip.URI) (string, error) {
	switch u.Scheme {
	case "sip", "sips":
		user := u.Username()
		if user == "" || u.Host == "" {
			return "", ErrNotAOR
		}
		if strings.HasPrefix(user, "+") || u.Params.Value("user") == "phone" {
			user = stripVisual(user)
		}
		k := "sip:" + user + "@" + strings.ToLower(u.Host)
		if u.Port != 0 {
			k += ":" + strconv.Itoa(u.Port)
		}
		return k, nil
	case "tel":
		n := stripVisual(u.User)
		if n == "" {
			return "", ErrNotAOR
		}
		return "tel:" + n, nil
	}
	return "", ErrNotAOR
}

// ParseAOR parses s as a URI and returns its AORKey.
func ParseAOR(s string) (string, error) {
	u, err := sip.ParseURI(s)
	if err != nil {
		return "", errors.Join(ErrNotAOR, err)
	}
	return AORKey(u)
}

// stripVisual drops the visual separators of a telephone number (RFC 3966
// §5.1.1).
func stripVisual(s string) string {
	if !strings.ContainsAny(s, "-.()") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '-', '.', '(', ')':
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
