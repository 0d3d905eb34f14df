package sip

import (
	"errors"
	"strconv"
)

// Sentinel errors. Parse and stream errors are *ParseError values that wrap
// one of these, so callers test them with errors.Is.
var (
	// ErrMalformed reports bytes that are not a SIP message: a bad start
	// line, a header that does not follow its grammar, a body shorter than
	// its Content-Length.
	ErrMalformed = errors.New("sip: malformed message")
	// ErrMessageTooLarge reports a message that passes one of the Limits.
	ErrMessageTooLarge = errors.New("sip: message too large")
	// ErrNoHeader reports that a header a typed accessor needs is absent.
	ErrNoHeader = errors.New("sip: header not present")
)

// ParseError describes where and why a message, header or URI failed to
// parse. It wraps ErrMalformed or ErrMessageTooLarge.
type ParseError struct {
	// Part names what was being parsed: "start-line", "header", "Via",
	// "URI", "body", …
	Part string
	// Offset is the byte offset in the input where the problem was found,
	// or -1 when it is not known (a header parsed after the fact).
	Offset int
	// Reason says what was wrong, for humans.
	Reason string
	// Err is ErrMalformed or ErrMessageTooLarge.
	Err error
}

// Error implements error.
func (e *ParseError) Error() string {
	s := "sip: bad " + e.Part
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns the sentinel the error wraps.
func (e *ParseError) Unwrap() error { return e.Err }

func malformed(part string, off int, reason string) *ParseError {
	return &ParseError{Part: part, Offset: off, Reason: reason, Err: ErrMalformed}
}

func tooLarge(part string, off int, reason string) *ParseError {
	return &ParseError{Part: part, Offset: off, Reason: reason, Err: ErrMessageTooLarge}
}
