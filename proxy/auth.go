package proxy

import (
	"context"
	"errors"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
)

// authenticate checks the request's credentials for our realm, in
// Authorization (registrar, proxy false) or Proxy-Authorization (proxy
// true), and returns the user name they prove. When there are none, or
// they fail, it answers 401 or 407 with fresh challenges (stale=true for
// correct credentials on an expired nonce) and returns false. The value
// it accepted is returned too, so a proxy can remove it before forwarding.
func (s *Server) authenticate(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, proxy bool) (user, value string, ok bool) {
	values := req.Authorization()
	if proxy {
		values = req.ProxyAuthorization()
	}
	stale := false
	lookup := func(name, _ string) (digest.Credentials, bool) {
		u, found, err := s.cfg.Users.User(ctx, name)
		if err != nil || !found {
			return digest.Credentials{}, false
		}
		return digest.Credentials{Username: u.Name, Password: u.Password, HA1: u.HA1}, true
	}
	for _, v := range values {
		a, err := digest.ParseAuthorization(v)
		if err != nil || a.Realm != s.auth.Realm() {
			continue // another realm's, or garbage: not ours to judge
		}
		name, err := s.auth.Verify(v, string(req.Method), req.Body(), lookup)
		switch {
		case err == nil:
			return name, v, true
		case errors.Is(err, digest.ErrStale):
			stale = true
		default:
			s.log.Debug("proxy: credentials refused", "user", a.Username, "err", err)
		}
	}
	code, hdr := sip.StatusUnauthorized, "WWW-Authenticate"
	if proxy {
		code, hdr = sip.StatusProxyAuthenticationRequired, "Proxy-Authenticate"
	}
	chs, err := s.auth.Challenges(stale)
	if err != nil {
		s.log.Warn("proxy: digest challenge", "err", err)
		s.reply(w, req, sip.StatusServerInternalError, "")
		return "", "", false
	}
	res := sip.NewResponse(req, code, "")
	for _, c := range chs {
		res.Add(hdr, c)
	}
	s.respond(w, res)
	return "", "", false
}

// owns reports whether user name holds the AOR key aor: it is
// sip:name@domain of one of our domains, or an alias of it.
func (s *Server) owns(ctx context.Context, name, aor string) (bool, error) {
	aor, _, err := s.canonical(ctx, aor)
	if err != nil {
		return false, err
	}
	n, ok := s.userOf(aor)
	return ok && n == name, nil
}

// authorizeCaller asks a request that leaves the domain (or any, with
// AuthAll) for proxy credentials (RFC 3261 §22.3) and checks that the
// authenticated user is the one in From. It answers 407 or 403 and
// returns false when the request must not go on; otherwise it removes the
// credentials it consumed.
func (s *Server) authorizeCaller(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) bool {
	name, used, ok := s.authenticate(ctx, w, req, true)
	if !ok {
		return false
	}
	from, err := req.From()
	if err != nil {
		s.reply(w, req, sip.StatusBadRequest, "Bad From")
		return false
	}
	key, err := s.aorKey(from.URI)
	if err == nil {
		ok, err = s.owns(ctx, name, key)
	}
	if err != nil || !ok {
		s.reply(w, req, sip.StatusForbidden, "From Does Not Match Credentials")
		return false
	}
	// Consume our credentials (RFC 3261 §22.3 lets the next hops see only
	// theirs).
	var keep []string
	for _, v := range req.ProxyAuthorization() {
		if v != used {
			keep = append(keep, v)
		}
	}
	req.Del("Proxy-Authorization")
	for _, v := range keep {
		req.Add("Proxy-Authorization", v)
	}
	return true
}
