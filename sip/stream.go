package sip

import (
	"bytes"
	"errors"
	"io"
)

// Keepalive says what Reader.Next found between messages (RFC 5626 §4.4.1).
type Keepalive uint8

// Keepalive kinds.
const (
	// KeepaliveNone: Next returned a message.
	KeepaliveNone Keepalive = iota
	// KeepalivePing: a double CRLF, which a server answers with one CRLF.
	KeepalivePing
	// KeepalivePong: a single CRLF, the answer to our ping.
	KeepalivePong
)

// readChunk is how much the Reader asks its source for at a time.
const readChunk = 4096

// Reader frames SIP messages on a byte stream (TCP, TLS, RFC 3261 §18.3):
// the header block ends at the first empty line and the body is exactly
// Content-Length bytes (0 when absent). CRLFs between messages are
// keepalives. A header block or body past its Limits fails with a
// *ParseError wrapping ErrMessageTooLarge before the excess is read.
// Framing errors are final: the stream cannot be resynchronised, so every
// later call returns the same error and the owner closes the connection.
//
// A Reader is not safe for concurrent use. Each message it returns owns
// its bytes: it does not alias the Reader's buffer.
type Reader struct {
	src        io.Reader
	lim        Limits
	buf        []byte
	start, end int
	err        error
}

// NewReader returns a Reader over r with the given limits (zero fields
// take defaults).
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{src: r, lim: lim.withDefaults(), buf: make([]byte, readChunk)}
}

// MaxKeptReaderBuffer is the largest buffer Reset keeps: a Reader whose
// buffer grew past it for a large message starts the next stream with a
// buffer of the initial size again, so that a Reader kept for reuse does
// not hold the memory of the largest message it ever framed.
const MaxKeptReaderBuffer = 16 * readChunk

// Reset makes r frame the stream src from its start, with the limits it
// was made with, as a new Reader would, but keeping its buffer (up to
// MaxKeptReaderBuffer): an owner that reads many streams in turn (a
// server's reader goroutine, one connection after another) frames them
// all with one Reader and no allocation. Bytes of the previous stream not
// yet returned are dropped, and so is its error.
func (r *Reader) Reset(src io.Reader) {
	if len(r.buf) > MaxKeptReaderBuffer {
		r.buf = make([]byte, readChunk)
	}
	r.src, r.start, r.end, r.err = src, 0, 0, nil
}

// ReadMessage returns the next message, skipping keepalives.
func (r *Reader) ReadMessage() (Message, error) {
	for {
		m, ka, err := r.Next()
		if err != nil || ka == KeepaliveNone {
			return m, err
		}
	}
}

// Buffered returns how many bytes have been read from the source but not
// yet returned as part of a message.
func (r *Reader) Buffered() int { return r.end - r.start }

// Next returns the next message, or the next keepalive (with a nil
// message) so that a server can answer a ping at once. io.EOF at a message
// boundary is returned as is; EOF inside a message is io.ErrUnexpectedEOF.
func (r *Reader) Next() (Message, Keepalive, error) {
	if r.err != nil {
		return nil, KeepaliveNone, r.err
	}
	m, ka, err := r.next()
	if err != nil {
		r.err = err
	}
	return m, ka, err
}

func (r *Reader) next() (Message, Keepalive, error) {
	// Keepalives and stray line ends before a message.
	for {
		if r.start == r.end {
			if err := r.fill(r.start == r.end); err != nil {
				return nil, KeepaliveNone, err
			}
			continue
		}
		b := r.buf[r.start:r.end]
		switch {
		case b[0] == '\n':
			r.start++
			continue
		case b[0] != '\r':
		case len(b) < 2:
			if err := r.fill(false); err != nil {
				return nil, KeepaliveNone, err
			}
			continue
		case b[1] != '\n':
			return nil, KeepaliveNone, malformed("start-line", 0, "CR without LF")
		case len(b) >= 4 && b[2] == '\r' && b[3] == '\n':
			r.start += 4
			return nil, KeepalivePing, nil
		case len(b) == 3 && b[2] == '\r':
			// CRLF CR: wait for the rest of a ping.
			if err := r.fill(false); err != nil {
				return nil, KeepaliveNone, err
			}
			continue
		default:
			// A lone CRLF is a pong. A ping split between two segments
			// reads as two pongs: peers write the four bytes at once, and
			// guessing across reads would turn a later pong into a ping.
			r.start += 2
			return nil, KeepalivePong, nil
		}
		break
	}
	// Header block.
	var headLen, bodyStart int
	for {
		headLen, bodyStart = findHeadEnd(r.buf[r.start:r.end], r.lim.MaxHeadBytes)
		if headLen >= 0 {
			break
		}
		if r.end-r.start > r.lim.MaxHeadBytes {
			return nil, KeepaliveNone, tooLarge("header", r.lim.MaxHeadBytes, "header block exceeds MaxHeadBytes")
		}
		if err := r.fill(false); err != nil {
			return nil, KeepaliveNone, err
		}
	}
	if bodyStart > r.lim.MaxHeadBytes {
		return nil, KeepaliveNone, tooLarge("header", r.lim.MaxHeadBytes, "header block exceeds MaxHeadBytes")
	}
	cl, err := scanContentLength(r.buf[r.start : r.start+headLen])
	if err != nil {
		return nil, KeepaliveNone, err
	}
	if cl > r.lim.MaxBodyBytes {
		return nil, KeepaliveNone, tooLarge("body", bodyStart, "Content-Length exceeds MaxBodyBytes")
	}
	total := bodyStart + cl
	for r.end-r.start < total {
		if err := r.fill(false); err != nil {
			return nil, KeepaliveNone, err
		}
	}
	buf := make([]byte, total)
	copy(buf, r.buf[r.start:r.start+total])
	r.start += total
	p := parser{buf: buf, lim: r.lim}
	m, err := p.parse(bodyStart, false)
	return m, KeepaliveNone, err
}

// fill reads more bytes, growing or compacting the buffer as needed. At a
// message boundary (atBoundary) a clean EOF is io.EOF, elsewhere it is
// io.ErrUnexpectedEOF.
func (r *Reader) fill(atBoundary bool) error {
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			n := copy(r.buf, r.buf[r.start:r.end])
			r.start, r.end = 0, n
		} else {
			// The limits bound the size: head + body at most.
			nb := make([]byte, 2*len(r.buf))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
	}
	want := min(len(r.buf), r.end+readChunk*4)
	for tries := 0; ; tries++ {
		n, err := r.src.Read(r.buf[r.end:want])
		r.end += n
		if n > 0 {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if atBoundary && r.start == r.end {
					return io.EOF
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if tries > 100 {
			return io.ErrNoProgress
		}
	}
}

// scanContentLength finds Content-Length (or "l") in a header block
// without parsing the rest; absent means 0 on a stream.
func scanContentLength(head []byte) (int, error) {
	cl := -1
	for pos := bytes.IndexByte(head, '\n') + 1; pos < len(head); {
		end := pos + bytes.IndexByte(head[pos:], '\n')
		line := head[pos:end]
		pos = end + 1
		i := 0
		for i < len(line) && isToken(line[i]) {
			i++
		}
		name := str(line[:i])
		if !(len(name) == 1 && (name[0]|0x20) == 'l') && !equalFold(name, "Content-Length") {
			continue
		}
		// Join folded continuation lines of this header (rare: only
		// then is a string built).
		value := str(line[i:])
		for pos < len(head) && isWS(head[pos]) {
			end := pos + bytes.IndexByte(head[pos:], '\n')
			value += " " + string(head[pos:end])
			pos = end + 1
		}
		value = trimLWS(value)
		if value == "" || value[0] != ':' {
			continue
		}
		n, ok := parseUint(trimLWS(value[1:]), 1<<31-1)
		if !ok {
			return 0, malformed("Content-Length", -1, "not a non-negative number")
		}
		if cl >= 0 && cl != int(n) {
			return 0, malformed("Content-Length", -1, "conflicting Content-Length headers")
		}
		cl = int(n)
	}
	return max(cl, 0), nil
}
