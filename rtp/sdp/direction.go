package sdp

import (
	"bytes"
	"strconv"
	"strings"
)

// Direction is a stream's direction attribute, from the point of view of
// the side that wrote the SDP (RFC 4566 §6, RFC 3264 §5.1). The zero value is
// SendRecv, the default when an SDP names no direction.
type Direction uint8

// Direction attributes (RFC 4566 §6).
const (
	// SendRecv: a=sendrecv, send and receive.
	SendRecv Direction = iota
	// SendOnly: a=sendonly, send only (the usual "hold", RFC 3264 §8.4).
	SendOnly
	// RecvOnly: a=recvonly, receive only.
	RecvOnly
	// Inactive: a=inactive, neither send nor receive.
	Inactive
)

// String returns the attribute name: "sendrecv", "sendonly", "recvonly" or
// "inactive".
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Sends reports whether the side with direction d sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side with direction d receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Reverse returns d as seen by the peer: what one side sends the other
// receives (sendonly ↔ recvonly; sendrecv and inactive stay).
func (d Direction) Reverse() Direction {
	return mediaDirectionOf(d.Receives(), d.Sends())
}

// Intersect returns the direction allowed by both d and o: it sends only if
// both send and receives only if both receive.
func (d Direction) Intersect(o Direction) Direction {
	return mediaDirectionOf(d.Sends() && o.Sends(), d.Receives() && o.Receives())
}

func mediaDirectionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// parseMediaDirection recognizes a direction attribute name.
func parseMediaDirection(key string) (Direction, bool) {
	switch strings.ToLower(key) {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

// Direction helpers on SDP text, for hosts that bring their own SDP and
// for answers without a media session: read and set the media direction
// (RFC 3264 §5.1, §6.1, §8.4) without parsing the whole description, so
// that they work on any body a peer sends.

// DirectionOf returns the media direction attribute of the SDP text b
// (RFC 3264 §5.1, RFC 4566 §6): that of the first media section that has
// one, else the session-level one, else SendRecv. Attributes are matched
// exactly ("a=sendonly"); LF and CRLF line ends are both read.
func DirectionOf(b []byte) Direction {
	var session, media Direction
	sawSession, sawMedia, inMedia := false, false, false
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(line, []byte("m=")) {
			inMedia = true
			continue
		}
		d, ok := directionLine(line)
		if !ok {
			continue
		}
		if inMedia && !sawMedia {
			media, sawMedia = d, true
		} else if !inMedia && !sawSession {
			session, sawSession = d, true
		}
	}
	switch {
	case sawMedia:
		return media
	case sawSession:
		return session
	}
	return SendRecv
}

// directionLine reports the direction of an a= line that is exactly one
// of the four direction attributes.
func directionLine(line []byte) (Direction, bool) {
	for _, d := range []Direction{SendRecv, SendOnly, RecvOnly, Inactive} {
		if len(line) == 2+len(d.String()) && string(line[:2]) == "a=" && string(line[2:]) == d.String() {
			return d, true
		}
	}
	return 0, false
}

// SetDirection returns a copy of the SDP text b whose media sections (or
// the session, when there is no media section) carry direction d in place
// of any direction they had, with the o= line's session version
// incremented (RFC 3264 §8, §8.4: hold is a new offer marked sendonly).
// It is enough to hold and resume a call without a media session. Lines
// end in CRLF in the copy. Nil or empty b gives nil; a d that is none of
// the four directions gives an unchanged copy of b.
func SetDirection(b []byte, d Direction) []byte {
	if len(b) == 0 {
		return nil
	}
	if d > Inactive {
		return bytes.Clone(b)
	}
	out := make([]byte, 0, len(b)+16)
	attr := "a=" + d.String() + "\r\n"
	sawMedia := false
	for line := range bytes.Lines(b) {
		body := bytes.TrimRight(line, "\r\n")
		if _, ok := directionLine(body); ok {
			continue
		}
		switch {
		case bytes.HasPrefix(body, []byte("o=")):
			out = append(out, bumpVersion(body)...)
			out = append(out, "\r\n"...)
			continue
		case bytes.HasPrefix(body, []byte("m=")):
			sawMedia = true
			out = append(out, body...)
			out = append(out, "\r\n"...)
			out = append(out, attr...)
			continue
		}
		out = append(out, body...)
		out = append(out, "\r\n"...)
	}
	if !sawMedia {
		out = append(out, attr...)
	}
	return out
}

// bumpVersion increments the sess-version of an o= line (RFC 4566 §5.2),
// leaving a line it cannot read as it is.
func bumpVersion(o []byte) []byte {
	f := bytes.Fields(o)
	if len(f) < 6 {
		return o
	}
	n, err := strconv.ParseUint(string(f[2]), 10, 64)
	if err != nil || f[2][0] == '+' {
		return o
	}
	f[2] = strconv.AppendUint(nil, n+1, 10)
	return bytes.Join(f, []byte(" "))
}
