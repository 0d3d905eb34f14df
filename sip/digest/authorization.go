package digest

import (
	"strconv"
)

// Authorization is a Digest credentials value: the value of an
// Authorization or Proxy-Authorization header field (RFC 3261 §20.7,
// §20.28, §22.4; RFC 7616 §3.4).
type Authorization struct {
	Username string // the user name, or H(username ":" realm) when Userhash
	Userhash bool   // Username is hashed (RFC 7616 §3.4.4)
	Realm    string
	Nonce    string
	URI      string // digest-uri: the Request-URI, as sent (RFC 3261 §22.4)
	Response string // lower-case hex digest (RFC 7616 §3.4.1)

	Algorithm Algorithm // MD5 when absent
	CNonce    string    // client nonce; "" without qop
	Opaque    string    // copied from the challenge
	QOP       QOP       // "" for RFC 2069 compatibility
	NC        uint32    // nonce count; written as 8 hex digits when QOP != ""

	// Params holds the auth-params this package does not interpret, in
	// order.
	Params []Param
}

// ParseAuthorization parses a Digest credentials value. username, realm,
// nonce, uri and response are required, and cnonce and nc when qop is
// present (RFC 7616 §3.4). Errors are *[ParseError] values wrapping
// [ErrMalformed], [ErrUnsupportedScheme] or [ErrUnsupportedAlgorithm].
//
// The username* form of RFC 7616 §3.4 is not interpreted: SIP header
// values are UTF-8 already (RFC 3261 §25.1), so it is kept in Params and,
// without username, the value is malformed.
func ParseAuthorization(value string) (Authorization, error) {
	params, err := parseDigest(value)
	if err != nil {
		return Authorization{}, err
	}
	var a Authorization
	var have uint8
	const (
		hUser = 1 << iota
		hRealm
		hNonce
		hURI
		hResp
		hNC
		hCNonce
	)
	for _, p := range params {
		switch p.name {
		case "username":
			a.Username, have = p.value, have|hUser
		case "userhash":
			a.Userhash = isTrue(p.value)
		case "realm":
			a.Realm, have = p.value, have|hRealm
		case "nonce":
			a.Nonce, have = p.value, have|hNonce
		case "uri":
			a.URI, have = p.value, have|hURI
		case "response":
			a.Response, have = p.value, have|hResp
		case "algorithm":
			alg, err := ParseAlgorithm(p.value)
			if err != nil {
				return Authorization{}, &ParseError{Offset: p.off, Reason: "algorithm " + p.value, Err: ErrUnsupportedAlgorithm}
			}
			a.Algorithm = alg
		case "cnonce":
			a.CNonce, have = p.value, have|hCNonce
		case "opaque":
			a.Opaque = p.value
		case "qop":
			a.QOP = QOP(lower(p.value))
		case "nc":
			nc, err := parseNC(p.value)
			if err != nil {
				return Authorization{}, malformed(p.off, "nc must be 8 hex digits")
			}
			a.NC, have = nc, have|hNC
		default:
			a.Params = append(a.Params, toParam(p))
		}
	}
	for _, req := range []struct {
		bit  uint8
		name string
	}{{hUser, "username"}, {hRealm, "realm"}, {hNonce, "nonce"}, {hURI, "uri"}, {hResp, "response"}} {
		if have&req.bit == 0 {
			return Authorization{}, malformed(len(value), "missing "+req.name)
		}
	}
	if a.QOP != "" && have&(hNC|hCNonce) != hNC|hCNonce {
		return Authorization{}, malformed(len(value), "qop without nc and cnonce")
	}
	return a, nil
}

// parseNC reads an nc-value: 8LHEX (RFC 7616 §3.4). Fewer digits are
// accepted; more are not.
func parseNC(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 8 {
		return 0, ErrMalformed
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, ErrMalformed
	}
	return uint32(n), nil
}

// appendNC writes n as 8 lower-case hex digits.
func appendNC(dst []byte, n uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(n>>uint(shift))&0xf])
	}
	return dst
}

// AppendTo appends the credentials in their wire form (the header field
// value, without the name) to dst, in the order
//
//	Digest username="…", realm="…", nonce="…", uri="…", response="…",
//	algorithm=…, cnonce="…", opaque="…", qop=…, nc=…, userhash=true
//
// with algorithm, qop and nc unquoted (RFC 7616 §3.4; RFC 3261 §25.1
// "dig-resp"). opaque is omitted when empty, cnonce when empty
// without qop, nc when there is
// no qop and NC is zero.
func (a Authorization) AppendTo(dst []byte) []byte {
	dst = append(dst, "Digest "...)
	dst = appendParam(dst, "username", a.Username, true)
	dst = appendParam(dst, "realm", a.Realm, true)
	dst = appendParam(dst, "nonce", a.Nonce, true)
	dst = appendParam(dst, "uri", a.URI, true)
	dst = appendParam(dst, "response", a.Response, true)
	dst = append(dst, ", algorithm="...)
	dst = append(dst, a.Algorithm.String()...)
	if a.CNonce != "" || a.QOP != "" {
		dst = appendParam(dst, "cnonce", a.CNonce, true)
	}
	if a.Opaque != "" {
		dst = appendParam(dst, "opaque", a.Opaque, true)
	}
	if a.QOP != "" {
		dst = appendParam(dst, "qop", string(a.QOP), false)
	}
	if a.QOP != "" || a.NC != 0 {
		dst = append(dst, ", nc="...)
		dst = appendNC(dst, a.NC)
	}
	if a.Userhash {
		dst = append(dst, ", userhash=true"...)
	}
	for _, p := range a.Params {
		dst = appendParam(dst, p.Name, p.Value, p.Quoted)
	}
	return dst
}

// String returns the credentials' wire form, as [Authorization.AppendTo].
func (a Authorization) String() string { return string(a.AppendTo(nil)) }
