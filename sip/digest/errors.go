package digest

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by this package matches one of them
// with [errors.Is].
var (
	// ErrMalformed reports a header value that does not follow the grammar
	// of RFC 3261 §25.1 (challenge, credentials) or misses a required
	// parameter. It is wrapped in a *[ParseError].
	ErrMalformed = errors.New("digest: malformed header value")

	// ErrUnsupportedScheme reports a challenge or credentials whose scheme is
	// not Digest (Basic, Bearer, …). RFC 3261 §22.1 (Basic is not allowed in SIP).
	ErrUnsupportedScheme = errors.New("digest: unsupported authentication scheme")

	// ErrUnsupportedAlgorithm reports an algorithm this package does not
	// implement (RFC 7616 §3.2; RFC 8760 §2), or one a server did not offer.
	ErrUnsupportedAlgorithm = errors.New("digest: unsupported algorithm")

	// ErrUnsupportedQOP reports a challenge whose qop options are all unknown,
	// or credentials with a qop value the server did not offer (RFC 7616 §3.3).
	ErrUnsupportedQOP = errors.New("digest: unsupported qop")

	// ErrNoCredentials reports credentials that cannot answer a challenge:
	// no password and no precomputed HA1 for the challenge's algorithm.
	ErrNoCredentials = errors.New("digest: no usable credentials")

	// ErrAuthFailed is reported by [Client.Respond] when the server rejected
	// credentials that were sent for its current nonce: a new challenge for
	// the same realm without stale=true (RFC 7616 §3.3, "stale"). Retrying
	// with the same credentials would loop. See [AuthFailedError].
	ErrAuthFailed = errors.New("digest: authentication failed")

	// ErrStale is returned by [Server.Verify] when the credentials are
	// correct but the nonce has expired or can no longer be checked for
	// replay: re-challenge with stale=true (RFC 7616 §3.3, §5.4).
	ErrStale = errors.New("digest: stale nonce")

	// ErrInvalidNonce is returned by [Server.Verify] for a nonce this server
	// did not issue: undecodable, or with a wrong HMAC (tampered, other realm,
	// other secret).
	ErrInvalidNonce = errors.New("digest: invalid nonce")

	// ErrReplay is returned by [Server.Verify] when the nonce count was not
	// greater than the last one accepted for the same nonce (RFC 7616 §3.4, "nc";
	// §5.5).
	ErrReplay = errors.New("digest: replayed nonce count")

	// ErrRealmMismatch is returned by [Server.Verify] when the credentials
	// name another realm, or another opaque value than the one issued.
	ErrRealmMismatch = errors.New("digest: realm or opaque mismatch")

	// ErrUnknownUser is returned by [Server.Verify] when the lookup function
	// does not know the user (or has no secret usable with the algorithm).
	ErrUnknownUser = errors.New("digest: unknown user")

	// ErrWrongResponse is returned by [Server.Verify] when the response digest
	// does not match: wrong password, wrong method or body, or a forgery.
	ErrWrongResponse = errors.New("digest: wrong response")
)

// ParseError locates a syntax error in a header value. It wraps
// [ErrMalformed], [ErrUnsupportedScheme] or [ErrUnsupportedAlgorithm].
type ParseError struct {
	Offset int    // byte offset in the header value
	Reason string // what was expected or found
	Err    error  // one of the package's sentinels
}

// Error describes the error with its offset.
func (e *ParseError) Error() string {
	return e.Err.Error() + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel.
func (e *ParseError) Unwrap() error { return e.Err }

// AuthFailedError is the error [Client.Respond] returns when a server
// rejects credentials it already received. It matches [ErrAuthFailed].
type AuthFailedError struct {
	Realm string // realm of the rejecting challenge
	Stale bool   // the challenge said stale=true, but for a nonce that cannot be retried
}

// Error names the realm that refused the credentials.
func (e *AuthFailedError) Error() string {
	s := "digest: authentication failed for realm " + strconv.Quote(e.Realm)
	if e.Stale {
		s += " (repeated stale nonce)"
	}
	return s
}

// Is reports whether target is [ErrAuthFailed].
func (e *AuthFailedError) Is(target error) bool { return target == ErrAuthFailed }
