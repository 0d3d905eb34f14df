package main

import (
	"net/url"
	"strings"

	"github.com/dialtone/dialtone/sip"
)

// Routing a call to its mailbox: a call for a mailbox's user deposits a
// message; a call to the access user (-access, "voicemail") is the owner
// calling in; a call that a proxy or a phone forwarded to us names the
// mailbox in Diversion (RFC 5806) or History-Info (RFC 7044).

// MaxForwardEntries bounds the Diversion and History-Info entries read
// from one request.
const MaxForwardEntries = 32

// Route is what a call is for.
type Route struct {
	// Box is the mailbox: the one to deposit into, or for a call-in the
	// caller's own (From) when it is one ("" otherwise).
	Box string
	// Retrieve is true for a call-in to the access user.
	Retrieve bool
	// Via says how Box was found: "request-uri", "diversion",
	// "history-info", "from".
	Via string
}

// route finds the mailbox of an INVITE; ok is false when it is for no
// mailbox. has reports whether a user is a mailbox.
func route(req *sip.Request, access string, has func(string) bool) (r Route, ok bool) {
	user := uriUser(req.URI)
	if user == access {
		from, _ := req.From()
		r = Route{Retrieve: true}
		if u := uriUser(from.URI); has(u) {
			r.Box, r.Via = u, "from"
		}
		return r, true
	}
	if has(user) {
		return Route{Box: user, Via: "request-uri"}, true
	}
	// RFC 5806: the most recent diversion comes first.
	for _, v := range splitEntries(req.Values("Diversion")) {
		if a, err := sip.ParseAddress(v); err == nil && has(uriUser(a.URI)) {
			return Route{Box: uriUser(a.URI), Via: "diversion"}, true
		}
	}
	// RFC 7044: entries in order of their index; the last is the target
	// that reached us. The most recent earlier target that is a mailbox.
	hi := splitEntries(req.Values("History-Info"))
	for i := len(hi) - 1; i >= 0; i-- {
		if a, err := sip.ParseAddress(hi[i]); err == nil && has(uriUser(a.URI)) {
			return Route{Box: uriUser(a.URI), Via: "history-info"}, true
		}
	}
	return Route{}, false
}

// uriUser is the user part of a URI, unescaped.
func uriUser(u sip.URI) string {
	if s, err := url.PathUnescape(u.User); err == nil {
		return s
	}
	return u.User
}

// splitEntries splits header values on the commas between name-addrs
// (not those inside quotes or <>), at most MaxForwardEntries.
func splitEntries(values []string) []string {
	var out []string
	for _, v := range values {
		depth, quoted, start := 0, false, 0
		for i := 0; i <= len(v); i++ {
			if i < len(v) {
				switch c := v[i]; {
				case c == '"' && (i == 0 || v[i-1] != '\\'):
					quoted = !quoted
					continue
				case quoted:
					continue
				case c == '<':
					depth++
					continue
				case c == '>':
					depth--
					continue
				case c != ',' || depth > 0:
					continue
				}
			}
			if e := strings.TrimSpace(v[start:i]); e != "" {
				out = append(out, e)
				if len(out) == MaxForwardEntries {
					return out
				}
			}
			start = i + 1
		}
	}
	return out
}
