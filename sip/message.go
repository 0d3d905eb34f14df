package sip

import (
	"strconv"
	"strings"
)

// Message is a SIP request (*Request) or response (*Response).
//
// A message is safe for concurrent reads. Mutations (Add, Set, SetBody,
// field assignments) must not race with anything else, as with any Go
// value. Do not copy a Request or Response by value; use Clone.
type Message interface {
	// CallID returns the Call-ID value, or "" when absent.
	CallID() string
	// CSeq returns the parsed CSeq header.
	CSeq() (CSeq, error)
	// TopVia returns the first Via value.
	TopVia() (Via, error)
	// From returns the From address.
	From() (Address, error)
	// To returns the To address.
	To() (Address, error)
	// Body returns the body. The caller must not modify it; use SetBody.
	Body() []byte
	// AppendTo appends the wire form to dst and returns the extended slice.
	AppendTo(dst []byte) []byte
	// String returns the wire form.
	String() string

	// Header returns the value of the first header line with the given
	// name (any case, compact or full form), or "".
	Header(name string) string
	// Values returns every value of the named header, across lines, split
	// on list commas for headers whose grammar is a list.
	Values(name string) []string
	// HasToken reports whether any line of the named header, a comma list
	// of tokens (Allow, Supported, Require, Proxy-Require, Unsupported),
	// lists token, compared without regard to case. It allocates nothing.
	HasToken(name, token string) bool
	// Headers returns a copy of the header lines in order.
	Headers() []Header
	// Add appends a header line.
	Add(name, value string)
	// Prepend inserts a header line before the first line of that name,
	// or first of all when there is none (Via, Record-Route).
	Prepend(name, value string)
	// Set replaces every line of the named header with one line.
	Set(name, value string)
	// Del removes every line of the named header.
	Del(name string)
	// SetBody replaces the body and its Content-Type ("" removes the
	// Content-Type). Content-Length always follows the body.
	SetBody(body []byte, contentType string)

	// base gives the shared parts; it also closes the interface to this
	// package's types.
	base() *msg
}

// CSeq is the CSeq header (RFC 3261 §20.16).
type CSeq struct {
	Seq    uint32
	Method Method
}

// String returns "seq METHOD".
func (c CSeq) String() string {
	if s := cachedCSeq(c); s != "" {
		return s
	}
	var buf [48]byte
	return string(c.AppendTo(buf[:0]))
}

// cseqCached is the count of sequence numbers (1 up to it) whose CSeq
// values with the methods of cseqMethods are made once: a call's requests
// mostly start at 1 and stay low, so building them costs no allocation.
const cseqCached = 8

// cseqMethods are the methods whose low CSeq values are made once.
var cseqMethods = [...]Method{INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO}

// cseqValues[i][n-1] is the CSeq value n of cseqMethods[i].
var cseqValues = func() (v [len(cseqMethods)][cseqCached]string) {
	for i, m := range cseqMethods {
		for n := range cseqCached {
			v[i][n] = string(CSeq{Seq: uint32(n + 1), Method: m}.AppendTo(nil))
		}
	}
	return v
}()

// cachedCSeq returns c's value when it is one made once, else "".
func cachedCSeq(c CSeq) string {
	if c.Seq == 0 || c.Seq > cseqCached {
		return ""
	}
	for i, m := range cseqMethods {
		if m == c.Method {
			return cseqValues[i][c.Seq-1]
		}
	}
	return ""
}

// AppendTo appends "seq METHOD" to dst.
func (c CSeq) AppendTo(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(c.Seq), 10)
	dst = append(dst, ' ')
	return append(dst, c.Method...)
}

// ParseCSeq parses a CSeq value.
func ParseCSeq(s string) (CSeq, error) {
	s = trimLWS(s)
	i := 0
	var n uint64
	for i < len(s) && isDigit(s[i]) {
		n = n*10 + uint64(s[i]-'0')
		if i++; n > 1<<32-1 {
			break
		}
	}
	if i == 0 || n > 1<<32-1 {
		return CSeq{}, malformed("CSeq", -1, "sequence number missing or above 2**32-1")
	}
	j := skipLWS(s, i)
	if j == i || j == len(s) || !allToken(s[j:]) {
		return CSeq{}, malformed("CSeq", -1, "bad method")
	}
	return CSeq{Seq: uint32(n), Method: internMethod(s[j:])}, nil
}

// cache bits: typed views kept in step with the header list.
const (
	cVia uint8 = 1 << iota
	cFrom
	cTo
	cCSeq
)

// msg holds what requests and responses share: the header list, the body
// and the typed views of the headers every layer reads.
type msg struct {
	hdrs []Header
	body []byte

	have   uint8 // cache bits set: the view parsed without error
	callID string
	via    Via
	from   Address
	to     Address
	cseq   CSeq
}

func (m *msg) base() *msg { return m }

// Headers returns a copy of the header lines in order. Edit headers with
// Add, Set, Del and Prepend.
func (m *msg) Headers() []Header { return append([]Header(nil), m.hdrs...) }

// Grow makes room for n more header lines, so a caller building a message
// line by line (Add, Set) grows the list once.
func (m *msg) Grow(n int) {
	if n > 0 && cap(m.hdrs)-len(m.hdrs) < n {
		m.hdrs = append(make([]Header, 0, len(m.hdrs)+n), m.hdrs...)
	}
}

// CallID returns the first Call-ID value, or "".
func (m *msg) CallID() string { return m.callID }

// Body returns the body; do not modify it.
func (m *msg) Body() []byte { return m.body }

func missing(part string) error {
	return &ParseError{Part: part, Offset: -1, Reason: "header missing or malformed", Err: ErrNoHeader}
}

// TopVia returns the first Via value.
func (m *msg) TopVia() (Via, error) {
	if m.have&cVia == 0 {
		return Via{}, m.viewError(hVia, "Via")
	}
	return m.via, nil
}

// From returns the From address.
func (m *msg) From() (Address, error) {
	if m.have&cFrom == 0 {
		return Address{}, m.viewError(hFrom, "From")
	}
	return m.from, nil
}

// To returns the To address.
func (m *msg) To() (Address, error) {
	if m.have&cTo == 0 {
		return Address{}, m.viewError(hTo, "To")
	}
	return m.to, nil
}

// CSeq returns the CSeq header.
func (m *msg) CSeq() (CSeq, error) {
	if m.have&cCSeq == 0 {
		return CSeq{}, m.viewError(hCSeq, "CSeq")
	}
	return m.cseq, nil
}

// viewError explains why a typed view is missing: the header is absent
// (ErrNoHeader) or does not parse (ErrMalformed).
func (m *msg) viewError(k hkind, part string) error {
	h := m.first(k)
	if h == nil {
		return missing(part)
	}
	_, err := parseView(k, h.Value)
	if err == nil {
		return missing(part)
	}
	return err
}

// parseView parses the first value of a core header.
func parseView(k hkind, value string) (any, error) {
	switch k {
	case hVia:
		v, _ := nextValue(value, 0)
		return ParseVia(v)
	case hFrom, hTo:
		return ParseAddress(value)
	case hCSeq:
		return ParseCSeq(value)
	}
	return nil, nil
}

// refresh re-derives the typed view of kind k from the header list.
func (m *msg) refresh(k hkind) {
	h := m.first(k)
	switch k {
	case hCallID:
		m.callID = ""
		if h != nil {
			m.callID = h.Value
		}
		return
	case hVia:
		m.have &^= cVia
		m.via = Via{}
		if h != nil {
			v, _ := nextValue(h.Value, 0)
			if m.via.parse(v) == nil {
				m.have |= cVia
			}
		}
	case hFrom, hTo:
		bit, a := cFrom, &m.from
		if k == hTo {
			bit, a = cTo, &m.to
		}
		m.have &^= bit
		*a = Address{}
		if h != nil {
			if rest, err := a.parse(h.Value, false); err == nil && trimLWS(rest) == "" {
				m.have |= bit
			}
		}
	case hCSeq:
		m.have &^= cCSeq
		m.cseq = CSeq{}
		if h != nil {
			if c, err := ParseCSeq(h.Value); err == nil {
				m.cseq, m.have = c, m.have|cCSeq
			}
		}
	}
}

func (m *msg) first(k hkind) *Header {
	for i := range m.hdrs {
		if m.hdrs[i].kind == k {
			return &m.hdrs[i]
		}
	}
	return nil
}

func matches(h *Header, k hkind, name string) bool {
	if k != hOther {
		return h.kind == k
	}
	return h.kind == hOther && equalFold(h.Name, name)
}

// Header returns the value of the first line of the named header, or "".
func (m *msg) Header(name string) string {
	k := kindOf(name)
	for i := range m.hdrs {
		if matches(&m.hdrs[i], k, name) {
			return m.hdrs[i].Value
		}
	}
	return ""
}

// Values returns all values of the named header across its lines; list
// headers are split on their separating commas. The authentication
// headers (WWW-Authenticate, Authorization, …) are never split.
func (m *msg) Values(name string) []string { return m.AppendValues(nil, name) }

// AppendValues appends what Values returns to dst and returns the
// extended slice; the values point into the message, so with room in dst
// (a buffer on the caller's stack) it allocates nothing. It is the
// allocation-free way to read Allow, Supported, Require, Authorization
// and the other headers that have no typed view of their own.
func (m *msg) AppendValues(dst []string, name string) []string {
	k := kindOf(name)
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if !matches(h, k, name) {
			continue
		}
		if !k.isMulti() {
			dst = append(dst, h.Value)
			continue
		}
		for j := 0; j < len(h.Value); {
			var v string
			v, j = nextValue(h.Value, j)
			if v != "" {
				dst = append(dst, v)
			}
		}
	}
	return dst
}

// HasToken reports whether a line of the named header lists token.
func (m *msg) HasToken(name, token string) bool {
	k := kindOf(name)
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if !matches(h, k, name) {
			continue
		}
		for rest := h.Value; rest != ""; {
			v := rest
			if i := strings.IndexByte(rest, ','); i >= 0 {
				v, rest = rest[:i], rest[i+1:]
			} else {
				rest = ""
			}
			if equalFold(trimLWS(v), token) {
				return true
			}
		}
	}
	return false
}

func newHeader(name, value string) Header {
	k := kindOf(name)
	if k != hOther {
		name = canonicalNames[k]
	}
	return Header{Name: name, Value: value, kind: k}
}

// Add appends a header line.
func (m *msg) Add(name, value string) {
	h := newHeader(name, value)
	m.hdrs = append(m.hdrs, h)
	m.refresh(h.kind)
}

// Prepend inserts a header line before the first line of the same header,
// or at the top when there is none.
func (m *msg) Prepend(name, value string) {
	h := newHeader(name, value)
	at := 0
	for i := range m.hdrs {
		if matches(&m.hdrs[i], h.kind, name) {
			at = i
			break
		}
	}
	m.hdrs = append(m.hdrs, Header{})
	copy(m.hdrs[at+1:], m.hdrs[at:])
	m.hdrs[at] = h
	m.refresh(h.kind)
}

// Set replaces every line of the named header with one line holding value,
// at the position of the first; when there is none, it inserts the line
// where RFC 3261's examples put that header.
func (m *msg) Set(name, value string) {
	h := newHeader(name, value)
	out := m.hdrs[:0]
	done := false
	for i := range m.hdrs {
		if matches(&m.hdrs[i], h.kind, name) {
			if !done {
				out = append(out, h)
				done = true
			}
			continue
		}
		out = append(out, m.hdrs[i])
	}
	clear(m.hdrs[len(out):])
	m.hdrs = out
	if !done {
		m.insert(h)
	}
	m.refresh(h.kind)
}

// rank orders headers the way RFC 3261's examples write them, so built
// messages read in the usual order: Via, Route, Max-Forwards, To, From,
// Call-ID, CSeq, Contact, the rest, Content-Type, Content-Length.
func (k hkind) rank() int {
	switch k {
	case hVia:
		return 1
	case hRoute, hRecordRoute:
		return 2
	case hMaxForwards:
		return 3
	case hTo:
		return 4
	case hFrom:
		return 5
	case hCallID:
		return 6
	case hCSeq:
		return 7
	case hContact:
		return 8
	case hContentType:
		return 90
	case hContentLength:
		return 99
	}
	return 50
}

// insert puts a new header line before the first line of a later rank.
func (m *msg) insert(h Header) {
	at := len(m.hdrs)
	r := h.kind.rank()
	for i := range m.hdrs {
		if m.hdrs[i].kind.rank() > r {
			at = i
			break
		}
	}
	m.hdrs = append(m.hdrs, Header{})
	copy(m.hdrs[at+1:], m.hdrs[at:])
	m.hdrs[at] = h
}

// Del removes every line of the named header.
func (m *msg) Del(name string) {
	k := kindOf(name)
	out := m.hdrs[:0]
	for i := range m.hdrs {
		if !matches(&m.hdrs[i], k, name) {
			out = append(out, m.hdrs[i])
		}
	}
	clear(m.hdrs[len(out):])
	m.hdrs = out
	m.refresh(k)
}

// SetBody replaces the body and sets Content-Type (or removes it when
// contentType is ""). Content-Length is written from the body on output.
func (m *msg) SetBody(body []byte, contentType string) {
	m.body = body
	if contentType == "" {
		m.Del("Content-Type")
	} else {
		m.Set("Content-Type", contentType)
	}
}

// SetTopVia replaces the first Via value, keeping any further values that
// share its line (used to add received and rport, RFC 3261 §18.2.1).
func (m *msg) SetTopVia(v Via) {
	h := m.first(hVia)
	if h == nil {
		m.Prepend("Via", v.String())
		return
	}
	_, next := nextValue(h.Value, 0)
	value := v.String()
	if next < len(h.Value) {
		value += ", " + trimLWS(h.Value[next:])
	}
	h.Value, h.rawLen = value, 0
	m.refresh(hVia)
}

// SetTopViaValue is SetTopVia with the Via value already written (by
// Via.AppendTo and Params.AppendSet into a caller's buffer), so stamping
// a Via costs one allocation, the string. The value is parsed again for
// TopVia; one that does not parse leaves TopVia reporting ErrMalformed.
func (m *msg) SetTopViaValue(value string) {
	h := m.first(hVia)
	if h == nil {
		m.Prepend("Via", value)
		return
	}
	if _, next := nextValue(h.Value, 0); next < len(h.Value) {
		value += ", " + trimLWS(h.Value[next:])
	}
	h.Value, h.rawLen = value, 0
	m.refresh(hVia)
}

// PopVia removes the first Via value (a proxy forwarding a response,
// RFC 3261 §16.7).
func (m *msg) PopVia() {
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if h.kind != hVia {
			continue
		}
		_, next := nextValue(h.Value, 0)
		if rest := trimLWS(h.Value[min(next, len(h.Value)):]); rest != "" {
			h.Value, h.rawLen = rest, 0
		} else {
			m.hdrs = append(m.hdrs[:i], m.hdrs[i+1:]...)
		}
		break
	}
	m.refresh(hVia)
}

// clone deep-copies the header list and body.
// cloneRoom is how many header lines a clone has room for beyond the
// original's: a proxy adds its Via and a Record-Route to the request it
// forwards, and a UA a line or two to a request it sends again.
const cloneRoom = 2

func (m *msg) clone() msg {
	c := *m
	c.hdrs = make([]Header, len(m.hdrs), len(m.hdrs)+cloneRoom)
	copy(c.hdrs, m.hdrs)
	if m.body != nil {
		c.body = append([]byte(nil), m.body...)
	}
	return c
}

// Request is a SIP request (RFC 3261 §7.1).
type Request struct {
	// Method is the request method.
	Method Method
	// URI is the Request-URI.
	URI URI
	// Proto is the SIP version from the request line, "SIP/2.0".
	Proto string
	msg
}

// Response is a SIP response (RFC 3261 §7.2).
type Response struct {
	// StatusCode is the three-digit status code.
	StatusCode int
	// Reason is the reason phrase.
	Reason string
	// Proto is the SIP version from the status line, "SIP/2.0".
	Proto string
	msg
}

// Clone returns a deep copy of the request.
func (r *Request) Clone() *Request {
	c := &Request{Method: r.Method, URI: r.URI, Proto: r.Proto, msg: r.msg.clone()}
	return c
}

// Clone returns a deep copy of the response.
func (r *Response) Clone() *Response {
	return &Response{StatusCode: r.StatusCode, Reason: r.Reason, Proto: r.Proto, msg: r.msg.clone()}
}

// IsProvisional reports a 1xx response.
func (r *Response) IsProvisional() bool { return r.StatusCode < 200 }

// IsSuccess reports a 2xx response.
func (r *Response) IsSuccess() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// String returns the wire form.
func (r *Request) String() string { return string(r.AppendTo(nil)) }

// String returns the wire form.
func (r *Response) String() string { return string(r.AppendTo(nil)) }

// Short returns "METHOD uri" or "code reason" for logs.
func Short(m Message) string {
	switch v := m.(type) {
	case *Request:
		return string(v.Method) + " " + v.URI.String()
	case *Response:
		return strconv.Itoa(v.StatusCode) + " " + v.Reason
	}
	return ""
}
