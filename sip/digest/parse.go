package digest

import (
	"strings"
)

// Limits applied while parsing header values. A SIP message is already
// bounded by the transport's size limits; these keep one header value from
// producing unbounded work.
const (
	// MaxParams is the largest number of auth-params accepted in one
	// challenge or credentials value.
	MaxParams = 64
	// MaxQOPOptions is the largest number of entries accepted in a
	// challenge's qop list.
	MaxQOPOptions = 16
)

// Param is an auth-param this package does not interpret, kept in order so
// that it can be written back (RFC 7616 §3.3: unknown parameters are ignored,
// not dropped from the model).
type Param struct {
	Name   string // lower case
	Value  string // unquoted, escapes removed
	Quoted bool   // the value was, or must be written as, a quoted-string
}

// rawParam is one parsed auth-param.
type rawParam struct {
	name   string // lower-cased
	value  string
	quoted bool
	off    int // offset of the name in the header value
}

// isTokenChar reports whether c may appear in a token. This is the union of
// RFC 3261 §25.1 token and RFC 9110 §5.6.2 tchar: lenient in.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~#$&^|", c) >= 0
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipLWS(s string, i int) int {
	for i < len(s) && isLWS(s[i]) {
		i++
	}
	return i
}

func malformed(off int, reason string) error {
	return &ParseError{Offset: off, Reason: reason, Err: ErrMalformed}
}

// equalFold compares ASCII strings case-insensitively without allocating.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lower returns s with ASCII letters in lower case, other bytes unchanged,
// without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// parseDigest splits a Digest challenge or credentials value (RFC 3261
// §25.1 "challenge", "credentials"; RFC 7235 §2.1) into its auth-params:
//
//	"Digest" LWS param *(COMMA param)
//	param = token EQUAL (token / quoted-string)
//
// Whitespace (SP, HTAB, CR, LF: folded lines) is allowed around "," and
// "=", and empty list elements are skipped (RFC 9110 §5.6.1). Unquoted
// values are read up to the next comma or whitespace, which accepts the
// unquoted base64 nonces some servers send. Quoted strings take backslash
// escapes (quoted-pair). Parameter names are unique, compared
// case-insensitively.
func parseDigest(s string) ([]rawParam, error) {
	i := skipLWS(s, 0)
	start := i
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	if i == start {
		return nil, malformed(start, "expected an authentication scheme")
	}
	if !equalFold(s[start:i], "Digest") {
		return nil, &ParseError{Offset: start, Reason: "scheme " + s[start:i], Err: ErrUnsupportedScheme}
	}
	if i < len(s) && !isLWS(s[i]) {
		return nil, malformed(i, "expected whitespace after the scheme")
	}
	params := make([]rawParam, 0, 8)
	for {
		// Skip separators: LWS and empty list elements.
		for i < len(s) && (isLWS(s[i]) || s[i] == ',') {
			i++
		}
		if i == len(s) {
			return params, nil
		}
		if len(params) == MaxParams {
			return nil, malformed(i, "too many parameters")
		}
		p := rawParam{off: i}
		ns := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		if i == ns {
			return nil, malformed(i, "expected a parameter name")
		}
		p.name = lower(s[ns:i])
		i = skipLWS(s, i)
		if i == len(s) || s[i] != '=' {
			return nil, malformed(i, "expected '=' after "+p.name)
		}
		i = skipLWS(s, i+1)
		if i < len(s) && s[i] == '"' {
			v, n, err := unquote(s, i)
			if err != nil {
				return nil, err
			}
			p.value, p.quoted, i = v, true, n
		} else {
			vs := i
			for i < len(s) && s[i] != ',' && s[i] != '"' && !isLWS(s[i]) {
				i++
			}
			if i == vs {
				return nil, malformed(i, "expected a value for "+p.name)
			}
			p.value = s[vs:i]
		}
		for _, q := range params {
			if q.name == p.name {
				return nil, malformed(p.off, "duplicate parameter "+p.name)
			}
		}
		params = append(params, p)
		i = skipLWS(s, i)
		if i < len(s) && s[i] != ',' {
			return nil, malformed(i, "expected ',' after "+p.name)
		}
	}
}

// unquote reads the quoted-string that starts at s[i] == '"' and returns
// its content with quoted-pairs resolved and the offset after the closing
// quote. The result aliases s when it holds no escapes.
func unquote(s string, i int) (string, int, error) {
	start := i + 1
	j := start
	for j < len(s) && s[j] != '"' && s[j] != '\\' {
		j++
	}
	if j < len(s) && s[j] == '"' {
		return s[start:j], j + 1, nil
	}
	var b strings.Builder
	b.WriteString(s[start:j])
	for j < len(s) {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1, nil
		case '\\':
			if j+1 == len(s) {
				return "", 0, malformed(j, "backslash at end of value")
			}
			b.WriteByte(s[j+1])
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, malformed(i, "unterminated quoted-string")
}

// appendQuoted appends v as a quoted-string, escaping '"' and '\'.
func appendQuoted(dst []byte, v string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, v[i])
	}
	return append(dst, '"')
}

// canBeBare reports whether v can be written unquoted and read back as the
// same value by parseDigest.
func canBeBare(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == ',' || c == '"' || isLWS(c) {
			return false
		}
	}
	return true
}

// appendParam appends `, name=value` (`Digest name=value` for the first
// parameter), quoting when asked or needed.
func appendParam(dst []byte, name, value string, quoted bool) []byte {
	if n := len(dst); n == 0 || dst[n-1] != ' ' { // not right after "Digest "
		dst = append(dst, ", "...)
	}
	dst = append(dst, name...)
	dst = append(dst, '=')
	if quoted || !canBeBare(value) {
		return appendQuoted(dst, value)
	}
	return append(dst, value...)
}

// toParam converts a parameter the caller does not interpret into a Param.
func toParam(p rawParam) Param { return Param{Name: p.name, Value: p.value, Quoted: p.quoted} }

// isTrue reports whether a stale or userhash value is "true" (RFC 7616
// §3.3: case-insensitive; anything else is false).
func isTrue(v string) bool { return equalFold(v, "true") }
