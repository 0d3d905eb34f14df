package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/dialtone/dialtone/sip/digest"
)

// Aliases map other addresses of a user to the AOR that holds the bindings:
// sip:+15551234@example.com and tel:+15551234 may both reach
// sip:alice@example.com. Keys are AORKey forms. Implementations must be
// safe for concurrent use; a SQL one is a two-column table.
type Aliases interface {
	// Canonical returns the AOR that key stands for, and false when key
	// is no alias.
	Canonical(ctx context.Context, key string) (string, bool, error)
}

// ErrAliasTaken: the address is already an alias of another AOR, or is
// itself an AOR that has aliases.
var ErrAliasTaken = errors.New("proxy: alias already in use")

// AliasTable is an in-memory Aliases. The zero value is empty and ready.
type AliasTable struct {
	mu sync.RWMutex
	m  map[string]string
}

// Add makes alias (a URI such as "tel:+15551234") an address of aor
// ("sip:alice@example.com"). Both are parsed and put in AORKey form.
func (t *AliasTable) Add(alias, aor string) error {
	a, err := ParseAOR(alias)
	if err != nil {
		return err
	}
	c, err := ParseAOR(aor)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]string)
	}
	if old, ok := t.m[a]; ok && old != c {
		return ErrAliasTaken
	}
	if _, ok := t.m[c]; ok || a == c {
		return ErrAliasTaken
	}
	t.m[a] = c
	return nil
}

// Canonical implements Aliases.
func (t *AliasTable) Canonical(_ context.Context, key string) (string, bool, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m[key]
	return c, ok, nil
}

// User is an account of the domain: its digest credentials, and through
// its Name the AOR sip:Name@domain for each domain served.
type User struct {
	// Name is the digest user name and the user part of the AOR.
	Name string
	// Password, or HA1 values by algorithm for the server's realm
	// (digest.ComputeHA1), so that passwords need not be stored.
	Password string
	HA1      map[digest.Algorithm]string
}

// Users is the directory of accounts. Implementations must be safe for
// concurrent use.
type Users interface {
	// User returns the account named name, and false when there is none.
	User(ctx context.Context, name string) (User, bool, error)
}

// UserTable is an in-memory Users, keyed by name. It must not be modified
// while a Server uses it.
type UserTable map[string]User

// User implements Users.
func (t UserTable) User(_ context.Context, name string) (User, bool, error) {
	u, ok := t[name]
	return u, ok, nil
}

// ErrBadUserSpec: a user line is not name:password[:alias,…].
var ErrBadUserSpec = errors.New("proxy: user must be name:password[:alias,alias…]")

// ParseUser reads "name:password" or "name:password:alias1,alias2", the
// form of examples/proxy's -user flag and users file. Aliases are URIs
// ("tel:+15551234", "sip:+15551234@example.com") or bare user parts,
// which are put in each of domains.
func ParseUser(spec string, domains []string) (User, []string, error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok || name == "" || strings.ContainsAny(name, "@ \t") {
		return User{}, nil, ErrBadUserSpec
	}
	pass, aliasList, _ := strings.Cut(rest, ":")
	if pass == "" {
		return User{}, nil, ErrBadUserSpec
	}
	var aliases []string
	for a := range strings.SplitSeq(aliasList, ",") {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
		case strings.Contains(a, ":"):
			aliases = append(aliases, a)
		default:
			for _, d := range domains {
				aliases = append(aliases, "sip:"+a+"@"+d)
			}
		}
	}
	return User{Name: name, Password: pass}, aliases, nil
}
