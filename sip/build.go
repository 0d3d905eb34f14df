package sip

import (
	"strconv"
	"unsafe"
)

// DefaultMaxForwards is the Max-Forwards a UAC puts in new requests
// (RFC 3261 §8.1.1.6).
const DefaultMaxForwards = 70

// NewRequest builds a request as RFC 3261 §8.1.1 starts one: the
// Request-URI, Max-Forwards 70, To set to the URI without a tag, a new
// Call-ID and CSeq 1 with the method. The caller sets From (with a tag from
// NewTag) and usually Contact; the transaction layer adds the Via with a
// new branch when it sends the request.
func NewRequest(method Method, uri URI) *Request {
	r := NewBareRequest(method, uri, BareRequestRoom)
	r.Add("Max-Forwards", strconv.Itoa(DefaultMaxForwards))
	to := Address{URI: uri}
	to.URI.Params, to.URI.Headers = "", ""
	r.SetTo(to)
	r.SetCallID(NewCallID())
	r.SetCSeq(CSeq{Seq: 1, Method: method})
	return r
}

// NewResponse builds a response to req as RFC 3261 §8.2.6 requires: Via
// lines in order, From, To, Call-ID and CSeq copied; a new To tag added
// when the To has none, except for 100 Trying; Timestamp copied into a
// 100 (§8.2.6.1). An empty reason takes StatusText(code). A UAS that sends
// several responses in one dialog gives them the same tag with
// NewResponseTag.
func NewResponse(req *Request, code int, reason string) *Response {
	return NewResponseTag(req, code, reason, "")
}

// responseHeaders is the header capacity a new response starts with: the
// copied lines plus what a UAS usually adds (Contact, Allow, Supported,
// Require, Session-Expires, Content-Type), so adding them does not grow
// the list.
const responseHeaders = 16

// BareRequestRoom is the number of header lines NewBareRequest allocates
// with the request itself; more cost a second allocation.
const BareRequestRoom = 16

// NewBareRequest returns a request with its request line only (SIP/2.0)
// and room for n header lines: one allocation when n is at most
// BareRequestRoom. A builder that adds every header itself (an in-dialog
// request) starts from it.
func NewBareRequest(method Method, uri URI, n int) *Request {
	if n > BareRequestRoom {
		r := &Request{Method: method, URI: uri, Proto: "SIP/2.0"}
		r.hdrs = make([]Header, 0, n)
		return r
	}
	c := new(struct {
		req  Request
		hdrs [BareRequestRoom]Header
	})
	r := &c.req
	r.Method, r.URI, r.Proto = method, uri, "SIP/2.0"
	r.hdrs = c.hdrs[:0]
	return r
}

// responseToRoom is the room a new response keeps, in its own allocation,
// for a To value with the tag it adds (a To with its URI and a display
// name, and a 16-character tag, fits); a longer one costs an allocation
// of its own.
const responseToRoom = 128

// appendWithTag appends the To value with ";tag=" and tag, or a new
// random tag when tag is "".
func appendWithTag(b []byte, to, tag string) []byte {
	b = append(append(b, to...), ";tag="...)
	if tag == "" {
		return AppendTag(b)
	}
	return append(b, tag...)
}

// withTag returns the To value with its tag (appendWithTag): in room when
// it fits, which the string then points into (room is written once, here,
// and never again), else in an allocation of its own.
func withTag(room *[responseToRoom]byte, to, tag string) string {
	if len(to)+len(";tag=")+max(len(tag), TagLen) <= len(room) {
		b := appendWithTag(room[:0], to, tag)
		return unsafe.String(&room[0], len(b))
	}
	var buf [256]byte
	return string(appendWithTag(buf[:0], to, tag))
}

// NewResponseTag is NewResponse with the To tag to add when the request's
// To has none: toTag, or a new random one when toTag is empty. A To that
// has a tag already (a request inside a dialog) keeps it.
func NewResponseTag(req *Request, code int, reason, toTag string) *Response {
	if reason == "" {
		reason = StatusText(code)
	}
	// One allocation for the response, room for its headers and for the
	// To value with its new tag.
	c := new(struct {
		res  Response
		hdrs [responseHeaders]Header
		to   [responseToRoom]byte
	})
	res := &c.res
	res.StatusCode, res.Reason, res.Proto = code, reason, "SIP/2.0"
	res.hdrs = c.hdrs[:0]
	for i := range req.hdrs {
		h := req.hdrs[i]
		switch h.kind {
		case hVia, hFrom, hCallID, hCSeq:
		case hTo:
			if code != StatusTrying && req.have&cTo != 0 && req.to.Tag() == "" {
				h = Header{Name: "To", Value: withTag(&c.to, h.Value, toTag), kind: hTo}
			}
		case hTimestamp:
			if code != StatusTrying {
				continue
			}
		default:
			continue
		}
		res.hdrs = append(res.hdrs, h)
	}
	res.callID = req.callID
	res.refresh(hVia)
	res.refresh(hFrom)
	res.refresh(hTo)
	res.refresh(hCSeq)
	return res
}

// SetFrom sets the From header.
func (m *msg) SetFrom(a Address) { m.Set("From", a.String()) }

// SetTo sets the To header.
func (m *msg) SetTo(a Address) { m.Set("To", a.String()) }

// SetToTag sets the tag parameter of To, keeping the rest of the line.
func (m *msg) SetToTag(tag string) {
	if m.have&cTo == 0 {
		return
	}
	a := m.to
	a.Params = a.Params.Set("tag", tag)
	m.SetTo(a)
}

// SetCallID sets the Call-ID header.
func (m *msg) SetCallID(id string) { m.Set("Call-ID", id) }

// SetCSeq sets the CSeq header.
func (m *msg) SetCSeq(c CSeq) { m.Set("CSeq", c.String()) }
