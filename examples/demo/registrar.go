package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Registrar limits.
const (
	// registrarMaxExpires is the longest binding granted, in seconds.
	registrarMaxExpires = 3600
	// registrarDefaultExpires applies when a REGISTER names no lifetime
	// (RFC 3261 §10.3 step 7).
	registrarDefaultExpires = 3600
	// registrarMaxBindings bounds the Contacts kept per address of record.
	registrarMaxBindings = 8
)

// registrar is the demo's server: a registrar (RFC 3261 §10.3) that
// authenticates REGISTER with digest (sip/digest's Server, RFC 8760) and
// keeps a location table, and a redirect server (§8.3) that answers an
// INVITE for a registered address of record with 302 and its Contacts.
// It runs on a bare transaction layer over UDP. It is deliberately small:
// no persistence, no forking, no proxying, no authentication of INVITEs.
type registrar struct {
	domain string
	auth   *digest.Server
	users  map[string]string // user name → password

	tp   *transport.Layer
	tx   *transaction.Layer
	addr netip.AddrPort

	mu       sync.Mutex
	bindings map[string][]binding // "user@domain" → Contacts
}

// binding is one registered Contact.
type binding struct {
	contact sip.Address
	expires time.Time
}

// newRegistrar starts a registrar for domain on a UDP port of 127.0.0.1,
// for the given users and passwords.
func newRegistrar(ctx context.Context, domain string, users map[string]string, tracer transport.Tracer) (*registrar, error) {
	auth, err := digest.NewServer(digest.ServerConfig{Realm: domain})
	if err != nil {
		return nil, err
	}
	r := &registrar{domain: domain, auth: auth, users: users, bindings: make(map[string][]binding)}
	if r.tp, err = transport.New(transport.Config{Tracer: tracer}); err != nil {
		return nil, err
	}
	// The transaction layer binds itself to the transport; the registrar
	// answers at once, so it serves on the delivering goroutine.
	if r.tx, err = transaction.New(r.tp, transaction.Config{Handler: r}); err != nil {
		_ = r.tp.Close()
		return nil, err
	}
	a, err := r.tp.Listen(ctx, transport.UDP, "127.0.0.1:0")
	if err != nil {
		r.Close()
		return nil, err
	}
	r.addr = netip.MustParseAddrPort(a.String())
	return r, nil
}

// Close stops the registrar's layers.
func (r *registrar) Close() {
	_ = r.tx.Close()
	_ = r.tp.Close()
}

// HandleDirect implements transaction.Handler: a registrar sends no 2xx to
// an INVITE, so nothing comes to it directly.
func (r *registrar) HandleDirect(transport.Incoming) {}

// ServeSIP implements transaction.Handler: it answers at once, so it runs
// on the goroutine that delivered the request.
func (r *registrar) ServeSIP(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	var res *sip.Response
	switch req.Method {
	case sip.REGISTER:
		res = r.register(req)
	case sip.INVITE:
		res = r.redirect(req)
	default:
		res = sip.NewResponse(req, sip.StatusMethodNotAllowed, "")
		res.Set("Allow", "REGISTER, INVITE")
	}
	_ = w.Respond(res)
}

// aorKey names an address of record in the location table.
func aorKey(u sip.URI) string { return strings.ToLower(u.Username() + "@" + u.Hostname()) }

// register runs RFC 3261 §10.3: authenticate, then add, refresh or remove
// the bindings of the To address.
func (r *registrar) register(req *sip.Request) *sip.Response {
	to, err := req.To()
	if err != nil || !to.URI.IsSIP() || !strings.EqualFold(to.URI.Hostname(), r.domain) {
		return sip.NewResponse(req, sip.StatusNotFound, "Not Found (not our domain)")
	}
	user, stale := r.authenticate(req)
	if user == "" {
		res := sip.NewResponse(req, sip.StatusUnauthorized, "")
		chs, err := r.auth.Challenges(stale)
		if err != nil {
			return sip.NewResponse(req, sip.StatusServerInternalError, "")
		}
		for _, c := range chs {
			res.Add("WWW-Authenticate", c)
		}
		return res
	}
	if user != to.URI.Username() {
		return sip.NewResponse(req, sip.StatusForbidden, "Forbidden (not your address)")
	}
	contacts, err := req.Contacts()
	if err != nil {
		return sip.NewResponse(req, sip.StatusBadRequest, "Bad Contact")
	}
	deflt := uint32(registrarDefaultExpires)
	if req.Header("Expires") != "" {
		if e, err := req.Expires(); err == nil {
			deflt = e
		}
	}
	key := aorKey(to.URI)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.live(key, now)
	for _, ct := range contacts {
		exp := deflt
		if e, ok := ct.Expires(); ok {
			exp = e
		}
		if ct.Wildcard {
			if exp != 0 || len(contacts) != 1 {
				return sip.NewResponse(req, sip.StatusBadRequest, "Bad Wildcard")
			}
			list = nil
			break
		}
		list = removeBinding(list, ct.URI)
		if exp > 0 {
			if len(list) >= registrarMaxBindings {
				return sip.NewResponse(req, sip.StatusServerInternalError, "Too Many Bindings")
			}
			b := sip.Address{URI: ct.URI}
			list = append(list, binding{contact: b, expires: now.Add(time.Duration(min(exp, registrarMaxExpires)) * time.Second)})
		}
	}
	if len(list) == 0 {
		delete(r.bindings, key)
	} else {
		r.bindings[key] = list
	}
	res := sip.NewResponse(req, sip.StatusOK, "")
	for _, b := range list {
		left := max(int(time.Until(b.expires).Round(time.Second)/time.Second), 1)
		res.Add("Contact", b.contact.String()+";expires="+strconv.Itoa(left))
	}
	return res
}

// authenticate returns the user whose credentials in req are right, or ""
// and whether the credentials were right but their nonce stale.
func (r *registrar) authenticate(req *sip.Request) (user string, stale bool) {
	lookup := func(username, _ string) (digest.Credentials, bool) {
		pw, ok := r.users[username]
		return digest.Credentials{Username: username, Password: pw}, ok
	}
	for _, v := range req.Authorization() {
		u, err := r.auth.Verify(v, string(req.Method), req.Body(), lookup)
		if err == nil {
			return u, false
		}
		stale = stale || errors.Is(err, digest.ErrStale)
	}
	return "", stale
}

// live returns the unexpired bindings of key; r.mu is held.
func (r *registrar) live(key string, now time.Time) []binding {
	var out []binding
	for _, b := range r.bindings[key] {
		if b.expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

func removeBinding(list []binding, u sip.URI) []binding {
	out := list[:0]
	for _, b := range list {
		if !b.contact.URI.Equal(&u) {
			out = append(out, b)
		}
	}
	return out
}

// Lookup returns the registered Contacts of an address of record.
func (r *registrar) Lookup(aor sip.URI) []sip.URI {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sip.URI
	for _, b := range r.live(aorKey(aor), time.Now()) {
		out = append(out, b.contact.URI)
	}
	return out
}

// redirect answers an INVITE for a registered address of record with 302
// Moved Temporarily and its Contacts (RFC 3261 §8.3, §21.3.3), 480 when
// it has none now and 404 outside the domain.
func (r *registrar) redirect(req *sip.Request) *sip.Response {
	if !req.URI.IsSIP() || !strings.EqualFold(req.URI.Hostname(), r.domain) {
		return sip.NewResponse(req, sip.StatusNotFound, "")
	}
	contacts := r.Lookup(req.URI)
	if len(contacts) == 0 {
		return sip.NewResponse(req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable (not registered)")
	}
	res := sip.NewResponse(req, sip.StatusMovedTemporarily, "")
	for _, c := range contacts {
		res.Add("Contact", fmt.Sprintf("<%s>", c.String()))
	}
	return res
}
