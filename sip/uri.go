package sip

import (
	"net/netip"
	"strconv"
	"strings"
)

// URI is a SIP, SIPS or tel URI, or any other absolute URI kept as opaque
// text (RFC 3261 §19.1, RFC 3966, RFC 5118).
//
// The text fields hold the URI's parts as written on the wire, escapes
// included, so a parsed URI is written back unchanged; Username and
// Unescape give the decoded forms.
type URI struct {
	// Scheme is "sip", "sips", "tel", or another scheme in lower case.
	Scheme string
	// User is the user part of a sip/sips URI, still %-escaped; for tel
	// it is the telephone-subscriber number without parameters.
	User string
	// Password is the password of a sip/sips userinfo, still escaped.
	Password string
	// Host is a hostname, an IPv4 address or an IPv6 reference in
	// brackets ("[2001:db8::1]").
	Host string
	// Port is the port, or 0 when the URI has none.
	Port int
	// Params are the URI parameters (";transport=tcp;lr").
	Params Params
	// Headers are the URI headers after '?', still escaped ("Subject=x&h=y").
	Headers string
	// Opaque is everything after "scheme:" for schemes other than sip,
	// sips and tel.
	Opaque string
}

// IsSIP reports whether the URI is a sip or sips URI.
func (u *URI) IsSIP() bool { return u.Scheme == "sip" || u.Scheme == "sips" }

// Username returns the user part with %-escapes decoded.
func (u *URI) Username() string {
	s, err := Unescape(u.User)
	if err != nil {
		return u.User
	}
	return s
}

// Hostname returns Host without IPv6 brackets, for dialing.
func (u *URI) Hostname() string { return strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]") }

// HostPort returns "host:port" or "host" when the URI has no port.
func (u *URI) HostPort() string {
	if u.Port == 0 {
		return u.Host
	}
	return u.Host + ":" + strconv.Itoa(u.Port)
}

// ParseURI parses an absolute URI: sip, sips and tel URIs into their parts,
// any other scheme as opaque text.
func ParseURI(s string) (URI, error) {
	var u URI
	err := u.parse(s)
	return u, err
}

func (u *URI) parse(s string) error {
	if len(s) >= 4 && load32(s)|0x00202020 == sipColon {
		// "sip:" in any case, the scheme of nearly every URI parsed.
		u.Scheme = "sip"
		return u.parseSIP(s[4:])
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return malformed("URI", -1, "no scheme")
	}
	scheme, rest := s[:colon], s[colon+1:]
	switch {
	case equalFold(scheme, "sip"):
		u.Scheme = "sip"
		return u.parseSIP(rest)
	case equalFold(scheme, "sips"):
		u.Scheme = "sips"
		return u.parseSIP(rest)
	case equalFold(scheme, "tel"):
		u.Scheme = "tel"
		return u.parseTel(rest)
	}
	if !isAlpha(scheme[0]) {
		return malformed("URI", -1, "invalid scheme")
	}
	for i := 1; i < len(scheme); i++ {
		c := scheme[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return malformed("URI", -1, "invalid scheme")
		}
	}
	if rest == "" {
		return malformed("URI", -1, "empty URI after scheme")
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' {
			return malformed("URI", -1, "invalid character in URI")
		}
	}
	u.Scheme = strings.ToLower(scheme)
	u.Opaque = rest
	return nil
}

// sipColon is "sip:" as a little-endian word (see load32); the case bit
// of the three letters is set before comparing, that of ':' is not.
var sipColon = load32("sip:")

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

func isHex(c byte) bool { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

// checkChars verifies that s holds only characters of class cls (which
// includes the unreserved ones) and valid %HH escapes.
func checkChars(s string, cls uint8) bool {
	end, ok := scanChars(s, 0, cls)
	return ok && end == len(s)
}

// scanChars returns the index of the first character of s from i on
// that is neither of class cls (which includes the unreserved ones) nor
// part of a %HH escape; ok is false when it stops at a broken escape.
func scanChars(s string, i int, cls uint8) (end int, ok bool) {
	for {
		i = span(s, i, cls)
		if uint(i) >= uint(len(s)) || s[i] != '%' {
			return i, true
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return i, false
		}
		i += 3
	}
}

// scanShort is scanChars for the short runs of user parts and URI
// parameters: a byte loop, inlined, that leaves escapes to scanChars.
func scanShort(s string, i int, cls uint8) (end int, ok bool) {
	for uint(i) < uint(len(s)) && charClass[s[i]]&cls != 0 {
		i++
	}
	if uint(i) < uint(len(s)) && s[i] == '%' {
		return scanChars(s, i, cls)
	}
	return i, true
}

// parseSIP parses what follows "sip:" or "sips:" with one pass over the
// host part: userinfo "@", host, ":" port, ";" parameters, "?" headers.
func (u *URI) parseSIP(s string) error {
	// The user part may hold ';' and '?' (user-unreserved), so the '@'
	// is found first. The common "user@" is scanned once: a run of user
	// characters that ends at '@' is the whole user part, the first '@'.
	if end, ok := scanShort(s, 0, clUserUnr); ok && end > 0 && end < len(s) && s[end] == '@' {
		u.User, s = s[:end], s[end+1:]
	} else if at := strings.IndexByte(s, '@'); at >= 0 {
		userinfo := s[:at]
		s = s[at+1:]
		end, ok := scanChars(userinfo, 0, clUserUnr)
		if end == 0 || !ok || end < len(userinfo) && userinfo[end] != ':' {
			return malformed("URI", -1, "invalid user part")
		}
		if end < len(userinfo) {
			u.Password = userinfo[end+1:]
			if !checkChars(u.Password, clPassword) {
				return malformed("URI", -1, "invalid character in password")
			}
		}
		u.User = userinfo[:end]
	}
	if s == "" {
		return malformed("URI", -1, "empty host")
	}
	i := 0
	if s[0] == '[' {
		// RFC 5118 §4.3: a port inside the brackets belongs to the
		// address.
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return malformed("host", -1, "unterminated IPv6 reference")
		}
		i = end + 1
		if !validIPv6Ref(s[:i]) {
			return malformed("host", -1, "invalid IPv6 reference")
		}
	} else {
		i = span(s, 0, clHost)
		if i == 0 || i < len(s) && s[i] != ':' && s[i] != ';' && s[i] != '?' {
			return malformed("host", -1, "invalid host "+strconv.Quote(hostPart(s)))
		}
	}
	u.Host = s[:i]
	if i < len(s) && s[i] == ':' {
		p, j, ok := portAt(s, i+1)
		if !ok || j < len(s) && s[j] != ';' && s[j] != '?' {
			return malformed("host", -1, "invalid port")
		}
		u.Port, i = p, j
	} else if i < len(s) && s[i] != ';' && s[i] != '?' {
		return malformed("host", -1, "junk after host")
	}
	if i < len(s) && s[i] == ';' {
		end, err := scanURIParams(s, i)
		if err != nil {
			return err
		}
		u.Params, i = Params(s[i:end]), end
	}
	if i < len(s) {
		// Only '?' ends the parameters before the end of s.
		u.Headers = s[i+1:]
		if !checkChars(u.Headers, clHnvUnr|clPassword) {
			return malformed("URI", -1, "invalid URI headers")
		}
	}
	return nil
}

// hostPart is the host[:port] of what follows the userinfo, for errors.
func hostPart(s string) string {
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		return s[:i]
	}
	return s
}

// scanURIParams checks the uri-parameters that start at s[i] == ';' and
// returns where they end: at '?' or the end of s.
func scanURIParams(s string, i int) (int, error) {
	for i < len(s) && s[i] == ';' {
		end, ok := scanShort(s, i+1, clParamUnr)
		if !ok || end == i+1 {
			return 0, malformed("URI", -1, "invalid URI parameter")
		}
		i = end
		if i < len(s) && s[i] == '=' {
			end, ok = scanShort(s, i+1, clParamUnr)
			if !ok || end == i+1 {
				return 0, malformed("URI", -1, "invalid URI parameter value")
			}
			i = end
		}
	}
	if i < len(s) && s[i] != '?' {
		return 0, malformed("URI", -1, "invalid URI parameter")
	}
	return i, nil
}

// validIPv6Ref accepts "[" IPv6address "]", including RFC 5118 §4.10's
// tolerated three-colon form.
func validIPv6Ref(h string) bool {
	if len(h) < 4 || h[0] != '[' || h[len(h)-1] != ']' {
		return false
	}
	colons := 0
	for i := 1; i < len(h)-1; i++ {
		c := h[i]
		switch {
		case c == ':':
			colons++
		case isHex(c), c == '.':
		default:
			return false
		}
	}
	return colons >= 2
}

func (u *URI) parseTel(s string) error {
	num := s
	if semi := strings.IndexByte(s, ';'); semi >= 0 {
		num = s[:semi]
		u.Params = Params(s[semi:])
		if end, err := scanURIParams(s, semi); err != nil {
			return err
		} else if end < len(s) {
			return malformed("URI", -1, "invalid URI parameter")
		}
	}
	if num == "" {
		return malformed("URI", -1, "empty telephone number")
	}
	for i := 0; i < len(num); i++ {
		c := num[i]
		if !isHex(c) && !strings.ContainsRune("+-.()*#", rune(c)) {
			return malformed("URI", -1, "invalid telephone number")
		}
	}
	u.User = num
	return nil
}

// AppendTo appends the URI's wire form to dst.
func (u *URI) AppendTo(dst []byte) []byte {
	dst = append(dst, u.Scheme...)
	dst = append(dst, ':')
	switch u.Scheme {
	case "sip", "sips":
		if u.User != "" {
			dst = append(dst, u.User...)
			if u.Password != "" {
				dst = append(dst, ':')
				dst = append(dst, u.Password...)
			}
			dst = append(dst, '@')
		}
		dst = append(dst, u.Host...)
		if u.Port != 0 {
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, int64(u.Port), 10)
		}
	case "tel":
		dst = append(dst, u.User...)
	default:
		return append(dst, u.Opaque...)
	}
	dst = append(dst, u.Params...)
	if u.Headers != "" {
		dst = append(dst, '?')
		dst = append(dst, u.Headers...)
	}
	return dst
}

// String returns the URI's wire form.
func (u URI) String() string {
	var buf [128]byte
	return string(u.AppendTo(buf[:0]))
}

// Unescape decodes %HH escapes (RFC 3261 §19.1.2, §25.1).
func Unescape(s string) (string, error) {
	n := strings.IndexByte(s, '%')
	if n < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:n]...)
	for i := n; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", malformed("escape", i, "invalid %-escape")
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	default:
		return (c | 0x20) - 'a' + 10
	}
}

// Equal compares two URIs by the rules of RFC 3261 §19.1.4: scheme, user
// and password exactly (after unescaping), host case-insensitively, ports
// only equal when both absent or both the same; the parameters user, ttl,
// method, maddr and transport must match when either URI has them, other
// parameters only when both have them; URI headers must all match. tel
// URIs compare their numbers without visual separators (RFC 3966 §4).
func (u *URI) Equal(v *URI) bool {
	if u.Scheme != v.Scheme {
		return false
	}
	switch u.Scheme {
	case "sip", "sips":
	case "tel":
		return telDigits(u.User) == telDigits(v.User) && paramsEqual(u.Params, v.Params, nil)
	default:
		return u.Opaque == v.Opaque
	}
	if !unescapedEqual(u.User, v.User, false) || !unescapedEqual(u.Password, v.Password, false) {
		return false
	}
	if !hostEqual(u.Host, v.Host) || u.Port != v.Port {
		return false
	}
	if !paramsEqual(u.Params, v.Params, []string{"user", "ttl", "method", "maddr", "transport"}) {
		return false
	}
	return headersEqual(u.Headers, v.Headers)
}

func unescapedEqual(a, b string, fold bool) bool {
	ua, err1 := Unescape(a)
	ub, err2 := Unescape(b)
	if err1 != nil || err2 != nil {
		ua, ub = a, b
	}
	if fold {
		return strings.EqualFold(ua, ub)
	}
	return ua == ub
}

func hostEqual(a, b string) bool {
	if equalFold(a, b) {
		return true
	}
	ia, err1 := netip.ParseAddr(strings.Trim(a, "[]"))
	ib, err2 := netip.ParseAddr(strings.Trim(b, "[]"))
	return err1 == nil && err2 == nil && ia == ib
}

func telDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("-.()", r) {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// paramsEqual: parameters present in both must match; those named in must
// must be present in both or neither.
func paramsEqual(a, b Params, must []string) bool {
	for _, name := range must {
		if a.Has(name) != b.Has(name) {
			return false
		}
	}
	ok := true
	a.Each(func(n, va string) bool {
		if vb, found := b.Get(n); found && !unescapedEqual(va, vb, true) {
			ok = false
		}
		return ok
	})
	return ok
}

func headersEqual(a, b string) bool {
	if a == b {
		return true
	}
	ha, hb := splitURIHeaders(a), splitURIHeaders(b)
	if len(ha) != len(hb) {
		return false
	}
	for name, va := range ha {
		vb, ok := hb[name]
		if !ok || !unescapedEqual(va, vb, true) {
			return false
		}
	}
	return true
}

func splitURIHeaders(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, _ = Unescape(k)
		m[strings.ToLower(k)] = v
	}
	return m
}
