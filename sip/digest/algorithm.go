package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strconv"
)

// Algorithm is a Digest hash algorithm with its session variant (RFC 7616
// §3.2, §6.1; RFC 8760 §2 registers them for SIP). The zero value is [MD5],
// the default when a challenge has no algorithm parameter (RFC 3261 §22.4).
type Algorithm uint8

// Algorithms defined by RFC 7616 §6.1 and allowed in SIP by RFC 8760 §2.
const (
	MD5            Algorithm = iota // "MD5"
	MD5Sess                         // "MD5-sess"
	SHA256                          // "SHA-256"
	SHA256Sess                      // "SHA-256-sess"
	SHA512_256                      // "SHA-512-256" (SHA-512/256, FIPS 180-4)
	SHA512_256Sess                  // "SHA-512-256-sess"
	numAlgorithms
)

var algorithmNames = [numAlgorithms]string{"MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"}

// String returns the algorithm's token as written on the wire.
func (a Algorithm) String() string {
	if a < numAlgorithms {
		return algorithmNames[a]
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// ParseAlgorithm maps an algorithm token, compared case-insensitively, to
// an [Algorithm]. Unknown tokens return [ErrUnsupportedAlgorithm].
func ParseAlgorithm(s string) (Algorithm, error) {
	for i, n := range algorithmNames {
		if equalFold(s, n) {
			return Algorithm(i), nil
		}
	}
	return 0, ErrUnsupportedAlgorithm
}

// Valid reports whether a is one of the defined algorithms.
func (a Algorithm) Valid() bool { return a < numAlgorithms }

// Sess reports whether a is a session variant, whose A1 includes the nonce
// and cnonce (RFC 7616 §3.4.2).
func (a Algorithm) Sess() bool { return a.Valid() && a%2 == 1 }

// Base returns the algorithm without its -sess suffix. Precomputed HA1
// values are keyed by it.
func (a Algorithm) Base() Algorithm {
	if !a.Valid() {
		return a
	}
	return a &^ 1
}

// Strength orders algorithms for [Strongest]: SHA-512-256 (3) > SHA-256
// (2) > MD5 (1); a -sess variant ranks with its base (RFC 7616 §3.7, RFC
// 8760 §2.4). Unknown algorithms have strength 0.
func (a Algorithm) Strength() int {
	if !a.Valid() {
		return 0
	}
	return int(a/2) + 1
}

func (a Algorithm) newHash() hash.Hash {
	switch a.Base() {
	case SHA256:
		return sha256.New()
	case SHA512_256:
		return sha512.New512_256()
	default:
		return md5.New()
	}
}

// hexLen is the length of a hex digest of a.
func (a Algorithm) hexLen() int {
	if a.Base() == MD5 {
		return md5.Size * 2
	}
	return sha256.Size * 2
}

// hasher computes H(x) (RFC 7616 §3.4) as lower-case hex, reusing one
// hash.Hash and scratch buffer.
type hasher struct {
	h   hash.Hash
	in  []byte
	sum []byte
	out []byte
}

func newHasher(a Algorithm) *hasher { return &hasher{h: a.newHash()} }

// hexOf returns H of the concatenation of parts in lower-case hex. The
// result is a fresh string.
func (h *hasher) hexOf(parts ...string) string {
	h.in = h.in[:0]
	for _, p := range parts {
		h.in = append(h.in, p...)
	}
	h.h.Reset()
	h.h.Write(h.in)
	return h.finish()
}

func (h *hasher) hexOfBytes(b []byte) string {
	h.h.Reset()
	h.h.Write(b)
	return h.finish()
}

func (h *hasher) finish() string {
	h.sum = h.h.Sum(h.sum[:0])
	h.out = hex.AppendEncode(h.out[:0], h.sum)
	return string(h.out)
}
