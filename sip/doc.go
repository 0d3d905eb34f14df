// Package sip is Dialtone's message layer: the SIP request and response
// model, URIs and addresses, the parser for datagrams and streams, the
// serializer, the builders of new requests and responses, and the ids
// (branch, tag, Call-ID) they need. It imports nothing else of Dialtone.
//
// # Parsing
//
// Parse reads one whole message, such as a UDP datagram; Reader frames
// messages on a stream (TCP, TLS) by Content-Length and reports CRLF
// keepalives. Both accept what RFC 3261's grammar accepts and what
// deployed phones send (folding, any header case, compact names, bare LF,
// IPv6 references per RFC 5118) and reject what cannot be a SIP message
// with a *ParseError that wraps ErrMalformed or ErrMessageTooLarge. Every
// bound is a field of Limits. Semantic checks that decide a UAS's answer
// (400, 416, 420, 505, …) are a separate step: Validate.
//
// # Buffer ownership
//
// Parse takes ownership of its input, like http2's Framer: the message's
// strings (header names and values, URI parts) and its body point into the
// caller's buffer without copies, which is why a parse costs a handful of
// allocations. The caller must not modify or reuse the buffer while the
// message is in use; a transport gives each datagram its own buffer, and
// Reader gives each message its own. Parse writes into the buffer only to
// unfold folded header lines, and nothing writes the header area after
// Parse returns. Body returns the body bytes in that buffer: treat them as
// read-only and replace them with SetBody. Clone copies the header list and
// the body; its strings still share the original buffer, which stays
// immutable.
//
// # Headers
//
// A message keeps its header lines in order, unknown ones included.
// Lookups take any case and the compact forms of RFC 3261 §7.3.3 (i, m, e,
// l, f, c, s, k, t, v) and of later RFCs (o, u, r, b, x, y, a, j, d). The
// headers every layer reads (Via, From, To, CSeq, Call-ID) are parsed once
// into typed views and kept in step with Add, Set and Del; the others are
// parsed when asked for (Contacts, Routes, Expires, RetryAfter, …).
//
// # Writing
//
// AppendTo writes the wire form. Header lines that were parsed and not
// touched are written back byte for byte (folded lines come back joined
// with spaces); Content-Length is always written and always equals the
// body's length. Addresses are always written in name-addr form, with the
// URI in angle brackets, as RFC 3261 §20.10 requires whenever the URI
// holds ',', ';' or '?'.
//
// # RFCs
//
// RFC 3261 §7 (messages), §8.1.1 and §8.2.6 (building requests and
// responses), §18.3 (framing), §19 (URIs, comparison in §19.1.4), §20
// (headers), §25 (grammar); RFC 3966 (tel URIs); RFC 4475 and RFC 5118
// (torture tests); RFC 5626 §4.4.1 (CRLF keepalives); RFC 3581 (rport);
// RFC 3326 (Reason).
package sip
