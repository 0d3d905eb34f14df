// Package srtp secures RTP media with SRTP (RFC 3711) keyed by SDES
// (RFC 4568, the SDP a=crypto attribute) or by DTLS-SRTP (RFC 5763,
// RFC 5764), over pion/srtp and pion/dtls: Dialtone writes the key
// exchange and the policy, pion does the cryptography and the DTLS
// protocol.
//
//   - Suite names the crypto suites of a=crypto this package speaks:
//     AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2),
//     AES_256_CM_HMAC_SHA1_80 and _32 (RFC 6188) and AEAD_AES_128_GCM and
//     AEAD_AES_256_GCM (RFC 7714 §12).
//   - Crypto is one a=crypto attribute: ParseCrypto reads one, NewCrypto
//     makes one with a fresh random key, Crypto.Attribute writes one.
//     OfferCryptos, AnswerCrypto and MatchAnswer are the SDES offer/answer
//     (RFC 4568 §7).
//   - Policy is a line's choice: off, optional (the "best effort" offer,
//     RTP/AVP with a=crypto, which peers without SRTP simply ignore) or
//     mandatory (RTP/SAVP, and a plain offer refused), or dtls
//     (UDP/TLS/RTP/SAVP keyed by DTLS-SRTP). A sips: call defaults to
//     mandatory (Policy.For).
//   - Fingerprint, Setup and NewCertificate are the SDP side of
//     DTLS-SRTP (RFC 8122 a=fingerprint, RFC 5763 a=setup, a self-signed
//     certificate per UA); Handshake runs the DTLS handshake over a
//     packet connection, checks the peer's certificate against its
//     a=fingerprint and exports the SRTP keys (use_srtp:
//     AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM). rtp.Session.HandshakeDTLS
//     runs it on a call's RTP socket, and without rtcp-mux on its RTCP
//     socket too.
//   - Context protects the packets one session sends and unprotects the
//     ones it receives, RTP and RTCP (SRTCP, keyed apart when the RTCP
//     port has a DTLS association of its own), with a replay window, and
//     counts the packets it refuses: replayed, failing authentication
//     (tampered, or keyed otherwise), malformed.
//
// # Keys
//
// Keying material never reaches a log or a trace by accident: Keys and
// Crypto print as "[redacted]" with fmt's %v, %+v, %s and %#v and as slog
// values; only Crypto.Attribute, which writes the SDP line, gives the
// key out. Errors never quote an a=crypto value. Keys exported by a
// DTLS handshake are Keys too, and pion/dtls logs only to
// DTLSConfig.Logger, at debug level, without key material.
//
// # Concurrency and buffers
//
// A Context is safe for concurrent use: one lock for the sending side,
// one for the receiving side. Protect and
// Unprotect append to a caller-supplied dst and return it, like the rest of
// the media packages: with enough capacity, they do not allocate.
package srtp
