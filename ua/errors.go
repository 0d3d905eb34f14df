package ua

import (
	"errors"
	"strconv"

	"github.com/dialtone/dialtone/sip"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrClosed: the UA is closed or closing.
	ErrClosed = errors.New("ua: closed")
	// ErrTooManyCalls: Limits.MaxCalls calls are alive.
	ErrTooManyCalls = errors.New("ua: too many calls")
	// ErrLocalHangup: the call was ended by Hangup (Call.Err).
	ErrLocalHangup = errors.New("ua: hung up")
	// ErrRemoteHangup: the peer sent BYE (Call.Err).
	ErrRemoteHangup = errors.New("ua: peer hung up")
	// ErrNoACK: no ACK came for our 2xx within 64·T1; the call was ended
	// with a BYE (RFC 3261 §13.3.1.4).
	ErrNoACK = errors.New("ua: no ACK for 2xx")
	// ErrCallCanceled: the caller canceled an incoming call before it was
	// answered (RFC 3261 §9.2).
	ErrCallCanceled = errors.New("ua: call canceled by caller")
	// ErrCallEnded: the call has ended; nothing can be sent in it.
	ErrCallEnded = errors.New("ua: call ended")
	// ErrNotEstablished: a re-INVITE was asked for a call whose dialog is
	// not confirmed yet (our 2xx still awaits its ACK).
	ErrNotEstablished = errors.New("ua: call not established yet")
	// ErrAnswered: an incoming call already has its final response.
	ErrAnswered = errors.New("ua: call already answered")
	// ErrTooManyRedirects: a Dial met more 3xx responses than
	// DialOptions.MaxRedirects allows.
	ErrTooManyRedirects = errors.New("ua: too many redirects")
	// ErrRedirectLoop: every Contact of a 3xx had been tried already.
	ErrRedirectLoop = errors.New("ua: redirect loop")
	// ErrBadTarget: a target or configured URI does not parse or is not
	// a SIP URI.
	ErrBadTarget = errors.New("ua: bad URI")
	// ErrNoListener: no listener fits the transport a request needs.
	ErrNoListener = errors.New("ua: no listener for transport")
	// ErrDialogTerminated: the peer answered an in-dialog request with 481
	// or 408, or it got no answer: the dialog is gone (RFC 3261 §12.2.1.2).
	ErrDialogTerminated = errors.New("ua: dialog terminated")
	// ErrNoRegistrar: Register was called for a line without Registrar.
	ErrNoRegistrar = errors.New("ua: line has no registrar")
	// ErrHandlerSet: Config.Transaction.Handler, Config.Transport.OnFlowClosed
	// or Config.Transport.OnSTUN was set; the UA is the transaction user of
	// its own layers and takes those itself.
	ErrHandlerSet = errors.New("ua: Config.Transaction.Handler, Transport.OnFlowClosed and Transport.OnSTUN must be nil: the UA sets them")
)

// StatusError is a final non-2xx response to one of our requests: the peer
// said no. errors.As gives the response:
//
//	var se *ua.StatusError
//	if errors.As(err, &se) && se.Response.StatusCode == sip.StatusBusyHere { … }
type StatusError struct {
	Response *sip.Response
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Response == nil {
		return "ua: request failed"
	}
	return "ua: " + strconv.Itoa(e.Response.StatusCode) + " " + e.Response.Reason
}

// Code returns the status code (0 without a response).
func (e *StatusError) Code() int {
	if e.Response == nil {
		return 0
	}
	return e.Response.StatusCode
}

// AnswerError is what an OnReinvite callback returns to answer with a
// status of its choice (488 Not Acceptable Here is used for other errors).
type AnswerError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *AnswerError) Error() string { return "ua: answer " + strconv.Itoa(e.Code) + " " + e.Reason }
