package transport

import (
	"errors"
	"net"
	"strconv"
)

// Resolution errors. Every error a Resolver in this package returns is a
// *ResolveError; it matches ErrNoTargets, and also its cause
// (ErrNoSuchHost, ErrUnsupportedURI, a context error, a DNS failure).
var (
	// ErrNoTargets: the URI resolved to no address (NXDOMAIN, no
	// records, every lookup failed).
	ErrNoTargets = errors.New("transport: no targets for URI")
	// ErrNoSuchHost: the URI's host does not exist: DNS answered NXDOMAIN
	// for its addresses (the system resolver "no such host"), or a
	// StaticResolver does not list it. The cause is then a *net.DNSError
	// with IsNotFound set, which matches ErrNoSuchHost.
	ErrNoSuchHost = errors.New("transport: no such host")
	// ErrUnsupportedURI: the URI is not a sip or sips URI with a host, or
	// asks for a transport this package does not have (sctp), or for UDP
	// with sips (RFC 3261 §26.2.2 gives sips TLS only).
	ErrUnsupportedURI = errors.New("transport: URI cannot be resolved")
)

// ResolveError reports a URI that gave no target. Its message says why:
// `cannot resolve "nosuch.invalid": no such host`.
type ResolveError struct {
	// Name is the host (or maddr) that was resolved, or the URI when it
	// has none.
	Name string
	// Err is why: ErrNoTargets when DNS said there is nothing, a
	// *net.DNSError matching ErrNoSuchHost when the host does not exist,
	// ErrUnsupportedURI, or the failure of the last lookup (a timeout, a
	// server failure, a context error).
	Err error
}

func (e *ResolveError) Error() string {
	return "cannot resolve " + strconv.Quote(e.Name) + ": " + e.reason()
}

// reason is the cause in words.
func (e *ResolveError) reason() string {
	c := e.cause()
	switch {
	case c == ErrNoTargets:
		return "no SIP target (no usable records)"
	case errors.Is(c, ErrNoSuchHost):
		return "no such host"
	case c == ErrUnsupportedURI:
		return "not a SIP URI this package can reach (sip or sips with a host; UDP, TCP, TLS, WS or WSS)"
	}
	return c.Error()
}

func (e *ResolveError) cause() error {
	if e.Err == nil {
		return ErrNoTargets
	}
	return e.Err
}

// Unwrap returns ErrNoTargets and the cause, so errors.Is matches both.
func (e *ResolveError) Unwrap() []error {
	if c := e.cause(); c != ErrNoTargets {
		return []error{ErrNoTargets, c}
	}
	return []error{ErrNoTargets}
}

// noSuchHost is the cause of a ResolveError for a host that does not
// exist: a *net.DNSError as the net package reports it, matching
// ErrNoSuchHost.
func noSuchHost(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true, UnwrapErr: ErrNoSuchHost}
}
