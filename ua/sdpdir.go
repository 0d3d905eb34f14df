package ua

import (
	"bytes"
	"fmt"
)

// SDP text helpers for hosts that bring their own SDP: read and set the
// media direction (RFC 3264 §5.1, §6.1).

// SDPDirection returns the media direction attribute of sdp (RFC 3264
// §5.1, RFC 4566 §6): that of the first media section that has one, else
// the session-level one, else "sendrecv".
func SDPDirection(sdp []byte) string {
	session, media := "", ""
	inMedia := false
	for line := range bytes.Lines(sdp) {
		line = bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(line, []byte("m=")) {
			inMedia = true
			continue
		}
		if d := directionOf(line); d != "" {
			if inMedia && media == "" {
				media = d
			} else if !inMedia && session == "" {
				session = d
			}
		}
	}
	switch {
	case media != "":
		return media
	case session != "":
		return session
	}
	return "sendrecv"
}

func directionOf(line []byte) string {
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if string(line) == "a="+d {
			return d
		}
	}
	return ""
}

// SetSDPDirection returns a copy of sdp whose media sections (or the
// session, when there is no media section) carry direction dir ("sendrecv",
// "sendonly", "recvonly" or "inactive") in place of any direction they had,
// with the o= line's session version incremented (RFC 3264 §8, §8.4: hold is
// a new offer marked sendonly). It is enough to hold and resume a call
// without a media layer; nil in gives nil.
func SetSDPDirection(sdp []byte, dir string) []byte {
	if len(sdp) == 0 {
		return nil
	}
	out := make([]byte, 0, len(sdp)+16)
	attr := "a=" + dir + "\r\n"
	sawMedia := false
	for line := range bytes.Lines(sdp) {
		body := bytes.TrimRight(line, "\r\n")
		switch {
		case directionOf(body) != "":
			continue
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

// bumpVersion increments the sess-version of an o= line (RFC 4566 §5.2).
func bumpVersion(o []byte) []byte {
	f := bytes.Fields(o)
	if len(f) < 6 {
		return o
	}
	v := f[2]
	n := uint64(0)
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return o
		}
		n = n*10 + uint64(ch-'0')
	}
	f[2] = fmt.Appendf(nil, "%d", n+1)
	return bytes.Join(f, []byte(" "))
}

// mirrorDirection is the direction that answers an offer's (RFC 3264
// §6.1).
func mirrorDirection(offer string) string {
	switch offer {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
