package sip

import (
	"strconv"
	"strings"
)

// Address is a name-addr or addr-spec with header parameters, as in From,
// To, Contact, Route, Record-Route, Reply-To, Refer-To (RFC 3261 §20.10,
// §25.1).
type Address struct {
	// Display is the display name with quotes removed and quoted-pairs
	// resolved; "" when there is none.
	Display string
	// URI is the address's URI.
	URI URI
	// Params are the header parameters after the address: tag, expires, q…
	Params Params
	// Wildcard is set for the Contact value "*" (RFC 3261 §10.2.2); the
	// other fields are then empty.
	Wildcard bool
}

// Tag returns the tag parameter (From, To), or "".
func (a *Address) Tag() string { return a.Params.Value("tag") }

// Expires returns the expires parameter of a Contact and whether it is
// present and a valid number.
func (a *Address) Expires() (uint32, bool) {
	v, ok := a.Params.Get("expires")
	if !ok {
		return 0, false
	}
	n, ok := parseUint(v, 1<<32-1)
	return uint32(n), ok
}

// Q returns the q parameter (0..1) of a Contact, or 1 when it is absent or
// invalid (RFC 3261 §20.10: higher is preferred; absent is treated as 1 by
// most registrars and redirect handling).
func (a *Address) Q() float64 {
	v, ok := a.Params.Get("q")
	if !ok {
		return 1
	}
	q, err := strconv.ParseFloat(v, 64)
	if err != nil || q < 0 || q > 1 {
		return 1
	}
	return q
}

// ParseAddress parses one name-addr or addr-spec with its parameters.
func ParseAddress(s string) (Address, error) {
	var a Address
	rest, err := a.parse(s, false)
	if err != nil {
		return a, err
	}
	if trimLWS(rest) != "" {
		return a, malformed("address", -1, "junk after address")
	}
	return a, nil
}

// parse reads one address from s. With list set, it stops at a comma that
// separates list elements and returns the rest starting at that comma.
func (a *Address) parse(s string, list bool) (rest string, err error) {
	i := skipLWS(s, 0)
	if i == len(s) {
		return "", malformed("address", -1, "empty address")
	}
	var uriText string
	switch {
	case s[i] == '*':
		j := skipLWS(s, i+1)
		if j == len(s) || s[j] == ',' {
			a.Wildcard = true
			return s[j:], nil
		}
		return "", malformed("address", -1, "junk after *")
	case s[i] == '"':
		end, closed, escaped := quotedSpan(s, i)
		if !closed {
			return "", malformed("address", -1, "unterminated quoted display name")
		}
		if a.Display = s[i+1 : end-1]; escaped {
			a.Display = unquote(s[i:end])
		}
		i = skipLWS(s, end)
		if i == len(s) || s[i] != '<' {
			return "", malformed("address", -1, "display name without <URI>")
		}
		fallthrough
	case s[i] == '<' || strings.IndexByte(s[i:], '<') >= 0 && !looksLikeAddrSpec(s[i:]):
		if s[i] != '<' {
			lt := i + strings.IndexByte(s[i:], '<')
			disp, err := tokenDisplay(s[i:lt])
			if err != nil {
				return "", err
			}
			a.Display = disp
			i = lt
		}
		gt := strings.IndexByte(s[i:], '>')
		if gt < 0 {
			return "", malformed("address", -1, "missing '>'")
		}
		uriText = s[i+1 : i+gt]
		i += gt + 1
		if uriText == "" || isLWS(uriText[0]) || isLWS(uriText[len(uriText)-1]) {
			return "", malformed("address", -1, "whitespace inside < >")
		}
	default:
		// addr-spec: the URI ends at the first ';' (the rest are header
		// parameters, §20.10), whitespace, or a list comma.
		j := i
		for j < len(s) && s[j] != ';' && !isLWS(s[j]) && (!list || s[j] != ',') {
			j++
		}
		uriText = s[i:j]
		i = j
	}
	if err := a.URI.parse(uriText); err != nil {
		return "", err
	}
	// Header parameters run to the end or, in a list, to a comma.
	j := skipLWS(s, i)
	if j < len(s) && s[j] == ';' {
		end, err := scanParams(s, j, list, "address")
		if err != nil {
			return "", err
		}
		a.Params = Params(trimLWS(s[j:end]))
		j = end
	}
	return s[j:], nil
}

// looksLikeAddrSpec reports whether s starts with "scheme:" before any '<',
// i.e. a bare URI whose parameters or headers happen to contain '<'.
func looksLikeAddrSpec(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' {
			return i > 0
		}
		if !isAlpha(c) && !(i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return false
}

// tokenDisplay checks an unquoted display name, *(token LWS), and returns
// it with runs of whitespace reduced to one space.
func tokenDisplay(s string) (string, error) {
	s = trimLWS(s)
	single := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLWS(c) {
			if c != ' ' || isLWS(s[i+1]) {
				single = false
			}
			continue
		}
		if !isToken(c) {
			return "", malformed("address", -1, "invalid character in display name")
		}
	}
	if single {
		return s, nil
	}
	return strings.Join(strings.Fields(s), " "), nil
}

// unquote removes the quotes of a quoted-string and resolves quoted-pairs.
func unquote(q string) string {
	s := q[1 : len(q)-1]
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// appendQuoted appends s as a quoted-string, escaping '"' and '\'.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// AppendTo appends the address in name-addr form: the display name quoted
// when it has one, the URI always in < > (which §20.10 requires whenever
// the URI has ';', ',' or '?', and which is always allowed), then the
// parameters.
func (a *Address) AppendTo(dst []byte) []byte {
	if a.Wildcard {
		return append(dst, '*')
	}
	if a.Display != "" {
		dst = appendQuoted(dst, a.Display)
		dst = append(dst, ' ')
	}
	dst = append(dst, '<')
	dst = a.URI.AppendTo(dst)
	dst = append(dst, '>')
	return append(dst, a.Params...)
}

// String returns the address's wire form.
func (a Address) String() string {
	var buf [160]byte
	return string(a.AppendTo(buf[:0]))
}

// parseAddressList parses a comma-separated list of addresses (Contact,
// Route, Record-Route), appending to dst.
func parseAddressList(dst []Address, s string) ([]Address, error) {
	for {
		var a Address
		rest, err := a.parse(s, true)
		if err != nil {
			return dst, err
		}
		dst = append(dst, a)
		rest = trimLWS(rest)
		if rest == "" {
			return dst, nil
		}
		if rest[0] != ',' {
			return dst, malformed("address", -1, "junk after address")
		}
		s = rest[1:]
	}
}

// validateAddressList checks a list without keeping the values.
func validateAddressList(s string) error {
	for {
		var a Address
		rest, err := a.parse(s, true)
		if err != nil {
			return err
		}
		rest = trimLWS(rest)
		if rest == "" {
			return nil
		}
		if rest[0] != ',' {
			return malformed("address", -1, "junk after address")
		}
		s = rest[1:]
	}
}
