package sip

import (
	"math/bits"
	"strings"
)

// Params is a parameter list in wire form, ";name=value;flag", as it
// follows a URI, an address or a Via value. Names compare case-insensitively;
// values are returned as written (a quoted value keeps its quotes). Params
// is a string so that parsed messages hold parameters without allocating;
// Set and Del return a new list.
type Params string

// paramAt scans the parameter starting at p[i:] (at or before its ';').
// It returns the name, the value, whether an '=' was present, the index
// after the parameter and ok=false at the end of the list. A parameter
// with an empty name is reported with ok=true and name "".
func (p Params) paramAt(i int) (name, value string, hasValue bool, next int, ok bool) {
	s := string(p)
	i = skipLWS(s, i)
	if i >= len(s) {
		return "", "", false, i, false
	}
	if s[i] == ';' {
		i = skipLWS(s, i+1)
	}
	start := i
	for i < len(s) && s[i] != '=' && s[i] != ';' && !isLWS(s[i]) {
		i++
	}
	name = s[start:i]
	i = skipLWS(s, i)
	if i < len(s) && s[i] == '=' {
		hasValue = true
		i = skipLWS(s, i+1)
		vstart := i
		if i < len(s) && s[i] == '"' {
			i = skipQuoted(s, i)
		}
		for i < len(s) && s[i] != ';' {
			i++
		}
		value = trimLWS(s[vstart:i])
	}
	return name, value, hasValue, i, true
}

// skipQuoted returns the index after the quoted string that starts at
// s[i] == '"', or len(s) if it is not closed.
func skipQuoted(s string, i int) int {
	end, _ := quotedEnd(s, i)
	return end
}

// quotedEnd returns the index after the quoted string that starts at
// s[i] == '"' and whether it was closed (len(s) and false if not).
func quotedEnd(s string, i int) (int, bool) {
	end, closed, _ := quotedSpan(s, i)
	return end, closed
}

// quotedSpan is quotedEnd that also says whether the string holds a
// quoted-pair (a backslash), which only then needs unquoting.
func quotedSpan(s string, i int) (end int, closed, escaped bool) {
	// A short string, such as a display name, is read eight bytes a time
	// for its closing '"' and any backslash before it.
	for j := i + 1; j < i+1+16 && len(s)-j >= 8; j += 8 {
		w := load64(s[j:])
		q, b := byteBits(w, swarQuotes), byteBits(w, swarBackslashes)
		if q|b == 0 {
			continue
		}
		if b == 0 || bits.TrailingZeros64(q) < bits.TrailingZeros64(b) {
			return j + bits.TrailingZeros64(q)>>3 + 1, true, false
		}
		break // a backslash first: the scan below
	}
	// Then: the first '"' with no backslash before it closes it.
	if q := strings.IndexByte(s[i+1:], '"'); q >= 0 && strings.IndexByte(s[i+1:i+1+q], '\\') < 0 {
		return i + q + 2, true, false
	}
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true, true
		}
	}
	return len(s), false, true
}

// Get returns the value of the named parameter and whether it is present.
// A flag parameter (no '=') is present with an empty value.
func (p Params) Get(name string) (string, bool) {
	if v, found, ok := p.getFast(name); ok {
		return v, found
	}
	for i := 0; ; {
		n, v, _, next, ok := p.paramAt(i)
		if !ok {
			return "", false
		}
		if equalFold(n, name) {
			return v, true
		}
		i = next
	}
}

// getFast looks a parameter up by jumping from ';' to ';', which is only
// right when no quoted value can hide a ';': ok is false when p holds a
// quote and the caller must scan parameter by parameter. Branch and tag
// lookups, which every layer makes, take this path.
func (p Params) getFast(name string) (value string, found, ok bool) {
	s := string(p)
	if strings.IndexByte(s, '"') >= 0 || name == "" {
		return "", false, false
	}
	for i := 0; i < len(s); {
		j := 0 // a list starts with ';': no search for the first
		if s[i] != ';' {
			if j = strings.IndexByte(s[i:], ';'); j < 0 {
				break
			}
		}
		i = skipLWS(s, i+j+1)
		if len(s)-i < len(name) || !equalFold(s[i:i+len(name)], name) {
			continue
		}
		k := skipLWS(s, i+len(name))
		switch {
		case k == len(s) || s[k] == ';':
			return "", true, true
		case s[k] == '=':
			k = skipLWS(s, k+1)
			end := strings.IndexByte(s[k:], ';')
			if end < 0 {
				end = len(s) - k
			}
			return trimLWS(s[k : k+end]), true, true
		}
		// A longer name that starts with this one: keep looking.
	}
	return "", false, true
}

// Value returns the named parameter's value, or "" when it is absent.
func (p Params) Value(name string) string {
	v, _ := p.Get(name)
	return v
}

// Has reports whether the named parameter is present.
func (p Params) Has(name string) bool {
	_, ok := p.Get(name)
	return ok
}

// Each calls f for every parameter in order until f returns false.
func (p Params) Each(f func(name, value string) bool) {
	for i := 0; ; {
		n, v, _, next, ok := p.paramAt(i)
		if !ok || !f(n, v) {
			return
		}
		i = next
	}
}

// Len returns the number of parameters.
func (p Params) Len() int {
	n := 0
	p.Each(func(string, string) bool { n++; return true })
	return n
}

// Set returns p with the named parameter set to value, replacing the first
// parameter of that name and dropping later ones. An empty value writes a
// flag (";lr"). value is written as given: quote it if it needs quoting.
func (p Params) Set(name, value string) Params {
	var b strings.Builder
	b.Grow(len(p) + len(name) + len(value) + 2)
	done := false
	for i := 0; ; {
		n, v, hv, next, ok := p.paramAt(i)
		if !ok {
			break
		}
		i = next
		if equalFold(n, name) {
			if done {
				continue
			}
			done = true
			n, v, hv = name, value, value != ""
		}
		writeParam(&b, n, v, hv)
	}
	if !done {
		writeParam(&b, name, value, value != "")
	}
	return Params(b.String())
}

// AppendSet appends p to dst with several parameters set, as successive
// Set calls with distinct names would leave it: pairs holds name, value,
// name, value, …; each name replaces its first parameter in place (later
// ones of that name are dropped) or is appended, in the order given, when
// p has none. An empty value writes the bare name. Writing into a
// caller's buffer lets a Via be stamped with one allocation.
func (p Params) AppendSet(dst []byte, pairs ...string) []byte {
	var done uint64 // bit k: pairs[2k] written; at most 64 pairs
	for i := 0; ; {
		n, v, hv, next, ok := p.paramAt(i)
		if !ok {
			break
		}
		i = next
		k := findPair(pairs, n)
		if k >= 0 {
			if done&(1<<k) != 0 {
				continue
			}
			done |= 1 << k
			n, v = pairs[2*k], pairs[2*k+1]
			hv = v != ""
		}
		dst = appendParam(dst, n, v, hv)
	}
	for k := 0; 2*k+1 < len(pairs) && k < 64; k++ {
		if done&(1<<k) == 0 {
			dst = appendParam(dst, pairs[2*k], pairs[2*k+1], pairs[2*k+1] != "")
		}
	}
	return dst
}

// findPair returns k with pairs[2k] equal to name without regard to case,
// or -1.
func findPair(pairs []string, name string) int {
	for k := 0; 2*k+1 < len(pairs) && k < 64; k++ {
		if equalFold(pairs[2*k], name) {
			return k
		}
	}
	return -1
}

func appendParam(dst []byte, name, value string, hasValue bool) []byte {
	dst = append(dst, ';')
	dst = append(dst, name...)
	if hasValue {
		dst = append(dst, '=')
		dst = append(dst, value...)
	}
	return dst
}

// Del returns p without the named parameter.
func (p Params) Del(name string) Params {
	if !p.Has(name) {
		return p
	}
	var b strings.Builder
	for i := 0; ; {
		n, v, hv, next, ok := p.paramAt(i)
		if !ok {
			break
		}
		i = next
		if !equalFold(n, name) {
			writeParam(&b, n, v, hv)
		}
	}
	return Params(b.String())
}

func writeParam(b *strings.Builder, name, value string, hasValue bool) {
	b.WriteByte(';')
	b.WriteString(name)
	if hasValue {
		b.WriteByte('=')
		b.WriteString(value)
	}
}

// validate checks a whole parameter list; see scanParams.
func (p Params) validate(part string) error {
	s := string(p)
	end, err := scanParams(s, skipLWS(s, 0), false, part)
	if err == nil && end != len(s) {
		err = malformed(part, -1, "junk after parameters")
	}
	return err
}

// scanParams checks the parameter list that starts at s[i] == ';' in one
// pass and returns where it ends: at the end of s, or at a comma between
// list elements when list is set. Every parameter must have a token name;
// a value must be a token, a quoted string or a host (IPv6 with or without
// brackets, RFC 5118 §4.5). LWS is allowed around ';' and '='.
func scanParams(s string, i int, list bool, part string) (int, error) {
	for i < len(s) {
		if s[i] != ';' {
			if list && s[i] == ',' {
				return i, nil
			}
			return i, malformed(part, -1, "expected ';' between parameters")
		}
		i = skipLWS(s, i+1)
		start := i
		if i = span(s, i, clToken); i == start {
			return i, malformed(part, -1, "empty or invalid parameter name")
		}
		i = skipLWS(s, i)
		if i < len(s) && s[i] == '=' {
			i = skipLWS(s, i+1)
			if i < len(s) && s[i] == '"' {
				end, closed := quotedEnd(s, i)
				if !closed {
					return end, malformed(part, -1, "unterminated quoted parameter value")
				}
				i = end
			} else {
				vstart := i
				if i = span(s, i, clParamVal); i == vstart {
					return i, malformed(part, -1, "parameter has '=' but no value")
				}
			}
			i = skipLWS(s, i)
		}
	}
	return i, nil
}
