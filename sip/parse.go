package sip

import (
	"bytes"
	"unsafe"
)

// Default limits (see Limits).
const (
	DefaultMaxHeadBytes = 64 << 10
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxHeaders   = 256
)

// Limits bound what the parser and the stream reader accept. A zero field
// takes its default. A message past a limit fails with a *ParseError that
// wraps ErrMessageTooLarge.
type Limits struct {
	// MaxHeadBytes bounds the start line and header block, including the
	// empty line (default DefaultMaxHeadBytes, 64 KiB).
	MaxHeadBytes int
	// MaxBodyBytes bounds the body (default DefaultMaxBodyBytes, 1 MiB).
	MaxBodyBytes int
	// MaxHeaders bounds the number of header lines (default
	// DefaultMaxHeaders, 256).
	MaxHeaders int
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeadBytes <= 0 {
		l.MaxHeadBytes = DefaultMaxHeadBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	return l
}

// Parse parses one whole message, such as a UDP datagram, with the default
// Limits. See ParseWith.
func Parse(b []byte) (Message, error) { return ParseWith(b, Limits{}) }

// ParseWith parses one whole message under the given limits.
//
// The message aliases b: its strings (header names and values, URI parts)
// and its body point into b without copies, which is why a parse costs a
// few allocations. The caller hands b over: it must not modify or reuse b
// while the message is in use (parse a copy, bytes.Clone(b), to keep b).
// ParseWith itself writes into b only to unfold folded header lines
// (replacing the line break with spaces).
//
// It accepts what RFC 3261's grammar accepts and what deployed phones
// send: leading CRLFs, header folding, LWS around ':', any case of header
// names and compact forms, bare LF line ends. Datagram framing applies
// (RFC 3261 §18.3): without Content-Length the rest of b is the body;
// bytes after Content-Length octets of body are discarded; a shorter body
// is an error.
//
// Errors are *ParseError values wrapping ErrMalformed or
// ErrMessageTooLarge. The core headers are parsed here (Via, From, To,
// CSeq, Call-ID, Contact, Content-Length, Max-Forwards), so a message that
// parses has usable typed views; semantic checks are Validate's job.
func ParseWith(b []byte, lim Limits) (Message, error) {
	lim = lim.withDefaults()
	start := 0
	for start < len(b) && (b[start] == '\r' || b[start] == '\n') {
		start++
	}
	if start == len(b) {
		return nil, malformed("start-line", start, "empty message")
	}
	p := parser{buf: b[start:], base: start, lim: lim}
	return p.parse(len(b)-start, true)
}

// findHeadEnd finds the empty line that ends the header block. headLen is
// the length up to and including the last header line's '\n'; bodyStart is
// the index after the empty line. Both are -1 if there is none within max
// bytes.
func findHeadEnd(b []byte, max int) (headLen, bodyStart int) {
	limit := min(len(b), max+4)
	for i := 0; i < limit; {
		j := bytes.IndexByte(b[i:limit], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i, i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i, i + 2
		}
	}
	return -1, -1
}

// inlineHeaders is how many header lines a parsed message holds in the
// same allocation as the message itself; more take a second allocation.
const inlineHeaders = 12

// requestBlock and responseBlock put a message and its first header lines
// in one allocation.
type requestBlock struct {
	r      Request
	inline [inlineHeaders]Header
}

type responseBlock struct {
	r      Response
	inline [inlineHeaders]Header
}

type parser struct {
	buf  []byte // the message's bytes, handed over by the caller
	base int    // offset of buf[0] in the caller's input, for errors
	lim  Limits
}

// str returns b as a string without copying. The caller of Parse hands the
// buffer over and nothing writes the head after parsing (see doc.go).
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (p *parser) errAt(part string, off int, reason string) error {
	return malformed(part, p.base+off, reason)
}

// parse reads the start line and headers from buf[:headLimit] (the
// header block ends at the first empty line found there) and frames the
// body from what follows. datagram selects RFC 3261 §18.3 datagram
// framing for a missing Content-Length (the rest of the buffer) rather
// than stream framing (no body).
func (p *parser) parse(headLimit int, datagram bool) (Message, error) {
	head := p.buf[:headLimit]
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		return nil, p.noEmptyLine(len(head))
	}
	line := head[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	nuls := bytes.IndexByte(head, 0) >= 0 // rare: then check line by line
	if nuls && bytes.IndexByte(line, 0) >= 0 {
		return nil, p.errAt("start-line", bytes.IndexByte(line, 0), "NUL byte in start line")
	}
	var m Message
	var core *msg
	if len(line) >= 4 && (line[0]|0x20) == 's' && (line[1]|0x20) == 'i' && (line[2]|0x20) == 'p' && line[3] == '/' {
		res, err := p.statusLine(line)
		if err != nil {
			return nil, err
		}
		m, core = res, &res.msg
	} else {
		req, err := p.requestLine(line)
		if err != nil {
			return nil, err
		}
		m, core = req, &req.msg
	}
	contentLength, bodyStart, err := p.headers(core, head, nl+1, nuls)
	if err != nil {
		return nil, err
	}
	rest := p.buf[bodyStart:]
	switch {
	case contentLength >= 0:
		if contentLength > p.lim.MaxBodyBytes {
			return nil, tooLarge("body", p.base+bodyStart, "Content-Length exceeds MaxBodyBytes")
		}
		if contentLength > len(rest) {
			return nil, p.errAt("body", len(p.buf), "body shorter than Content-Length")
		}
		rest = rest[:contentLength:contentLength]
	case !datagram:
		rest = rest[:0]
	case len(rest) > p.lim.MaxBodyBytes:
		return nil, tooLarge("body", p.base+bodyStart, "body exceeds MaxBodyBytes")
	}
	if len(rest) > 0 {
		core.body = rest
	}
	return m, nil
}

// noEmptyLine is the error for a header block that does not end where it
// must: past MaxHeadBytes it is too large, before it malformed.
func (p *parser) noEmptyLine(at int) error {
	if at > p.lim.MaxHeadBytes {
		return tooLarge("header", p.base+p.lim.MaxHeadBytes, "header block exceeds MaxHeadBytes")
	}
	return p.errAt("header", at, "no empty line after the headers")
}

func (p *parser) requestLine(line []byte) (*Request, error) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, p.errAt("start-line", 0, "not a request or status line")
	}
	method := str(line[:sp1])
	if !allToken(method) {
		return nil, p.errAt("start-line", 0, "method is not a token")
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, p.errAt("start-line", sp1+1, "request line needs Method SP Request-URI SP SIP-Version")
	}
	uri, version := rest[:sp2], rest[sp2+1:]
	// A tab in the Request-URI is reported before anything else is; as
	// no URI parses with one, it is looked for only on a failure.
	tabErr := func() error {
		if bytes.IndexByte(uri, '\t') >= 0 {
			return p.errAt("start-line", sp1+1, "whitespace in Request-URI")
		}
		return nil
	}
	proto, ok := sipVersion(version)
	if !ok {
		if err := tabErr(); err != nil {
			return nil, err
		}
		return nil, p.errAt("start-line", sp1+sp2+2, "bad SIP-Version")
	}
	blk := new(requestBlock)
	r := &blk.r
	r.hdrs = blk.inline[:0]
	r.Method, r.Proto = internMethod(method), proto
	if err := r.URI.parse(str(uri)); err != nil {
		if err := tabErr(); err != nil {
			return nil, err
		}
		if pe, ok := err.(*ParseError); ok {
			pe.Part, pe.Offset = "Request-URI", p.base+sp1+1
		}
		return nil, err
	}
	return r, nil
}

// sipVersion accepts "SIP/" 1*DIGIT "." 1*DIGIT, any case of "SIP" (the
// grammar's; Validate answers 505 to versions other than 2.0).
func sipVersion(v []byte) (string, bool) {
	if len(v) == 7 && (v[0]|0x20) == 's' && (v[1]|0x20) == 'i' && (v[2]|0x20) == 'p' && string(v[3:]) == "/2.0" {
		return "SIP/2.0", true
	}
	if len(v) < 7 || !hasPrefixFold(str(v), "SIP/") {
		return "", false
	}
	s := str(v[4:])
	dot := bytes.IndexByte(v[4:], '.')
	if dot <= 0 || dot == len(s)-1 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if i != dot && !isDigit(s[i]) {
			return "", false
		}
	}
	return str(v), true
}

func (p *parser) statusLine(line []byte) (*Response, error) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return nil, p.errAt("start-line", 0, "status line without status code")
	}
	if proto, ok := sipVersion(line[:sp]); !ok || proto != "SIP/2.0" {
		return nil, p.errAt("start-line", 0, "SIP version other than SIP/2.0")
	}
	rest := line[sp+1:]
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) || (len(rest) > 3 && rest[3] != ' ') {
		return nil, p.errAt("start-line", sp+1, "status code is not three digits")
	}
	code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if code < 100 || code > 699 {
		return nil, p.errAt("start-line", sp+1, "status code outside 100..699")
	}
	reason := ""
	if len(rest) > 4 {
		reason = str(rest[4:])
	}
	blk := new(responseBlock)
	r := &blk.r
	r.hdrs = blk.inline[:0]
	r.StatusCode, r.Reason, r.Proto = code, reason, "SIP/2.0"
	return r, nil
}

// headers parses the header lines of head from pos up to the empty line
// that ends them, unfolding continuation lines in place. It returns the
// Content-Length (-1 when absent) and where the body starts.
func (p *parser) headers(m *msg, head []byte, pos int, nuls bool) (contentLength, bodyStart int, err error) {
	contentLength = -1
	maxHead, maxHeaders := p.lim.MaxHeadBytes, p.lim.MaxHeaders
	// The list is kept in a local while lines are added (the typed
	// views parsed from them do not read it).
	hdrs := m.hdrs
	defer func() { m.hdrs = hdrs }()
	for {
		if pos >= len(head) {
			return 0, 0, p.noEmptyLine(pos)
		}
		if head[pos] == '\n' {
			bodyStart = pos + 1
			break
		}
		if head[pos] == '\r' && pos+1 < len(head) && head[pos+1] == '\n' {
			bodyStart = pos + 2
			break
		}
		if pos > maxHead {
			return 0, 0, p.noEmptyLine(pos)
		}
		lineStart := pos
		idx := bytes.IndexByte(head[pos:], '\n')
		if idx < 0 {
			return 0, 0, p.noEmptyLine(len(head))
		}
		end := pos + idx
		if isWS(head[pos]) {
			return 0, 0, p.errAt("header", pos, "continuation line without a header")
		}
		// Unfold: a line that starts with SP or HT continues the previous
		// one (RFC 3261 §7.3.1). Replace the line break with spaces.
		for end+1 < len(head) && isWS(head[end+1]) {
			next := bytes.IndexByte(head[end+1:], '\n')
			if next < 0 {
				return 0, 0, p.noEmptyLine(len(head))
			}
			head[end] = ' '
			if head[end-1] == '\r' {
				head[end-1] = ' '
			}
			end += 1 + next
		}
		pos = end + 1
		lineEnd := end
		if lineEnd > lineStart && head[lineEnd-1] == '\r' {
			lineEnd--
		}
		line := head[lineStart:lineEnd]
		if nuls {
			if z := bytes.IndexByte(line, 0); z >= 0 && !onlyQuotedNULs(line) {
				return 0, 0, p.errAt("header", lineStart+z, "NUL byte in header")
			}
		}
		if len(hdrs) == maxHeaders {
			return 0, 0, tooLarge("header", p.base+lineStart, "more than MaxHeaders header lines")
		}
		// A known name directly followed by ':' is classified with a few
		// word compares; any other is scanned byte by byte.
		kind, i := hOther, 0
		if len(head)-lineStart >= 24 {
			kind, i = knownName(head[lineStart:], len(line))
		}
		nameEnd := i
		if kind == hOther {
			i = 0
			for i < len(line) && isToken(line[i]) {
				i++
			}
			nameEnd = i
			for i < len(line) && isWS(line[i]) {
				i++
			}
			if nameEnd == 0 || i == len(line) || line[i] != ':' {
				return 0, 0, p.errAt("header", lineStart, "header line without name and colon")
			}
			kind = kindOf(str(line[:nameEnd]))
		}
		// The value without the LWS around it (trimLWS, inlined).
		vs, ve := i+1, len(line)
		for vs < ve && isLWS(line[vs]) {
			vs++
		}
		for ve > vs && isLWS(line[ve-1]) {
			ve--
		}
		// The line goes straight into the list; a failed parse below
		// fails the whole message.
		n := len(hdrs)
		if n == cap(hdrs) {
			hdrs = append(hdrs, Header{})
		} else {
			hdrs = hdrs[:n+1]
		}
		h := &hdrs[n]
		h.Name, h.Value, h.rawLen = unsafe.String(&line[0], nameEnd), str(line[vs:ve]), uint32(len(line))
		h.kind = kind
		if parsedAtParse[h.kind] {
			if err := p.header(m, h, &contentLength); err != nil {
				if pe, ok := err.(*ParseError); ok && pe.Offset < 0 {
					pe.Offset = p.base + lineStart
				}
				return 0, 0, err
			}
		}
	}
	if bodyStart > maxHead {
		return 0, 0, p.noEmptyLine(bodyStart)
	}
	return contentLength, bodyStart, nil
}

// onlyQuotedNULs reports whether every NUL in line is escaped as a
// quoted-pair (RFC 3261 §25.1 allows "\" %x00).
func onlyQuotedNULs(line []byte) bool {
	for i, c := range line {
		if c == 0 && (i == 0 || line[i-1] != '\\') {
			return false
		}
	}
	return true
}

// parsedAtParse marks the kinds that header parses; the others are only
// stored.
var parsedAtParse = [hkindCount]bool{
	hVia: true, hFrom: true, hTo: true, hCSeq: true, hCallID: true,
	hContact: true, hContentLength: true, hMaxForwards: true,
}

// header checks one core header and fills the typed views from the first
// occurrence of each.
func (p *parser) header(m *msg, h *Header, contentLength *int) error {
	switch h.kind {
	case hVia:
		if h.Value == "" {
			return malformed("Via", -1, "empty Via")
		}
		// A line of one Via value, the common case, parses whole: a comma
		// between values fails that parse (one inside a quoted parameter
		// value does not), and the values are then split and parsed one
		// by one, as nextValue splits them.
		first := m.have&cVia == 0
		dst := &m.via
		if !first {
			dst = new(Via)
		}
		if dst.parse(h.Value) == nil {
			m.have |= cVia
			break
		}
		if first {
			m.via = Via{}
		}
		for j := 0; j < len(h.Value); {
			var v string
			v, j = nextValue(h.Value, j)
			if m.have&cVia == 0 {
				if err := m.via.parse(v); err != nil {
					return err
				}
				m.have |= cVia
				continue
			}
			var tmp Via
			if err := tmp.parse(v); err != nil {
				return err
			}
		}
	case hFrom, hTo:
		bit, a := cFrom, &m.from
		if h.kind == hTo {
			bit, a = cTo, &m.to
		}
		// The first one is parsed in place (a failed parse fails the
		// message); a second one is checked only.
		dst := a
		if m.have&bit != 0 {
			dst = new(Address)
		}
		rest, err := dst.parse(h.Value, false)
		if err == nil && trimLWS(rest) != "" {
			err = malformed(canonicalNames[h.kind], -1, "more than one address")
		}
		if err != nil {
			return err
		}
		m.have |= bit
	case hCSeq:
		c, err := ParseCSeq(h.Value)
		if err != nil {
			return err
		}
		if m.have&cCSeq == 0 {
			m.cseq, m.have = c, m.have|cCSeq
		}
	case hCallID:
		if m.callID == "" {
			m.callID = h.Value
		}
	case hContact:
		if err := validateAddressList(h.Value); err != nil {
			return err
		}
	case hContentLength:
		n, ok := parseUint(h.Value, 1<<31-1)
		if !ok {
			return malformed("Content-Length", -1, "not a non-negative number")
		}
		if *contentLength >= 0 && *contentLength != int(n) {
			return malformed("Content-Length", -1, "conflicting Content-Length headers")
		}
		*contentLength = int(n)
	case hMaxForwards:
		if _, ok := parseUint(h.Value, 1<<31-1); !ok {
			return malformed("Max-Forwards", -1, "not a number")
		}
	}
	return nil
}
