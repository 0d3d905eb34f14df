package sip

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// Header is one header field line as it stands in a message: a name and a
// value. Header values that list several items (Via: a, b) stay one Header;
// Values splits them.
type Header struct {
	// Name is the header name as written (it may be the compact form or in
	// any case); compare with CanonicalName or use the lookups of Headers.
	Name string
	// Value is the field value with surrounding whitespace removed. Folded
	// lines are joined with spaces.
	Value string

	kind hkind
	// rawLen is the length of the whole line as parsed (name, colon,
	// value), which starts where Name starts; the line is written back
	// unchanged while the header is untouched. 0 for built headers.
	rawLen uint32
}

// raw returns the line as parsed, or "" for a built or edited header.
func (h *Header) raw() string {
	if h.rawLen == 0 {
		return ""
	}
	// Name is the start of the parsed line in the message's private
	// buffer, which holds at least rawLen bytes from there (see parse.go).
	return unsafe.String(unsafe.StringData(h.Name), h.rawLen)
}

// hkind identifies the headers this package knows, so lookups compare one
// byte instead of strings.
type hkind uint8

const (
	hOther hkind = iota
	hAccept
	hAcceptContact
	hAcceptEncoding
	hAcceptLanguage
	hAlertInfo
	hAllow
	hAllowEvents
	hAuthenticationInfo
	hAuthorization
	hCallID
	hCallInfo
	hContact
	hContentDisposition
	hContentEncoding
	hContentLanguage
	hContentLength
	hContentType
	hCSeq
	hDate
	hErrorInfo
	hEvent
	hExpires
	hFrom
	hIdentity
	hInReplyTo
	hMaxForwards
	hMinExpires
	hMIMEVersion
	hOrganization
	hPAssertedIdentity
	hPath
	hPPreferredIdentity
	hPriority
	hPrivacy
	hProxyAuthenticate
	hProxyAuthorization
	hProxyRequire
	hRAck
	hReason
	hRecordRoute
	hReferTo
	hReferredBy
	hRejectContact
	hReplyTo
	hRequestDisposition
	hRequire
	hRetryAfter
	hRoute
	hRSeq
	hServer
	hServiceRoute
	hSessionExpires
	hSubject
	hSubscriptionState
	hSupported
	hTimestamp
	hTo
	hUnsupported
	hUserAgent
	hVia
	hWarning
	hWWWAuthenticate
	hkindCount
)

// canonicalNames holds the canonical spelling of each known header, indexed
// by hkind.
var canonicalNames = [hkindCount]string{
	hAccept:             "Accept",
	hAcceptContact:      "Accept-Contact",
	hAcceptEncoding:     "Accept-Encoding",
	hAcceptLanguage:     "Accept-Language",
	hAlertInfo:          "Alert-Info",
	hAllow:              "Allow",
	hAllowEvents:        "Allow-Events",
	hAuthenticationInfo: "Authentication-Info",
	hAuthorization:      "Authorization",
	hCallID:             "Call-ID",
	hCallInfo:           "Call-Info",
	hContact:            "Contact",
	hContentDisposition: "Content-Disposition",
	hContentEncoding:    "Content-Encoding",
	hContentLanguage:    "Content-Language",
	hContentLength:      "Content-Length",
	hContentType:        "Content-Type",
	hCSeq:               "CSeq",
	hDate:               "Date",
	hErrorInfo:          "Error-Info",
	hEvent:              "Event",
	hExpires:            "Expires",
	hFrom:               "From",
	hIdentity:           "Identity",
	hInReplyTo:          "In-Reply-To",
	hMaxForwards:        "Max-Forwards",
	hMinExpires:         "Min-Expires",
	hMIMEVersion:        "MIME-Version",
	hOrganization:       "Organization",
	hPAssertedIdentity:  "P-Asserted-Identity",
	hPath:               "Path",
	hPPreferredIdentity: "P-Preferred-Identity",
	hPriority:           "Priority",
	hPrivacy:            "Privacy",
	hProxyAuthenticate:  "Proxy-Authenticate",
	hProxyAuthorization: "Proxy-Authorization",
	hProxyRequire:       "Proxy-Require",
	hRAck:               "RAck",
	hReason:             "Reason",
	hRecordRoute:        "Record-Route",
	hReferTo:            "Refer-To",
	hReferredBy:         "Referred-By",
	hRejectContact:      "Reject-Contact",
	hReplyTo:            "Reply-To",
	hRequestDisposition: "Request-Disposition",
	hRequire:            "Require",
	hRetryAfter:         "Retry-After",
	hRoute:              "Route",
	hRSeq:               "RSeq",
	hServer:             "Server",
	hServiceRoute:       "Service-Route",
	hSessionExpires:     "Session-Expires",
	hSubject:            "Subject",
	hSubscriptionState:  "Subscription-State",
	hSupported:          "Supported",
	hTimestamp:          "Timestamp",
	hTo:                 "To",
	hUnsupported:        "Unsupported",
	hUserAgent:          "User-Agent",
	hVia:                "Via",
	hWarning:            "Warning",
	hWWWAuthenticate:    "WWW-Authenticate",
}

// compactKinds maps the compact forms of RFC 3261 §7.3.3 and later RFCs.
func compactKind(c byte) hkind {
	switch lower(c) {
	case 'a':
		return hAcceptContact // RFC 3841
	case 'b':
		return hReferredBy // RFC 3892
	case 'c':
		return hContentType
	case 'd':
		return hRequestDisposition // RFC 3841
	case 'e':
		return hContentEncoding
	case 'f':
		return hFrom
	case 'i':
		return hCallID
	case 'j':
		return hRejectContact // RFC 3841
	case 'k':
		return hSupported
	case 'l':
		return hContentLength
	case 'm':
		return hContact
	case 'o':
		return hEvent // RFC 6665
	case 'r':
		return hReferTo // RFC 3515
	case 's':
		return hSubject
	case 't':
		return hTo
	case 'u':
		return hAllowEvents // RFC 6665
	case 'v':
		return hVia
	case 'x':
		return hSessionExpires // RFC 4028
	case 'y':
		return hIdentity // RFC 8224
	}
	return hOther
}

// maxKnownName bounds the length of the known header names.
const maxKnownName = 24

// kindOf classifies a header name: full or compact form, any case. The
// parser classifies most names with knownName instead.
func kindOf(name string) hkind {
	if len(name) == 1 {
		return compactKinds[name[0]]
	}
	if name == "" || len(name) > maxKnownName {
		return hOther
	}
	for _, k := range kindShape[len(name)][name[0]&0x1f] {
		if k != hOther && equalFold(canonicalNames[k], name) {
			return k
		}
	}
	return hOther
}

// load64 reads the first eight bytes of s (len(s) >= 8) as one
// little-endian word.
func load64(s string) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
}

// load32 reads the first four bytes of s (len(s) >= 4) as one
// little-endian word.
func load32(s string) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s), 4))
}

// nameKey holds a known name for knownName's word compares: the name in
// lower case as three little-endian words, zero past its end, and the
// case bit (0x20) at each of its letters.
type nameKey struct {
	w, fold [3]uint64
}

// nameKeys holds the nameKey of each kind (zero for hOther).
var nameKeys = func() (keys [kindMask + 1]nameKey) {
	for k := hkind(1); k < hkindCount; k++ {
		var b, f [24]byte
		name := strings.ToLower(canonicalNames[k])
		copy(b[:], name)
		for i := range len(name) {
			if isAlpha(name[i]) {
				f[i] = 0x20
			}
		}
		for w := range 3 {
			keys[k].w[w] = binary.LittleEndian.Uint64(b[8*w:])
			keys[k].fold[w] = binary.LittleEndian.Uint64(f[8*w:])
		}
	}
	return keys
}()

// kindMask bounds an hkind for indexing tables of kindMask+1 entries
// without a bounds check.
const kindMask = 63

// hkindCount fits under kindMask.
var _ [kindMask + 1 - hkindCount]struct{}

// kindShape lists the known kinds of two letters or more by name length
// and the low five bits of the first letter (its case ignored): at most
// two share a cell, and a name of another first byte that lands in a
// cell fails the compare.
var kindShape = func() (t [maxKnownName + 1][32][2]hkind) {
	for k := hkind(1); k < hkindCount; k++ {
		name := canonicalNames[k]
		cell := &t[len(name)][name[0]&0x1f]
		if cell[0] == hOther {
			cell[0] = k
		} else {
			cell[1] = k
		}
	}
	return t
}()

// compactKinds is compactKind as a table.
var compactKinds = func() (t [256]hkind) {
	for c := range t {
		t[c] = compactKind(byte(c))
	}
	return t
}()

// SWAR constants: a byte of ones, the high bit of each byte, and the
// bytes looked for in each byte.
const (
	swarOnes        = 0x0101010101010101
	swarHighs       = 0x8080808080808080
	swarColons      = 0x3a3a3a3a3a3a3a3a
	swarQuotes      = 0x2222222222222222
	swarBackslashes = 0x5c5c5c5c5c5c5c5c
)

// byteBits has the high bit set in the byte of w (little-endian) that is
// the first equal to the byte repeated in c, and maybe in bytes above
// it, which does not matter for finding the first; 0 when there is none.
func byteBits(w, c uint64) uint64 {
	x := w ^ c
	return (x - swarOnes) &^ x & swarHighs
}

// colonBits is byteBits for ':'.
func colonBits(w uint64) uint64 { return byteBits(w, swarColons) }

// knownName classifies the header line at the start of b (at least 24
// bytes of b; the line is its first lineLen bytes) when it starts with a
// known name, full or compact, in any case, followed directly by ':'. It
// returns the kind and the name's length, the index of that colon, or
// hOther when the line does not start so (then the caller scans the
// name). A match is exact: the name holds the known name's letters in
// either case and its '-' where the known name has one, so it is a token.
func knownName(b []byte, lineLen int) (hkind, int) {
	w0 := binary.LittleEndian.Uint64(b)
	y := colonBits(w0)
	if y == 0 {
		return knownLongName((*[24]byte)(b), w0, lineLen)
	}
	n := bits.TrailingZeros64(y) >> 3
	if n >= lineLen || n == 0 {
		return hOther, 0
	}
	b0 := byte(w0) // not b[0]: the word's load stays one load
	if n == 1 {
		return compactKinds[b0], 1
	}
	// A name of two to seven bytes: one word to compare.
	m := uint64(1)<<(8*n) - 1
	cell := &kindShape[n][b0&0x1f]
	if key := &nameKeys[cell[0]&kindMask]; (w0|key.fold[0])&m == key.w[0] {
		return cell[0], n // from an empty cell (hOther) too: the caller scans
	}
	if key := &nameKeys[cell[1]&kindMask]; (w0|key.fold[0])&m == key.w[0] {
		return cell[1], n
	}
	return hOther, 0
}

// knownLongName is knownName for a line whose first eight bytes hold no
// ':'.
func knownLongName(b *[24]byte, w0 uint64, lineLen int) (hkind, int) {
	w1 := binary.LittleEndian.Uint64(b[8:])
	if y := colonBits(w1); y != 0 {
		// Eight to fifteen bytes: w0 is all name, w1 up to the colon.
		n := 8 + bits.TrailingZeros64(y)>>3
		if n >= lineLen {
			return hOther, 0
		}
		m1 := uint64(1)<<(8*(n-8)) - 1
		for _, k := range &kindShape[n][byte(w0)&0x1f] {
			key := &nameKeys[k&kindMask]
			if w0|key.fold[0] == key.w[0] && (w1|key.fold[1])&m1 == key.w[1] {
				return k, n
			}
		}
		return hOther, 0
	}
	w2 := binary.LittleEndian.Uint64(b[16:])
	y := colonBits(w2)
	if y == 0 {
		return hOther, 0
	}
	n := 16 + bits.TrailingZeros64(y)>>3
	if n >= lineLen {
		return hOther, 0
	}
	m2 := uint64(1)<<(8*(n-16)) - 1
	for _, k := range &kindShape[n][byte(w0)&0x1f] {
		key := &nameKeys[k&kindMask]
		if w0|key.fold[0] == key.w[0] && w1|key.fold[1] == key.w[1] && (w2|key.fold[2])&m2 == key.w[2] {
			return k, n
		}
	}
	return hOther, 0
}

// CanonicalName returns the canonical spelling of a header name: the full
// form of a compact name ("v" → "Via"), the registered case of a known name
// ("call-id" → "Call-ID"), or name itself when it is not known.
func CanonicalName(name string) string {
	if k := kindOf(name); k != hOther {
		return canonicalNames[k]
	}
	return name
}

// isMulti reports whether the header's grammar is a comma-separated list, so
// Values may split it. The authentication headers are never split.
func (k hkind) isMulti() bool {
	switch k {
	case hAccept, hAcceptContact, hAcceptEncoding, hAcceptLanguage, hAlertInfo, hAllow,
		hAllowEvents, hCallInfo, hContact, hContentEncoding, hContentLanguage, hErrorInfo,
		hInReplyTo, hPAssertedIdentity, hPath, hPPreferredIdentity, hProxyRequire,
		hReason, hRecordRoute, hRejectContact, hRequestDisposition, hRequire, hRoute,
		hServiceRoute, hSupported, hUnsupported, hVia, hWarning:
		return true
	}
	return false
}
