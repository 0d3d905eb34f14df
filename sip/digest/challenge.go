package digest

import (
	"errors"
	"slices"
	"strings"
)

// QOP is a quality-of-protection value (RFC 7616 §3.3, §3.4).
type QOP string

// QOP values defined by RFC 7616 §3.3.
const (
	QOPAuth    QOP = "auth"     // authentication only
	QOPAuthInt QOP = "auth-int" // authentication with integrity of the body
)

// Challenge is a parsed Digest challenge: the value of a WWW-Authenticate
// or Proxy-Authenticate header field (RFC 3261 §20.44, §20.27, §22.4; RFC
// 7616 §3.3).
type Challenge struct {
	Realm  string // required
	Domain string // space-separated URIs of the protection space, or ""
	Nonce  string // required
	Opaque string // returned unchanged in the credentials
	Stale  bool   // the previous nonce was stale, the credentials were good

	// Algorithm is MD5 when the challenge has no algorithm parameter.
	Algorithm Algorithm

	// QOP lists the qop options offered, lower-cased, in the server's
	// order; nil means none (RFC 2069 compatibility). Unknown options are
	// kept.
	QOP []QOP

	Userhash bool   // the server supports hashed usernames (RFC 7616 §3.4.4)
	Charset  string // "UTF-8" or "" (RFC 7616 §4)

	// Params holds the auth-params this package does not interpret, in
	// order.
	Params []Param
}

// ParseChallenge parses one Digest challenge. SIP carries one challenge per
// header field value (RFC 3261 §7.3.1, §20.44), so value must not hold
// several. The scheme is matched case-insensitively; realm and nonce are
// required.
//
// Errors wrap [ErrUnsupportedScheme] for another scheme,
// [ErrUnsupportedAlgorithm] for an unknown algorithm, and [ErrMalformed]
// otherwise; they are *[ParseError] values.
func ParseChallenge(value string) (Challenge, error) {
	params, err := parseDigest(value)
	if err != nil {
		return Challenge{}, err
	}
	var ch Challenge
	var haveRealm, haveNonce bool
	for _, p := range params {
		switch p.name {
		case "realm":
			ch.Realm, haveRealm = p.value, true
		case "domain":
			ch.Domain = p.value
		case "nonce":
			ch.Nonce, haveNonce = p.value, true
		case "opaque":
			ch.Opaque = p.value
		case "stale":
			ch.Stale = isTrue(p.value)
		case "algorithm":
			a, err := ParseAlgorithm(p.value)
			if err != nil {
				return Challenge{}, &ParseError{Offset: p.off, Reason: "algorithm " + p.value, Err: ErrUnsupportedAlgorithm}
			}
			ch.Algorithm = a
		case "qop":
			for item := range strings.SplitSeq(p.value, ",") {
				item = strings.Trim(item, " \t\r\n")
				if item == "" {
					continue
				}
				if len(ch.QOP) == MaxQOPOptions {
					return Challenge{}, malformed(p.off, "too many qop options")
				}
				ch.QOP = append(ch.QOP, QOP(lower(item)))
			}
		case "userhash":
			ch.Userhash = isTrue(p.value)
		case "charset":
			ch.Charset = p.value
		default:
			ch.Params = append(ch.Params, toParam(p))
		}
	}
	if !haveRealm {
		return Challenge{}, malformed(len(value), "missing realm")
	}
	if !haveNonce {
		return Challenge{}, malformed(len(value), "missing nonce")
	}
	return ch, nil
}

// ParseChallenges parses the values of all WWW-Authenticate (or all
// Proxy-Authenticate) header fields of a response and returns the Digest
// challenges it can answer, in order. Values with another scheme or an
// unsupported algorithm are skipped, as are malformed ones: a server may
// offer several challenges (RFC 7616 §3.7) and one bad value must not hide
// the others. The error is non-nil only when no challenge was usable; it
// joins the individual errors (or wraps [ErrMalformed] for an empty list).
func ParseChallenges(values []string) ([]Challenge, error) {
	var out []Challenge
	var errs []error
	for _, v := range values {
		ch, err := ParseChallenge(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ch)
	}
	if len(out) > 0 {
		return out, nil
	}
	if len(errs) == 0 {
		return nil, malformed(0, "no challenge")
	}
	return nil, errors.Join(errs...)
}

// Strongest returns the challenge with the strongest algorithm, by
// [Algorithm.Strength]: SHA-512-256 over SHA-256 over MD5, a -sess variant
// ranking with its base. Among equals the first wins, so the server's order
// decides (RFC 7616 §3.7: the client uses the first challenge it
// supports; RFC 8760 §2.4: a UAC picks the strongest it supports). It
// reports false when chs holds no valid algorithm.
func Strongest(chs []Challenge) (Challenge, bool) {
	best := -1
	for i, ch := range chs {
		if ch.Algorithm.Strength() == 0 {
			continue
		}
		if best < 0 || ch.Algorithm.Strength() > chs[best].Algorithm.Strength() {
			best = i
		}
	}
	if best < 0 {
		return Challenge{}, false
	}
	return chs[best], true
}

// SupportsQOP reports whether the challenge offers q.
func (ch Challenge) SupportsQOP(q QOP) bool { return slices.Contains(ch.QOP, q) }

// AppendTo appends the challenge in its wire form (the header field value,
// without the name) to dst. The algorithm is always written; stale and
// userhash only when true.
func (ch Challenge) AppendTo(dst []byte) []byte {
	dst = append(dst, "Digest "...)
	dst = appendParam(dst, "realm", ch.Realm, true)
	if ch.Domain != "" {
		dst = appendParam(dst, "domain", ch.Domain, true)
	}
	dst = appendParam(dst, "nonce", ch.Nonce, true)
	if ch.Opaque != "" {
		dst = appendParam(dst, "opaque", ch.Opaque, true)
	}
	if ch.Stale {
		dst = append(dst, ", stale=true"...)
	}
	dst = append(dst, ", algorithm="...)
	dst = append(dst, ch.Algorithm.String()...)
	if len(ch.QOP) > 0 {
		dst = append(dst, ", qop="...)
		var list strings.Builder
		for i, q := range ch.QOP {
			if i > 0 {
				list.WriteByte(',')
			}
			list.WriteString(string(q))
		}
		dst = appendQuoted(dst, list.String())
	}
	if ch.Charset != "" {
		dst = appendParam(dst, "charset", ch.Charset, false)
	}
	if ch.Userhash {
		dst = append(dst, ", userhash=true"...)
	}
	for _, p := range ch.Params {
		dst = appendParam(dst, p.Name, p.Value, p.Quoted)
	}
	return dst
}

// String returns the challenge's wire form, as [Challenge.AppendTo].
func (ch Challenge) String() string { return string(ch.AppendTo(nil)) }
