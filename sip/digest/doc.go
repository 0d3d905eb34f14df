// Package digest implements HTTP Digest authentication as SIP uses it:
// RFC 3261 §22 with the algorithms and parameters of RFC 7616 (SHA-256,
// SHA-512-256, their -sess variants, userhash) as RFC 8760 brings them to
// SIP, and RFC 2617/2069 compatibility (MD5, no qop).
//
// The package works on header field values, the text after
// "WWW-Authenticate:", "Proxy-Authenticate:", "Authorization:" or
// "Proxy-Authorization:", and imports nothing else of Dialtone. Putting
// the values into messages, choosing 401 or 407 and retrying requests is
// the job of the ua layer (and of proxies and registrars built on it).
//
// # Client side
//
// [ParseChallenge] and [ParseChallenges] read challenges; [Strongest] picks
// the one to answer (SHA-512-256 over SHA-256 over MD5, RFC 8760 §2.4);
// [Authorize] computes the credentials (RFC 7616 §3.4.1) and
// [Authorization.AppendTo] writes them. [Client] adds the state a user
// agent needs: the nonce of each realm, nonce counts for credentials sent
// without waiting for a challenge, fresh client nonces from crypto/rand,
// stale nonces, and the rule that stops authentication loops (see
// [Client.Respond]).
//
// # Server side
//
// [Server] issues challenges and verifies credentials for one realm. Its
// nonces carry their issue time and an HMAC under a secret key, so they can
// be checked without being stored, and they expire
// ([ServerConfig.NonceLifetime]); expired nonces with correct credentials
// give [ErrStale] so that the caller re-challenges with stale=true. Nonce
// counts are tracked per nonce within a bounded table
// ([ServerConfig.MaxTrackedNonces]) to refuse replays.
//
// # Concurrency and ownership
//
// [Client] and [Server] are safe for concurrent use. Parsed values own
// their strings (they may share memory with the input string, which Go
// strings make safe). Everything else is a plain value.
//
// # Limits
//
// One header value holds at most [MaxParams] parameters and a qop list
// [MaxQOPOptions] entries. Errors are *[ParseError] values wrapping the
// package's sentinels; nothing panics on external input.
//
// # Not covered
//
// The username* parameter (RFC 7616 §3.4: SIP values are UTF-8 already),
// Authentication-Info / rspauth (RFC 7616 §3.5), and hashed usernames on the
// server side. AKA (RFC 3310) is out of scope.
package digest
