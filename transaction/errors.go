package transaction

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrTimeout: a transaction timer expired before the transaction
	// completed (RFC 3261 §17.1.1.2 Timer B, §17.1.2.2 Timer F, §17.2.1
	// Timer H). The error is a *TimeoutError naming the timer.
	ErrTimeout = errors.New("transaction: timeout")
	// ErrTransport: the transport failed to send a message of the
	// transaction, or the flow it uses failed (RFC 3261 §17.1.4, §8.1.3.1).
	// The error is a *TransportError wrapping the cause.
	ErrTransport = errors.New("transaction: transport failure")
	// ErrCanceled is the cause (context.Cause) of a server handler's
	// context when a CANCEL for its INVITE arrived (RFC 3261 §9.2).
	ErrCanceled = errors.New("transaction: canceled by CANCEL")
	// ErrClosed: the layer is closed or shutting down.
	ErrClosed = errors.New("transaction: layer closed")
	// ErrTooManyTransactions: Config.MaxTransactions transactions are
	// alive, so no client transaction can start.
	ErrTooManyTransactions = errors.New("transaction: too many transactions")
	// ErrFinalSent: a response was given after the final response of a
	// server transaction (only 2xx may follow a 2xx to an INVITE,
	// RFC 6026 §8.7).
	ErrFinalSent = errors.New("transaction: final response already sent")
	// ErrTerminated: the server transaction has already ended, so the
	// response cannot be sent through it.
	ErrTerminated = errors.New("transaction: terminated")
	// ErrInvalidMessage: the request or response cannot be used: no
	// CSeq, a status code out of 100–699, an ACK given to Request, …
	ErrInvalidMessage = errors.New("transaction: invalid message")
	// ErrDuplicate: a client transaction with the same branch and method
	// is already alive (RFC 3261 §17.1.3).
	ErrDuplicate = errors.New("transaction: duplicate branch")
)

// TimeoutError is a transaction that got no answer in time. Timer names
// the RFC 3261 timer that expired: "B", "F", "H", or "CANCEL" for an
// INVITE that got no final response within 64·T1 of its CANCEL (§9.1).
// errors.Is(err, ErrTimeout) holds.
//
// Errors of the layer's transactions also say where the request went and
// how long they waited, and read like "no response from 127.0.0.1:5099
// over UDP in 32 s" ("no ACK from …" for Timer H).
type TimeoutError struct {
	Timer string
	// Method is the transaction's method; empty when unknown.
	Method sip.Method
	// Network and Addr are the transport and the peer's address of the
	// transaction's flow: where the request went, or for Timer H where
	// the response went. Addr is the zero AddrPort when unknown.
	Network transport.Network
	Addr    netip.AddrPort
	// Waited is how long the transaction waited for what did not come:
	// the timer's duration (64·T1). Zero when unknown.
	Waited time.Duration
}

func (e *TimeoutError) Error() string {
	if !e.Addr.IsValid() {
		return "transaction: timer " + e.Timer + " expired"
	}
	what := "no response"
	switch e.Timer {
	case "H":
		what = "no ACK"
	case "CANCEL":
		what = "no final response after CANCEL"
	}
	msg := what + " from " + e.Addr.String()
	if e.Network != "" {
		msg += " over " + e.Network.ViaTransport()
	}
	if e.Waited > 0 {
		msg += " in " + formatWait(e.Waited)
	}
	return msg
}

// Is reports whether target is ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// onFlow fills in where the transaction's messages went.
func (e *TimeoutError) onFlow(method sip.Method, f transport.Flow) {
	e.Method, e.Network, e.Addr = method, f.Network, f.Remote
}

// formatWait writes a duration for people: "32 s", "6.4 s", "640 ms".
func formatWait(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// TransportError is a failure of the transport beneath a transaction
// (RFC 3261 §17.1.4, §17.2.4). errors.Is(err, ErrTransport) holds, and
// Unwrap gives the transport's own error.
type TransportError struct {
	Err error
}

// Error is the transport's own message when it already names the
// target ("nothing listens on 127.0.0.1:5099 over UDP (ICMP port
// unreachable)"), else prefixed with ErrTransport's.
func (e *TransportError) Error() string {
	if e.Err == nil {
		return ErrTransport.Error()
	}
	var ue *transport.UnreachableError
	var se *transport.SourceError
	if errors.As(e.Err, &ue) || errors.As(e.Err, &se) {
		return e.Err.Error()
	}
	return ErrTransport.Error() + ": " + e.Err.Error()
}

// Is reports whether target is ErrTransport.
func (e *TransportError) Is(target error) bool { return target == ErrTransport }

// Unwrap returns the transport's error.
func (e *TransportError) Unwrap() error { return e.Err }

// ErrNoTransport: New was given a nil Transport.
var ErrNoTransport = errors.New("transaction: no transport")

// lost reports whether a send on flow failed only because this host dropped
// the datagram (transport.ErrDatagramDropped: a firewall rule, a full send
// buffer). Over UDP that is loss like any other: the machines' timers
// retransmit, and Timer B or F ends the transaction if it lasts. Over a
// stream it cannot happen.
func lost(err error, flow transport.Flow) bool {
	return err != nil && flow.Network == transport.UDP && errors.Is(err, transport.ErrDatagramDropped)
}
