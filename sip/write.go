package sip

import "strconv"

// AppendTo appends the request's wire form to dst: request line, header
// lines (untouched parsed lines byte for byte), a Content-Length that is
// always present and always true, the empty line and the body.
func (r *Request) AppendTo(dst []byte) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = r.URI.AppendTo(dst)
	dst = append(dst, ' ')
	dst = appendProto(dst, r.Proto)
	dst = append(dst, '\r', '\n')
	return r.msg.appendRest(dst)
}

// AppendTo appends the response's wire form to dst, with the same rules as
// Request.AppendTo.
func (r *Response) AppendTo(dst []byte) []byte {
	dst = appendProto(dst, r.Proto)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.StatusCode), 10)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason...)
	dst = append(dst, '\r', '\n')
	return r.msg.appendRest(dst)
}

func appendProto(dst []byte, proto string) []byte {
	if proto == "" {
		proto = "SIP/2.0"
	}
	return append(dst, proto...)
}

func (m *msg) appendRest(dst []byte) []byte {
	wroteLength := false
	for i := range m.hdrs {
		h := &m.hdrs[i]
		if h.kind == hContentLength {
			if wroteLength {
				continue
			}
			wroteLength = true
			if n, ok := parseUint(h.Value, 1<<31); ok && h.rawLen != 0 && int(n) == len(m.body) {
				dst = append(dst, h.raw()...)
				dst = append(dst, '\r', '\n')
				continue
			}
			dst = appendContentLength(dst, len(m.body))
			continue
		}
		if raw := h.raw(); raw != "" {
			dst = append(dst, raw...)
		} else {
			dst = append(dst, h.Name...)
			dst = append(dst, ':', ' ')
			dst = append(dst, h.Value...)
		}
		dst = append(dst, '\r', '\n')
	}
	if !wroteLength {
		dst = appendContentLength(dst, len(m.body))
	}
	dst = append(dst, '\r', '\n')
	return append(dst, m.body...)
}

func appendContentLength(dst []byte, n int) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}
