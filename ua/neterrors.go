package ua

import (
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Errors from the layers beneath, which Dial, Register, SendMessage and
// the other requests return wrapped ("ua: INVITE sip:bob@…: …"). They are
// re-exported here so that a host can tell them apart with errors.Is and
// errors.As without importing package transport or transaction:
//
//	_, err := u.Dial(ctx, "sip:bob@127.0.0.1:5099", ua.DialOptions{})
//	switch {
//	case errors.Is(err, ua.ErrNoSuchHost):      // cannot resolve "…": no such host
//	case errors.Is(err, ua.ErrPortUnreachable): // nothing listens on …:5099 over UDP
//	case errors.Is(err, ua.ErrLoopbackSource):  // cannot reach 192.0.2.1:5060 from a socket bound to 127.0.0.1
//	case errors.Is(err, ua.ErrTimeout):         // no response from …:5099 over UDP in 32 s
//	}
var (
	// ErrTimeout: the peer did not answer in time (Timer B or F, RFC
	// 3261 §17.1); the error is a *TimeoutError naming the peer, the
	// transport and the time waited.
	ErrTimeout = transaction.ErrTimeout
	// ErrTransport: the request could not be sent, or its flow failed
	// (RFC 3261 §17.1.4); the transport's error is wrapped inside.
	ErrTransport = transaction.ErrTransport
	// ErrUnreachable: the target could not be reached; matched by every
	// *UnreachableError and *SourceError.
	ErrUnreachable = transport.ErrUnreachable
	// ErrPortUnreachable: the target's host answered ICMP port
	// unreachable: nothing listens on that UDP port (Linux, which reports
	// it at once instead of after Timer B or F).
	ErrPortUnreachable = transport.ErrPortUnreachable
	// ErrLoopbackSource: the UA listens on a loopback address only and
	// the target is outside the host.
	ErrLoopbackSource = transport.ErrLoopbackSource
	// ErrNoSuchHost: the target's host name does not exist.
	ErrNoSuchHost = transport.ErrNoSuchHost
	// ErrNoTargets: the target's URI resolved to no address (matched by
	// every *ResolveError, ErrNoSuchHost's included).
	ErrNoTargets = transport.ErrNoTargets
)

// Error types of the layers beneath, for errors.As.
type (
	// TimeoutError is transaction.TimeoutError: Timer, Method, Network,
	// Addr and Waited.
	TimeoutError = transaction.TimeoutError
	// UnreachableError is transport.UnreachableError: the target's
	// Network and Addr, and why.
	UnreachableError = transport.UnreachableError
	// SourceError is transport.SourceError: the loopback Local address
	// and the target Addr it cannot reach.
	SourceError = transport.SourceError
	// ResolveError is transport.ResolveError: the Name that gave no
	// target, and why.
	ResolveError = transport.ResolveError
)
