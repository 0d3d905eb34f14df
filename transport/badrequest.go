package transport

import (
	"bytes"
	"strings"

	"github.com/dialtone/dialtone/sip"
)

// badRequest builds, on a best-effort basis, a 400 response to the bytes of
// a request that did not parse: it needs a request line and the Via, From,
// To, Call-ID and CSeq lines (any case, compact forms too), which it copies
// as they are, the way §8.2.6 copies them. It returns nil when the bytes do
// not look like a request or miss one of those headers, or when the request
// is an ACK (never answered). reason says what was wrong and is appended to
// the reason phrase.
func badRequest(raw []byte, reason string) []byte {
	line, rest, ok := cutLine(raw)
	for ok && len(line) == 0 { // leading CRLFs
		line, rest, ok = cutLine(rest)
	}
	if !ok || bytes.HasPrefix(line, []byte("SIP/")) {
		return nil
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.HasSuffix(bytes.TrimRight(line, " \t"), []byte("SIP/2.0")) {
		return nil
	}
	if string(line[:sp]) == string(sip.ACK) {
		return nil
	}
	var vias, from, to, callID, cseq [][]byte
	for {
		line, rest, ok = cutLine(rest)
		if !ok || len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' { // folding: not copied
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := sip.CanonicalName(strings.TrimSpace(string(line[:colon])))
		value := bytes.TrimSpace(line[colon+1:])
		if len(value) == 0 || !printable(value) {
			continue
		}
		switch name {
		case "Via":
			vias = append(vias, value)
		case "From":
			from = append(from, value)
		case "To":
			to = append(to, value)
		case "Call-ID":
			callID = append(callID, value)
		case "CSeq":
			cseq = append(cseq, value)
		}
	}
	if len(vias) == 0 || len(from) != 1 || len(to) != 1 || len(callID) != 1 || len(cseq) != 1 {
		return nil
	}
	out := make([]byte, 0, 256)
	out = append(out, "SIP/2.0 400 Bad Request"...)
	if reason = sanitizeReason(reason); reason != "" {
		out = append(out, " ("...)
		out = append(out, reason...)
		out = append(out, ')')
	}
	out = append(out, "\r\n"...)
	for _, v := range vias {
		out = appendHeader(out, "Via", v)
	}
	out = appendHeader(out, "From", from[0])
	toV := to[0]
	if !bytes.Contains(bytes.ToLower(toV), []byte(";tag=")) {
		toV = append(append(append([]byte(nil), toV...), ";tag="...), sip.NewTag()...)
	}
	out = appendHeader(out, "To", toV)
	out = appendHeader(out, "Call-ID", callID[0])
	out = appendHeader(out, "CSeq", cseq[0])
	out = append(out, "Content-Length: 0\r\n\r\n"...)
	return out
}

func appendHeader(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// cutLine returns the first line of b without its line end (CRLF or LF)
// and the rest; ok is false when b holds no complete line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// printable reports whether a header value has no control characters
// other than tab, so that copying it cannot break the response's framing.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func sanitizeReason(s string) string {
	const maxLen = 80
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '(' && c != ')' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
