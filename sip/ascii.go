package sip

// Character classes of RFC 3261 §25.1, as lookup tables.

const (
	clToken    = 1 << iota // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
	clParamVal             // gen-value of a header parameter: token chars plus ":" "[" "]" (an IPv6 host, RFC 5118 §4.5)
	clUnres                // unreserved: alphanum / mark
	clUserUnr              // user-unreserved: & = + $ , ; ? /, and unreserved
	clParamUnr             // param-unreserved: [ ] / : & + $, and unreserved
	clHnvUnr               // hnv-unreserved: [ ] / ? : + $, and unreserved
	clPassword             // & = + $ , and unreserved
	clHost                 // hostname and IPv4 characters: alphanum / "-" / "." / "_"
)

var charClass = func() (t [256]uint8) {
	set := func(chars string, c uint8) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= c
		}
	}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	// The URI classes include the unreserved characters, which every
	// URI part allows.
	const unres = clUnres | clUserUnr | clParamUnr | clHnvUnr | clPassword
	set(alnum, clToken|clParamVal|unres)
	set("-.!%*_+`'~", clToken|clParamVal)
	set(":[]", clParamVal)
	set("-_.!~*'()", unres)
	set("&=+$,;?/", clUserUnr)
	set("[]/:&+$", clParamUnr)
	set("[]/?:+$", clHnvUnr)
	set("&=+$,", clPassword)
	set(alnum+"-._", clHost)
	return t
}()

func isToken(c byte) bool { return charClass[c]&clToken != 0 }

// span returns the index of the first byte of s from i on that is not of
// class cls, or len(s). It tests four bytes at a time while they all
// pass, for the runs of ten to forty bytes of hosts and parameter values.
func span(s string, i int, cls uint8) int {
	for ; i >= 0 && i < len(s)-3; i += 4 {
		if charClass[s[i]]&charClass[s[i+1]]&charClass[s[i+2]]&charClass[s[i+3]]&cls == 0 {
			break
		}
	}
	for uint(i) < uint(len(s)) && charClass[s[i]]&cls != 0 {
		i++
	}
	return i
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWS and isLWS test the common case, a byte above ' ', with one compare.
func isWS(c byte) bool  { return c <= ' ' && (c == ' ' || c == '\t') }
func isLWS(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n') }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether ASCII strings a and b are equal ignoring case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

func allToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// trimLWS removes leading and trailing spaces, tabs, CRs and LFs.
func trimLWS(s string) string {
	for len(s) > 0 && isLWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isLWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func skipLWS(s string, i int) int {
	for i < len(s) && isLWS(s[i]) {
		i++
	}
	return i
}

// portAt reads the run of digits that starts at s[i] as a port: end is
// where the run ends, and ok is false unless it is one to 40 digits
// (parseUint's bound) of value at most 65535.
func portAt(s string, i int) (port, end int, ok bool) {
	n, j := 0, i
	for uint(j) < uint(len(s)) && isDigit(s[j]) {
		n = min(n*10+int(s[j]-'0'), 1<<16) // saturated: no overflow
		j++
	}
	return n, j, j > i && j-i <= 40 && n < 1<<16
}

// parseUint parses a run of decimal digits that must fit in max.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 40 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}
