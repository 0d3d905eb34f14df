package dialog

import (
	"errors"
	"strconv"

	"github.com/dialtone/dialtone/sip"
)

// Sentinel errors. Failures that decide the answer to an incoming request
// are *RejectError values wrapping one of these.
var (
	// ErrNoDialog: no dialog matches an incoming request (answer 481,
	// RFC 3261 §12.2.2).
	ErrNoDialog = errors.New("dialog: no such dialog")
	// ErrTerminated: the dialog has ended; in-dialog requests get 481 and
	// no new request can be built.
	ErrTerminated = errors.New("dialog: dialog terminated")
	// ErrWrongDialog: a message's Call-ID or tags are not this dialog's.
	ErrWrongDialog = errors.New("dialog: message belongs to another dialog")
	// ErrOutOfOrder: an incoming request's CSeq is not above the remote
	// sequence number (answer 500, RFC 3261 §12.2.2).
	ErrOutOfOrder = errors.New("dialog: CSeq out of order")
	// ErrRequestPending: an INVITE or an offer crosses one in progress in
	// the other direction (glare, answer 491, RFC 3261 §14, RFC 3311 §5.2).
	ErrRequestPending = errors.New("dialog: request pending")
	// ErrOverlap: an INVITE or an offer arrives while the peer's previous
	// one is still unanswered (answer 500 with Retry-After, RFC 3261
	// §14.2, RFC 3311 §5.2).
	ErrOverlap = errors.New("dialog: previous request still unanswered")
	// ErrNotDialogResponse: a response cannot create or update a dialog
	// (not 101–299, or no To tag where one is needed, RFC 3261 §12.1).
	ErrNotDialogResponse = errors.New("dialog: response does not create a dialog")
	// ErrMethod: the method cannot be built by NewRequest (ACK and CANCEL
	// have their own rules, RFC 3261 §12.2.1.1).
	ErrMethod = errors.New("dialog: method not built here")
	// ErrSeqExhausted: the local CSeq cannot grow any more (RFC 3261
	// §8.1.1.5: it must stay below 2**31 for the first request and fit
	// 32 bits).
	ErrSeqExhausted = errors.New("dialog: local CSeq exhausted")
	// ErrMalformed wraps a header the dialog needs that does not parse
	// (Record-Route, Contact, CSeq, From, To); answer 400.
	ErrMalformed = errors.New("dialog: malformed header")
)

// RejectError says which response to send to an incoming request that the
// dialog layer refuses: 481, 500, 491 or 400. Err is one of the sentinels,
// so errors.Is(err, ErrOutOfOrder) works through it.
type RejectError struct {
	// Code is the status code to answer with.
	Code int
	// Err is the sentinel naming the cause.
	Err error
}

// Error implements error.
func (e *RejectError) Error() string {
	return strconv.Itoa(e.Code) + " " + sip.StatusText(e.Code) + ": " + e.Err.Error()
}

// Unwrap returns the sentinel.
func (e *RejectError) Unwrap() error { return e.Err }

// StatusCode returns the status code a UAS answers for err: the Code of a
// *RejectError in its chain, 0 for nil, else 500.
func StatusCode(err error) int {
	if err == nil {
		return 0
	}
	if se, ok := errors.AsType[*RejectError](err); ok {
		return se.Code
	}
	return sip.StatusServerInternalError
}

func rejectErr(code int, err error) *RejectError { return &RejectError{Code: code, Err: err} }
