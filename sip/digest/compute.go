package digest

import (
	"strings"
)

// Credentials are what a user agent answers challenges with, and what a
// [Server]'s lookup function returns for a user.
type Credentials struct {
	Username string
	Password string

	// HA1 holds precomputed H(username ":" realm ":" password) values in
	// lower-case hex, keyed by base algorithm ([MD5], [SHA256],
	// [SHA512_256]), for the realm the credentials belong to. They are used
	// when Password is empty, so that a registrar need not store passwords
	// (RFC 7616 §5.2).
	HA1 map[Algorithm]string
}

// CanAnswer reports whether the credentials can compute a response for
// algorithm a: they hold a password, or an HA1 for a's base algorithm.
func (c Credentials) CanAnswer(a Algorithm) bool {
	if !a.Valid() {
		return false
	}
	if c.Password != "" {
		return true
	}
	ha1, ok := c.HA1[a.Base()]
	return ok && len(ha1) == a.hexLen()
}

// ComputeHA1 returns H(username ":" realm ":" password) for the base of
// algorithm a, in lower-case hex: the value to store in [Credentials.HA1].
func ComputeHA1(a Algorithm, username, realm, password string) string {
	return newHasher(a).hexOf(username, ":", realm, ":", password)
}

// Request is what a response digest covers besides the challenge and the
// credentials.
type Request struct {
	Method string // the request's method (for ACK and CANCEL, see RFC 3261 §22.1)
	URI    string // digest-uri: the Request-URI as sent (RFC 3261 §22.4)
	Body   []byte // message body; read only when qop is auth-int
	NC     uint32 // nonce count, starting at 1 for each nonce; 0 means 1
	CNonce string // client nonce; required when the challenge offers qop

	// PreferAuthInt chooses qop=auth-int when the challenge offers both
	// auth and auth-int. Otherwise auth is chosen, and auth-int only when
	// it is the only option offered.
	PreferAuthInt bool
}

// Authorize computes the credentials answering ch for a request (RFC 7616
// §3.4.1), choosing qop=auth when the challenge offers it, auth-int when it
// offers only that, and no qop (RFC 2069 compatibility, RFC 7616 §3.4.1)
// when it offers none. body is read only for auth-int. nc starts at 1 for a
// new nonce; cnonce must be a fresh unpredictable value when a qop is
// offered, such as [NewCNonce] makes. When the challenge sets userhash,
// the username is sent hashed (RFC 7616 §3.4.4).
//
// Errors: [ErrUnsupportedAlgorithm], [ErrUnsupportedQOP] when every qop
// offered is unknown, [ErrNoCredentials] when creds have neither a password
// nor an HA1 for the algorithm, [ErrMalformed] for a missing cnonce.
func Authorize(ch Challenge, creds Credentials, method, digestURI string, body []byte, nc uint32, cnonce string) (Authorization, error) {
	return AuthorizeRequest(ch, creds, Request{Method: method, URI: digestURI, Body: body, NC: nc, CNonce: cnonce})
}

// ChooseQOP returns the qop to answer ch with: "" when ch offers none,
// auth-int when preferred and offered or when it is the only known option,
// auth otherwise. It reports false when ch offers only unknown options.
func ChooseQOP(ch Challenge, preferAuthInt bool) (QOP, bool) {
	if len(ch.QOP) == 0 {
		return "", true
	}
	auth, authInt := ch.SupportsQOP(QOPAuth), ch.SupportsQOP(QOPAuthInt)
	switch {
	case authInt && (preferAuthInt || !auth):
		return QOPAuthInt, true
	case auth:
		return QOPAuth, true
	}
	return "", false
}

// AuthorizeRequest is [Authorize] with the request described by a
// [Request], which can also ask for auth-int.
func AuthorizeRequest(ch Challenge, creds Credentials, req Request) (Authorization, error) {
	if !ch.Algorithm.Valid() {
		return Authorization{}, ErrUnsupportedAlgorithm
	}
	if !creds.CanAnswer(ch.Algorithm) {
		return Authorization{}, ErrNoCredentials
	}
	qop, ok := ChooseQOP(ch, req.PreferAuthInt)
	if !ok {
		return Authorization{}, ErrUnsupportedQOP
	}
	a := Authorization{
		Username:  creds.Username,
		Realm:     ch.Realm,
		Nonce:     ch.Nonce,
		URI:       req.URI,
		Algorithm: ch.Algorithm,
		Opaque:    ch.Opaque,
		QOP:       qop,
	}
	if qop != "" || ch.Algorithm.Sess() {
		// A -sess A1 needs a cnonce even without qop (RFC 2617 §3.2.2.2).
		if req.CNonce == "" {
			return Authorization{}, &ParseError{Reason: "cnonce required", Err: ErrMalformed}
		}
		a.CNonce = req.CNonce
	}
	if qop != "" {
		a.NC = max(req.NC, 1)
	}
	h := newHasher(ch.Algorithm)
	if ch.Userhash {
		// RFC 7616 §3.4.4: username = H(unq(username) ":" unq(realm)).
		a.Username = h.hexOf(creds.Username, ":", ch.Realm)
		a.Userhash = true
	}
	a.Response = response(h, a.Algorithm, creds, creds.Username, a.Realm, a.Nonce, a.CNonce, a.QOP, a.NC, req.Method, a.URI, req.Body)
	return a, nil
}

// response computes the request-digest of RFC 7616 §3.4.1 (RFC 2617
// §3.2.2.1, RFC 2069 when qop is empty):
//
//	A1 = username ":" realm ":" password            (or HA1)
//	A1 = H(username ":" realm ":" password) ":" nonce ":" cnonce   (-sess)
//	A2 = method ":" uri                             (auth, none)
//	A2 = method ":" uri ":" H(body)                 (auth-int)
//	response = H(H(A1) ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2))
//	response = H(H(A1) ":" nonce ":" H(A2))         (no qop)
//
// creds must be able to answer alg ([Credentials.CanAnswer]).
func response(h *hasher, alg Algorithm, creds Credentials, username, realm, nonce, cnonce string, qop QOP, nc uint32, method, uri string, body []byte) string {
	var ha1 string
	if creds.Password != "" {
		ha1 = h.hexOf(username, ":", realm, ":", creds.Password)
	} else {
		ha1 = strings.ToLower(creds.HA1[alg.Base()])
	}
	if alg.Sess() {
		ha1 = h.hexOf(ha1, ":", nonce, ":", cnonce)
	}
	var ha2 string
	if qop == QOPAuthInt {
		ha2 = h.hexOf(method, ":", uri, ":", h.hexOfBytes(body))
	} else {
		ha2 = h.hexOf(method, ":", uri)
	}
	if qop == "" {
		return h.hexOf(ha1, ":", nonce, ":", ha2)
	}
	var ncb [8]byte
	return h.hexOf(ha1, ":", nonce, ":", string(appendNC(ncb[:0], nc)), ":", cnonce, ":", string(qop), ":", ha2)
}
