package sip

import (
	"encoding/binary"
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

// kindsByShape lists the known kinds by name length and lower-case first
// letter; built once, read only. Most cells hold one kind, so classifying
// a name costs one case-insensitive compare.
var kindsByShape = func() (t [maxKnownName + 1][26][]hkind) {
	for k := hkind(1); k < hkindCount; k++ {
		name := canonicalNames[k]
		c := lower(name[0]) - 'a'
		t[len(name)][c] = append(t[len(name)][c], k)
	}
	return t
}()

// kindOf classifies a header name: full or compact form, any case. It
// runs for every header line parsed.
func kindOf(name string) hkind {
	if len(name) == 1 {
		return compactKind(name[0])
	}
	if name == "" || len(name) > maxKnownName {
		return hOther
	}
	c := lower(name[0]) - 'a'
	if c >= 26 {
		return hOther
	}
	for _, k := range kindsByShape[len(name)][c] {
		if equalFold(canonicalNames[k], name) {
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

// kindWords holds each known name in lower case as three little-endian
// words, zero past its end, and nameMasks the bytes of a name of each
// length within those words: kindOfWords compares a name with one of
// these in three word compares.
var kindWords, nameMasks = func() (kw [hkindCount][3]uint64, nm [maxKnownName + 1][3]uint64) {
	for k := hkind(1); k < hkindCount; k++ {
		var b [24]byte
		copy(b[:], strings.ToLower(canonicalNames[k]))
		for w := range 3 {
			kw[k][w] = binary.LittleEndian.Uint64(b[8*w:])
		}
	}
	for n := range nm {
		var b [24]byte
		for i := range n {
			b[i] = 0xff
		}
		for w := range 3 {
			nm[n][w] = binary.LittleEndian.Uint64(b[8*w:])
		}
	}
	return kw, nm
}()

// kindOfWords is kindOf for a parsed name, a token at the start of b with
// at least 24 bytes of b from there. It folds case by setting the case bit
// (0x20) of every byte: among token characters that bit tells only the
// cases of a letter apart, and the known names hold letters and '-' only.
func kindOfWords(name string, b []byte) hkind {
	n := len(name)
	if n == 1 {
		return compactKind(name[0])
	}
	if n == 0 || n > maxKnownName || len(b) < 24 {
		return kindOf(name)
	}
	c := lower(name[0]) - 'a'
	if c >= 26 {
		return hOther
	}
	cell := kindsByShape[n][c]
	if len(cell) == 0 {
		return hOther
	}
	const fold = 0x2020202020202020
	m := &nameMasks[n]
	w0 := (binary.LittleEndian.Uint64(b) | fold) & m[0]
	w1 := (binary.LittleEndian.Uint64(b[8:]) | fold) & m[1]
	w2 := (binary.LittleEndian.Uint64(b[16:]) | fold) & m[2]
	for _, k := range cell {
		if kw := &kindWords[k]; w0 == kw[0] && w1 == kw[1] && w2 == kw[2] {
			return k
		}
	}
	return hOther
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
