package sip

import (
	"strconv"
	"strings"
	"time"
)

// Typed views of headers beyond the core ones. These parse on each call;
// the core views (Via, From, To, CSeq, Call-ID) are parsed once, at Parse.

// Vias returns every Via value in order.
func (m *msg) Vias() ([]Via, error) {
	out, err := m.AppendVias(nil)
	if err == nil && out == nil {
		return nil, missing("Via")
	}
	return out, err
}

// AppendVias appends every Via value in order to dst and returns the
// extended slice. It allocates nothing when dst has room: with a buffer
// on the caller's stack (var buf [4]sip.Via; m.AppendVias(buf[:0])) the
// typed Vias cost no allocation. No Via appends nothing and is no error.
func (m *msg) AppendVias(dst []Via) ([]Via, error) {
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if h.kind != hVia {
			continue
		}
		for j := 0; j < len(h.Value); {
			var s string
			s, j = nextValue(h.Value, j)
			v, err := ParseVia(s)
			if err != nil {
				return dst, err
			}
			dst = append(dst, v)
		}
	}
	return dst, nil
}

func (m *msg) addresses(dst []Address, k hkind) ([]Address, error) {
	var err error
	for i := range m.hdrs {
		if m.hdrs[i].kind == k {
			if dst, err = parseAddressList(dst, m.hdrs[i].Value); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// Contacts returns the Contact values in order; a "*" is an Address with
// Wildcard set (RFC 3261 §10.2.2). No Contact header gives an empty list.
func (m *msg) Contacts() ([]Address, error) { return m.addresses(nil, hContact) }

// AppendContacts appends the Contact values to dst, as Contacts returns
// them, and allocates nothing when dst has room (see AppendVias).
func (m *msg) AppendContacts(dst []Address) ([]Address, error) {
	return m.addresses(dst, hContact)
}

// FirstContact returns the first Contact value without building the list:
// ok is false when the message has no Contact, and err is what Contacts
// would return for a value that does not parse (every value is checked).
// It allocates nothing.
func (m *msg) FirstContact() (a Address, ok bool, err error) {
	for i := range m.hdrs {
		if m.hdrs[i].kind != hContact {
			continue
		}
		v := m.hdrs[i].Value
		if !ok {
			rest, err := a.parse(v, true)
			if err != nil {
				return Address{}, false, err
			}
			ok = true
			if rest = trimLWS(rest); rest == "" {
				continue
			}
			if rest[0] != ',' {
				return Address{}, false, malformed("address", -1, "junk after address")
			}
			v = rest[1:]
		}
		if err := validateAddressList(v); err != nil {
			return Address{}, false, err
		}
	}
	return a, ok, nil
}

// Routes returns the Route values in order (RFC 3261 §20.34).
func (m *msg) Routes() ([]Address, error) { return m.addresses(nil, hRoute) }

// AppendRoutes appends the Route values to dst and allocates nothing when
// dst has room (see AppendVias).
func (m *msg) AppendRoutes(dst []Address) ([]Address, error) { return m.addresses(dst, hRoute) }

// RecordRoutes returns the Record-Route values in order (RFC 3261 §20.30).
func (m *msg) RecordRoutes() ([]Address, error) { return m.addresses(nil, hRecordRoute) }

// AppendRecordRoutes appends the Record-Route values to dst and allocates
// nothing when dst has room (see AppendVias).
func (m *msg) AppendRecordRoutes(dst []Address) ([]Address, error) {
	return m.addresses(dst, hRecordRoute)
}

// number parses the first line of a numeric header.
func (m *msg) number(k hkind, max uint64) (uint64, error) {
	h := m.first(k)
	if h == nil {
		return 0, missing(canonicalNames[k])
	}
	n, ok := parseUint(h.Value, max)
	if !ok {
		return 0, malformed(canonicalNames[k], -1, "not a number")
	}
	return n, nil
}

// MaxForwards returns the Max-Forwards value (RFC 3261 §20.22).
func (m *msg) MaxForwards() (int, error) {
	n, err := m.number(hMaxForwards, 1<<31-1)
	return int(n), err
}

// Expires returns the Expires header in seconds (RFC 3261 §20.19).
func (m *msg) Expires() (uint32, error) {
	n, err := m.number(hExpires, 1<<32-1)
	return uint32(n), err
}

// MinExpires returns the Min-Expires header in seconds (RFC 3261 §20.23).
func (m *msg) MinExpires() (uint32, error) {
	n, err := m.number(hMinExpires, 1<<32-1)
	return uint32(n), err
}

// ContentLength returns the length of the body, which is what AppendTo
// writes as Content-Length.
func (m *msg) ContentLength() int { return len(m.body) }

// ContentType returns the media type of the body in lower case without
// parameters ("application/sdp"), or "" when there is no Content-Type.
func (m *msg) ContentType() string {
	v := m.Header("Content-Type")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = trimLWS(v)
	if strings.ContainsAny(v, " \t") {
		v = strings.Join(strings.Fields(v), "")
	}
	return strings.ToLower(v)
}

// tokens returns the comma-separated tokens of every line of kind k.
func (m *msg) tokens(k hkind) []string {
	var out []string
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if h.kind != k {
			continue
		}
		for j := 0; j < len(h.Value); {
			var v string
			v, j = nextValue(h.Value, j)
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// Allow returns the methods listed in Allow (RFC 3261 §20.5).
func (m *msg) Allow() []string { return m.tokens(hAllow) }

// Supported returns the option tags of Supported (RFC 3261 §20.37).
func (m *msg) Supported() []string { return m.tokens(hSupported) }

// Require returns the option tags of Require (RFC 3261 §20.32).
func (m *msg) Require() []string { return m.tokens(hRequire) }

// ProxyRequire returns the option tags of Proxy-Require (RFC 3261 §20.29).
func (m *msg) ProxyRequire() []string { return m.tokens(hProxyRequire) }

// Unsupported returns the option tags of Unsupported (RFC 3261 §20.40).
func (m *msg) Unsupported() []string { return m.tokens(hUnsupported) }

// whole returns each line of kind k unsplit: the authentication headers
// hold commas inside one challenge or credential.
func (m *msg) whole(k hkind) []string {
	var out []string
	for i := range m.hdrs {
		if m.hdrs[i].kind == k {
			out = append(out, m.hdrs[i].Value)
		}
	}
	return out
}

// WWWAuthenticate returns each WWW-Authenticate challenge (RFC 3261 §20.44).
func (m *msg) WWWAuthenticate() []string { return m.whole(hWWWAuthenticate) }

// ProxyAuthenticate returns each Proxy-Authenticate challenge (§20.27).
func (m *msg) ProxyAuthenticate() []string { return m.whole(hProxyAuthenticate) }

// Authorization returns each Authorization credential (§20.7).
func (m *msg) Authorization() []string { return m.whole(hAuthorization) }

// ProxyAuthorization returns each Proxy-Authorization credential (§20.28).
func (m *msg) ProxyAuthorization() []string { return m.whole(hProxyAuthorization) }

// RetryAfter is the Retry-After header (RFC 3261 §20.33).
type RetryAfter struct {
	// Delay is the time to wait.
	Delay time.Duration
	// Comment is the optional comment in parentheses, without them.
	Comment string
	// Params are the parameters, such as duration.
	Params Params
}

// RetryAfter returns the parsed Retry-After header.
func (m *msg) RetryAfter() (RetryAfter, error) {
	h := m.first(hRetryAfter)
	if h == nil {
		return RetryAfter{}, missing("Retry-After")
	}
	return ParseRetryAfter(h.Value)
}

// ParseRetryAfter parses a Retry-After value: delta-seconds, an optional
// comment and parameters.
func ParseRetryAfter(s string) (RetryAfter, error) {
	var ra RetryAfter
	s = trimLWS(s)
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n, ok := parseUint(s[:i], 1<<32-1)
	if !ok {
		return ra, malformed("Retry-After", -1, "delta-seconds missing or too large")
	}
	ra.Delay = time.Duration(n) * time.Second
	j := skipLWS(s, i)
	if j < len(s) && s[j] == '(' {
		end := strings.LastIndexByte(s, ')')
		if end < j {
			return ra, malformed("Retry-After", -1, "unterminated comment")
		}
		ra.Comment = s[j+1 : end]
		j = skipLWS(s, end+1)
	}
	if j < len(s) {
		ra.Params = Params(s[j:])
		if err := ra.Params.validate("Retry-After"); err != nil {
			return ra, err
		}
	}
	return ra, nil
}

// Reason is one Reason header value (RFC 3326).
type Reason struct {
	// Protocol is "SIP", "Q.850" or another token.
	Protocol string
	// Cause is the cause parameter (a status code for SIP).
	Cause int
	// Text is the text parameter without quotes.
	Text string
}

// Reasons returns the parsed Reason values.
func (m *msg) Reasons() ([]Reason, error) {
	var out []Reason
	for _, v := range m.Values("Reason") {
		proto := v
		var params Params
		if i := strings.IndexByte(v, ';'); i >= 0 {
			proto, params = trimLWS(v[:i]), Params(v[i:])
		}
		if !allToken(proto) {
			return out, malformed("Reason", -1, "bad protocol")
		}
		r := Reason{Protocol: proto}
		if c, ok := params.Get("cause"); ok {
			n, err := strconv.Atoi(c)
			if err != nil {
				return out, malformed("Reason", -1, "bad cause")
			}
			r.Cause = n
		}
		if t, ok := params.Get("text"); ok {
			if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
				t = unquote(t)
			}
			r.Text = t
		}
		out = append(out, r)
	}
	return out, nil
}
