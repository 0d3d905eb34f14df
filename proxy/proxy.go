package proxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/internal/lifecycle"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Server is a registrar, stateful proxy and redirect server for the
// domains of its Config, on a transaction layer it builds over a
// transport. Create it with New before the transport listens; stop it
// with Close.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tp       transaction.Transport
	tx       *transaction.Layer
	auth     *digest.Server
	resolver transport.Resolver
	dead     *transport.DeadTargets   // next hops that failed (RFC 3263 §4.3)
	me       atomic.Pointer[identity] // our addresses and Record-Route
	tokenKey []byte                   // HMAC key of flow tokens
	macs     sync.Pool                // HMAC-SHA-256 states keyed with tokenKey, reused (route.go)
	domains  map[string]bool          // lower-case domains
	id       string                   // this instance's tag in branches
	sem      chan struct{}            // stateless forwards in flight
	g        lifecycle.Group          // the sweeper and stateless forwards
	ctx      context.Context          // canceled by Close: ends the sweeper and stateless forwards
	cancel   context.CancelFunc
	valid    sip.Validator
	// acks holds, per Call-ID, the end of the last ACK forward started
	// for the call (HandleDirect, waitACKs).
	acksMu sync.Mutex
	acks   map[string]chan struct{}
	// quick: the users, aliases and location service are this package's
	// in-memory ones, whose calls never block, so that a request can be
	// served on the goroutine that delivered it (ServeSIP).
	quick bool
}

// New builds a Server over tp: it creates the transaction layer (which
// binds itself to tp with Serve, so call New before tp listens) with the
// Server as its handler (see ServeSIP for the goroutines requests are
// served on), and starts the goroutine that expires bindings.
func New(tp transaction.Transport, cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	auth, err := digest.NewServer(digest.ServerConfig{
		Realm: cfg.Realm, Secret: cfg.NonceSecret, Algorithms: cfg.Algorithms,
		NonceLifetime: cfg.NonceLifetime,
	})
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, tp: tp, auth: auth, resolver: cfg.Resolver, dead: cfg.DeadTargets,
		domains: map[string]bool{},
		sem:     make(chan struct{}, cfg.MaxStateless),
		valid:   sip.Validator{Proxy: true},
		acks:    map[string]chan struct{}{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var id [4]byte
	_, _ = rand.Read(id[:])
	s.id = hex.EncodeToString(id[:])
	s.me.Store(newIdentity(&cfg))
	// Flow tokens get a key of their own, derived from the shared secret
	// when there is one so that instances accept each other's tokens.
	secret := cfg.NonceSecret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	key := sha256.Sum256(append([]byte("dialtone proxy flow token\x00"), secret...))
	s.tokenKey = key[:]
	for _, d := range cfg.Domains {
		s.domains[strings.ToLower(d)] = true
	}
	if s.dead == nil {
		s.dead = transport.NewDeadTargets(transport.DeadTargetsConfig{})
	}
	if s.resolver == nil {
		r, err := transport.NewDNSResolver(transport.DNSResolverConfig{})
		if err != nil {
			s.cancel()
			return nil, errors.Join(ErrConfig, err)
		}
		s.resolver = r
	}
	_, memUsers := cfg.Users.(UserTable)
	_, memAliases := cfg.Aliases.(*AliasTable)
	_, memLocation := cfg.Location.(*MemoryLocation)
	s.quick = memUsers && memAliases && memLocation
	tcfg := cfg.Transaction
	tcfg.Handler = s
	if tcfg.Logger == nil {
		tcfg.Logger = cfg.Logger
	}
	s.tx, err = transaction.New(tp, tcfg)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.g.Go(s.sweep)
	return s, nil
}

// Close stops the server: the transaction layer (every transaction ends,
// running handlers are canceled and waited for), the sweeper and the
// stateless forwards. It does not close the transport. It is idempotent.
func (s *Server) Close() error {
	if s.g.Shut() {
		s.cancel()
		_ = s.tx.Close()
	}
	s.g.Wait()
	return nil
}

// Transactions returns the transaction layer the server runs on.
func (s *Server) Transactions() *transaction.Layer { return s.tx }

// Location returns the location service.
func (s *Server) Location() Location { return s.cfg.Location }

// sweep removes expired bindings every SweepInterval until Close. It is
// the Server's one long-lived goroutine.
func (s *Server) sweep() {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SweepInterval)
			if n, err := s.cfg.Location.Expire(ctx, time.Now()); err != nil {
				s.log.Warn("proxy: expiring bindings", "err", err)
			} else if n > 0 {
				s.log.Debug("proxy: bindings expired", "count", n)
			}
			cancel()
		}
	}
}

// ServeSIP implements transaction.Handler. It serves the request on the
// goroutine that delivered it (a transport reader) when nothing on the
// way can block: the users, aliases and location service are this
// package's in-memory ones, and no ACK of the call is still being
// forwarded (a BYE waits for it, waitACKs). Otherwise it serves it on a
// goroutine of the Server, which Close waits for. Either way a proxied
// request's response context then runs on the goroutines that deliver
// its responses (context.go), and next hops that need DNS are resolved on
// goroutines of the Server (branch.go). A panic while serving is
// recovered, logged at error level and answered 500.
func (s *Server) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if s.quick && !s.ackPending(req) {
		s.serveRecover(ctx, w, req)
		return
	}
	s.g.Go(func() { s.serveRecover(ctx, w, req) }) // false: closing, the transaction has ended
}

// serveRecover serves req and answers 500 if serving panics.
func (s *Server) serveRecover(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("proxy: panic while serving a request; answered 500",
				"call_id", req.CallID(), "method", string(req.Method), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			_ = w.Respond(sip.NewResponse(req, sip.StatusServerInternalError, "")) // unless answered already
		}
	}()
	s.serve(ctx, w, req)
}

// serve serves a request; it may block only when s.quick is false or an
// ACK of the call is pending (ServeSIP).
func (s *Server) serve(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if err := s.valid.Validate(req); err != nil {
		var ve *sip.ValidationError
		if errors.As(err, &ve) {
			res := sip.NewResponse(req, ve.StatusCode, "")
			if len(ve.Unsupported) > 0 {
				res.Set("Unsupported", strings.Join(ve.Unsupported, ", "))
			}
			s.respond(w, res)
			return
		}
		s.reply(w, req, sip.StatusBadRequest, "")
		return
	}
	req = req.Clone()
	routed, dest, routes, err := s.preprocessRoute(req)
	if err != nil {
		s.reply(w, req, sip.StatusBadRequest, "Bad Route")
		return
	}
	hash := loopHash(req)
	if s.looped(req, hash) {
		s.reply(w, req, sip.StatusLoopDetected, "")
		return
	}
	if inDialog(req) {
		// A BYE right behind the ACK for the 2xx must not overtake it.
		s.waitACKs(ctx, req.CallID())
	}
	ours := len(routes) == 0 && s.ourURI(req.URI)
	switch {
	case dest != nil && len(routes) == 0 && inDialog(req) && req.Method != sip.REGISTER:
		// In a dialog we record-routed: to the flow of the far side,
		// even when its Contact looks like an address of ours.
		s.leaving(ctx, w, req, hash, dest, routes)
	case ours && req.Method == sip.REGISTER:
		s.register(ctx, w, req)
	case ours && req.URI.User == "" && req.URI.Scheme != "tel":
		if req.Method == sip.OPTIONS {
			res := sip.NewResponse(req, sip.StatusOK, "")
			res.Set("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, SUBSCRIBE, NOTIFY, REFER, PRACK")
			s.respond(w, res)
			return
		}
		s.reply(w, req, sip.StatusNotFound, "")
	case ours:
		s.toUser(ctx, w, req, hash)
	case !routed && inDialog(req):
		// A request of a dialog we are not in the route set of: relaying
		// it would make us an open relay for anything with a To tag.
		s.reply(w, req, sip.StatusNotFound, "Not Here")
	case s.cfg.Mode == ModeRedirect:
		s.reply(w, req, sip.StatusForbidden, "Relaying Denied")
	default:
		s.leaving(ctx, w, req, hash, dest, routes)
	}
}

// toUser serves a request for a user of our domains: it finds the AOR's
// bindings and proxies or redirects to them.
func (s *Server) toUser(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, hash string) {
	aor, known, err := s.resolveAOR(ctx, req.URI)
	if err != nil {
		s.log.Warn("proxy: alias lookup", "err", err)
		s.reply(w, req, sip.StatusServerInternalError, "")
		return
	}
	if !known {
		s.reply(w, req, sip.StatusNotFound, "")
		return
	}
	if s.cfg.CallAuth == AuthAll && s.cfg.Mode == ModeProxy && needsAuth(req) {
		if !s.authorizeCaller(ctx, w, req) {
			return
		}
	}
	bs, err := s.cfg.Location.Lookup(ctx, aor, time.Now())
	if err != nil {
		s.log.Warn("proxy: location lookup", "aor", aor, "err", err)
		s.reply(w, req, sip.StatusServerInternalError, "")
		return
	}
	if len(bs) == 0 {
		s.reply(w, req, sip.StatusTemporarilyUnavailable, "")
		return
	}
	sortBindings(bs)
	if s.cfg.Mode == ModeRedirect {
		s.redirect(w, req, bs)
		return
	}
	if len(bs) > s.cfg.MaxBranches {
		bs = bs[:s.cfg.MaxBranches]
	}
	ts := make([]target, 0, len(bs))
	for _, b := range bs {
		ts = append(ts, bindingTarget(b))
	}
	s.proxy(ctx, w, req, hash, ts, nil)
}

// leaving serves a request whose next hop is not one of our users: a
// Route left after ours, or a Request-URI of another domain or host (in
// dialogs, the peer's Contact, reached through dest, the flow token of
// our Record-Route, when there is one). routes are the request's Route
// values left after ours.
func (s *Server) leaving(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, hash string, dest *transport.Target, routes []sip.Address) {
	if s.cfg.CallAuth != AuthNone && needsAuth(req) {
		if !s.authorizeCaller(ctx, w, req) {
			return
		}
	}
	s.proxy(ctx, w, req, hash, []target{{uri: req.URI, q: 1, dest: dest}}, routes)
}

// inDialog reports whether a request belongs to a dialog: its To has a tag.
func inDialog(req *sip.Request) bool {
	to, err := req.To()
	return err == nil && to.Tag() != ""
}

// needsAuth reports whether a request may be challenged: outside a dialog,
// and not one of the methods that cannot be (ACK, CANCEL, RFC 3261 §22.1).
func needsAuth(req *sip.Request) bool {
	if req.Method == sip.ACK || req.Method == sip.CANCEL || req.Method == sip.REGISTER {
		return false
	}
	return !inDialog(req)
}

// resolveAOR maps a Request-URI to the AOR that holds its bindings
// (through Aliases) and reports whether that AOR exists: it is an alias,
// or sip:name@domain of a user in Users.
func (s *Server) resolveAOR(ctx context.Context, u sip.URI) (string, bool, error) {
	key, err := s.aorKey(u)
	if err != nil {
		return "", false, nil
	}
	aor, alias, err := s.canonical(ctx, key)
	if err != nil || alias {
		return aor, err == nil, err
	}
	name, ok := s.userOf(aor)
	if !ok {
		return aor, false, nil
	}
	_, found, err := s.cfg.Users.User(ctx, name)
	return aor, found, err
}

// canonical is the one alias lookup: the AOR key stands for (itself when
// it is no alias), and whether it was an alias.
func (s *Server) canonical(ctx context.Context, key string) (string, bool, error) {
	c, ok, err := s.cfg.Aliases.Canonical(ctx, key)
	if err != nil {
		return "", false, fmt.Errorf("proxy: alias lookup of %s: %w", key, err)
	}
	if ok {
		return c, true, nil
	}
	return key, false, nil
}

// aorKey is AORKey with the port dropped from a domain of ours, so that
// sip:alice@example.com:5060 and sip:alice@example.com are one AOR.
func (s *Server) aorKey(u sip.URI) (string, error) {
	if u.IsSIP() && u.Port != 0 && s.domains[strings.ToLower(u.Host)] {
		u.Port = 0
	}
	return AORKey(u)
}

// userOf returns the user name of an AOR key sip:name@domain of ours.
func (s *Server) userOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "sip:")
	if !ok {
		return "", false
	}
	at := strings.LastIndexByte(rest, '@')
	if at <= 0 || !s.domains[rest[at+1:]] {
		return "", false
	}
	return rest[:at], true
}

// ourURI reports whether u names this server or one of its domains: a
// domain (one that is an IP address only without a port), or an address
// of Self.
func (s *Server) ourURI(u sip.URI) bool {
	if u.Scheme == "tel" {
		return true // a number: ours to look up (aliases)
	}
	if !u.IsSIP() {
		return false
	}
	host := strings.ToLower(u.Host)
	if s.domains[host] && (u.Port == 0 || !isIPHost(host)) {
		// A domain name with any port; a domain that is an IP address
		// only without one (with one, Self decides: other ports of that
		// address are other hosts, the phones on it).
		return true
	}
	port := u.Port
	if port == 0 {
		port = transport.DefaultSIPPort
		if u.Scheme == "sips" {
			port = transport.DefaultSIPSPort
		}
	}
	return s.me.Load().self[host+":"+strconv.Itoa(port)]
}

// isIPHost reports whether a URI host is an IP address (IPv6 in brackets).
func isIPHost(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}

func (s *Server) reply(w transaction.ResponseWriter, req *sip.Request, code int, reason string) {
	s.respond(w, sip.NewResponse(req, code, reason))
}

func (s *Server) respond(w transaction.ResponseWriter, res *sip.Response) {
	if err := w.Respond(res); err != nil {
		s.log.Debug("proxy: respond", "code", res.StatusCode, "err", err)
	}
}

// flowTarget is where a request for a flow goes: its remote address on its
// network.
func flowTarget(f transport.Flow) (transport.Target, bool) {
	if !f.Remote.IsValid() || f.Network == "" {
		return transport.Target{}, false
	}
	return transport.Target{Network: f.Network, Addr: netip.AddrPortFrom(f.Remote.Addr().Unmap(), f.Remote.Port())}, true
}
