package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Server defaults, used for the zero fields of [ServerConfig].
const (
	// DefaultNonceLifetime is how long a nonce is accepted after it was
	// issued. Past it, correct credentials get [ErrStale].
	DefaultNonceLifetime = 30 * time.Second
	// DefaultMaxTrackedNonces bounds the nonces whose nonce count the
	// server remembers for replay protection.
	DefaultMaxTrackedNonces = 4096
	// secretBytes is the size of a generated HMAC key.
	secretBytes = 32
	// MinSecretLength is the shortest [ServerConfig.Secret] accepted.
	MinSecretLength = 16
)

// Nonce layout: 8 bytes of issue time (Unix nanoseconds, big endian), 8
// random bytes making each nonce unique, and the first 16 bytes of
// HMAC-SHA256(secret, time | random | realm). Encoded in unpadded URL-safe
// base64 (43 characters).
const (
	nonceTimeLen = 8
	nonceSaltLen = 8
	nonceMACLen  = 16
	nonceLen     = nonceTimeLen + nonceSaltLen + nonceMACLen
)

// ServerConfig configures a [Server]. Only Realm is required.
type ServerConfig struct {
	// Realm names the protection space (RFC 3261 §22.1: typically the
	// domain of the registrar or proxy).
	Realm string
	// Secret keys the nonce HMAC; nil means 32 bytes from Rand. Servers
	// that share a Secret (and a Realm) accept each other's nonces, but
	// each tracks nonce counts on its own. At least [MinSecretLength] bytes.
	Secret []byte
	// Algorithms lists the algorithms offered, one challenge each,
	// strongest first whatever the order here. Empty means SHA-256 then MD5
	// (RFC 8760 §2.4: MD5 only for backward compatibility).
	Algorithms []Algorithm
	// QOP lists the qop options offered: auth, auth-int or both. Empty
	// means auth. Credentials without qop (RFC 2069) are refused, since
	// they carry no nonce count to detect replays with.
	QOP []QOP
	// Opaque, when set, is sent in challenges and required back unchanged.
	Opaque string
	// NonceLifetime is how long a nonce stays valid; 0 means
	// [DefaultNonceLifetime].
	NonceLifetime time.Duration
	// MaxTrackedNonces bounds the memory used for replay protection; 0
	// means [DefaultMaxTrackedNonces]. When it is reached, expired nonces
	// are dropped first; then the oldest tracked ones, and every nonce
	// issued no later than a dropped one gets [ErrStale] from then on, so
	// a dropped nonce can never be replayed.
	MaxTrackedNonces int
	// Rand is the source of the secret and of nonce salts; nil means
	// crypto/rand.
	Rand io.Reader
}

// Server issues Digest challenges and verifies credentials for one realm
// (RFC 7616 §3.3, §3.4; RFC 3261 §22.4). Nonces are stateless: they carry
// their issue time and an HMAC, so any nonce can be checked without
// remembering it. Only the nonce counts of nonces that were used are
// tracked, within [ServerConfig.MaxTrackedNonces]. A Server is safe for
// concurrent use.
type Server struct {
	cfg ServerConfig

	mu    sync.Mutex
	seen  map[string]*nonceUse
	order []string // nonces in seen, in order of first use (a FIFO from head)
	head  int
	floor int64 // nonces issued at or before this time (Unix ns) are stale unless tracked

	lastIssued atomic.Int64 // issue times are made strictly increasing
}

type nonceUse struct {
	issued int64 // Unix ns
	nc     uint32
}

// NewServer validates cfg, fills in defaults and returns a Server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Realm == "" {
		return nil, errors.New("digest: ServerConfig.Realm is empty")
	}
	if cfg.NonceLifetime < 0 || cfg.MaxTrackedNonces < 0 {
		return nil, errors.New("digest: negative ServerConfig limit")
	}
	if cfg.NonceLifetime == 0 {
		cfg.NonceLifetime = DefaultNonceLifetime
	}
	if cfg.MaxTrackedNonces == 0 {
		cfg.MaxTrackedNonces = DefaultMaxTrackedNonces
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []Algorithm{SHA256, MD5}
	} else {
		cfg.Algorithms = slices.Clone(cfg.Algorithms)
	}
	for i, a := range cfg.Algorithms {
		if !a.Valid() || slices.Contains(cfg.Algorithms[:i], a) {
			return nil, fmt.Errorf("digest: ServerConfig.Algorithms: %w: %v", ErrUnsupportedAlgorithm, a)
		}
	}
	slices.SortStableFunc(cfg.Algorithms, func(a, b Algorithm) int { return b.Strength() - a.Strength() })
	if len(cfg.QOP) == 0 {
		cfg.QOP = []QOP{QOPAuth}
	} else {
		cfg.QOP = slices.Clone(cfg.QOP)
	}
	for i, q := range cfg.QOP {
		if (q != QOPAuth && q != QOPAuthInt) || slices.Contains(cfg.QOP[:i], q) {
			return nil, fmt.Errorf("digest: ServerConfig.QOP: %w: %q", ErrUnsupportedQOP, q)
		}
	}
	if cfg.Secret == nil {
		cfg.Secret = make([]byte, secretBytes)
		if err := readRand(cfg.Rand, cfg.Secret); err != nil {
			return nil, fmt.Errorf("digest: generating secret: %w", err)
		}
	} else {
		if len(cfg.Secret) < MinSecretLength {
			return nil, fmt.Errorf("digest: ServerConfig.Secret shorter than %d bytes", MinSecretLength)
		}
		cfg.Secret = slices.Clone(cfg.Secret)
	}
	return &Server{cfg: cfg, seen: make(map[string]*nonceUse)}, nil
}

func readRand(r io.Reader, b []byte) error {
	if r == nil {
		_, err := rand.Read(b)
		return err
	}
	_, err := io.ReadFull(r, b)
	return err
}

// Realm returns the realm the server protects.
func (s *Server) Realm() string { return s.cfg.Realm }

// Challenges returns the values for WWW-Authenticate (registrar, UAS) or
// Proxy-Authenticate (proxy) header fields: one challenge per configured
// algorithm, strongest first, sharing one fresh nonce (RFC 7616 §3.7; RFC
// 8760 §2.4). stale=true tells the client that its credentials were right
// but its nonce had expired: pass true after [ErrStale].
func (s *Server) Challenges(stale bool) ([]string, error) {
	nonce, err := s.newNonce(time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(s.cfg.Algorithms))
	for _, a := range s.cfg.Algorithms {
		ch := Challenge{Realm: s.cfg.Realm, Nonce: nonce, Opaque: s.cfg.Opaque, Stale: stale, Algorithm: a, QOP: s.cfg.QOP}
		out = append(out, ch.String())
	}
	return out, nil
}

func (s *Server) newNonce(now time.Time) (string, error) {
	// Distinct issue times keep the eviction floor of useNonce from
	// catching nonces issued in the same clock tick as a dropped one.
	ts := now.UnixNano()
	for {
		last := s.lastIssued.Load()
		ts = max(ts, last+1)
		if s.lastIssued.CompareAndSwap(last, ts) {
			break
		}
	}
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:nonceTimeLen], uint64(ts))
	if err := readRand(s.cfg.Rand, b[nonceTimeLen:nonceTimeLen+nonceSaltLen]); err != nil {
		return "", fmt.Errorf("digest: generating nonce: %w", err)
	}
	s.mac(b[:nonceTimeLen+nonceSaltLen], b[nonceTimeLen+nonceSaltLen:])
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// mac writes the truncated HMAC of msg and the realm into out.
func (s *Server) mac(msg, out []byte) {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write(msg)
	m.Write([]byte(s.cfg.Realm))
	var sum [sha256.Size]byte
	copy(out, m.Sum(sum[:0]))
}

// checkNonce returns the issue time of a nonce this server made.
func (s *Server) checkNonce(nonce string) (int64, error) {
	var b [nonceLen + 3]byte // room for base64 slack
	if base64.RawURLEncoding.DecodedLen(len(nonce)) != nonceLen {
		return 0, ErrInvalidNonce
	}
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(nonce))
	if err != nil || n != nonceLen {
		return 0, ErrInvalidNonce
	}
	var want [nonceMACLen]byte
	s.mac(b[:nonceTimeLen+nonceSaltLen], want[:])
	if !hmac.Equal(want[:], b[nonceTimeLen+nonceSaltLen:nonceLen]) {
		return 0, ErrInvalidNonce
	}
	return int64(binary.BigEndian.Uint64(b[:nonceTimeLen])), nil
}

// Verify checks one Authorization (or Proxy-Authorization) value against
// the request's method and body, and returns the authenticated user name
// (RFC 7616 §3.4, RFC 3261 §22.4). lookup returns the credentials of a user
// of the realm: a password, or HA1 values for the algorithms offered.
//
// The checks, in order: syntax ([ErrMalformed]); realm and opaque
// ([ErrRealmMismatch]); algorithm offered ([ErrUnsupportedAlgorithm]); qop
// offered, which also requires nc and cnonce ([ErrUnsupportedQOP]); nonce
// made by this server's secret for this realm ([ErrInvalidNonce]); user
// known ([ErrUnknownUser]); response digest, compared in constant time
// ([ErrWrongResponse]); nonce age ([ErrStale]: the credentials were right,
// so re-challenge with Challenges(true)); and nonce count strictly greater
// than the last one accepted with this nonce ([ErrReplay]). Only a
// correct response updates the nonce count, so forged requests cannot use
// nonces up.
//
// Verify does not compare the digest-uri with the Request-URI (RFC 7616
// §3.4.6): the caller can, with [ParseAuthorization]. Hashed usernames
// (userhash) are not offered, and credentials using them are refused with
// [ErrUnknownUser].
func (s *Server) Verify(value, method string, body []byte, lookup func(username, realm string) (Credentials, bool)) (string, error) {
	a, err := ParseAuthorization(value)
	if err != nil {
		return "", err
	}
	if a.Realm != s.cfg.Realm {
		return "", fmt.Errorf("%w: realm %q", ErrRealmMismatch, a.Realm)
	}
	if s.cfg.Opaque != "" && a.Opaque != s.cfg.Opaque {
		return "", fmt.Errorf("%w: opaque", ErrRealmMismatch)
	}
	if !slices.Contains(s.cfg.Algorithms, a.Algorithm) {
		return "", fmt.Errorf("%w: %v not offered", ErrUnsupportedAlgorithm, a.Algorithm)
	}
	if a.QOP == "" || !slices.Contains(s.cfg.QOP, a.QOP) {
		return "", fmt.Errorf("%w: %q not offered", ErrUnsupportedQOP, a.QOP)
	}
	if a.NC == 0 {
		return "", fmt.Errorf("%w: nc=0", ErrReplay)
	}
	issued, err := s.checkNonce(a.Nonce)
	if err != nil {
		return "", err
	}
	if a.Userhash {
		return "", fmt.Errorf("%w: userhash not offered", ErrUnknownUser)
	}
	creds, ok := lookup(a.Username, a.Realm)
	if !ok || !creds.CanAnswer(a.Algorithm) {
		return "", ErrUnknownUser
	}
	want := response(newHasher(a.Algorithm), a.Algorithm, creds, a.Username, a.Realm, a.Nonce, a.CNonce, a.QOP, a.NC, method, a.URI, body)
	if subtle.ConstantTimeCompare([]byte(lower(a.Response)), []byte(want)) != 1 {
		return "", ErrWrongResponse
	}
	now := time.Now().UnixNano()
	if age := now - issued; age > int64(s.cfg.NonceLifetime) || age < -int64(s.cfg.NonceLifetime) {
		return "", ErrStale
	}
	if err := s.useNonce(a.Nonce, issued, a.NC, now); err != nil {
		return "", err
	}
	return a.Username, nil
}

// useNonce records nonce count nc for nonce, which must exceed the last
// one recorded.
func (s *Server) useNonce(nonce string, issued int64, nc uint32, now int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.seen[nonce]; ok {
		if nc <= u.nc {
			return fmt.Errorf("%w: nc %d after %d", ErrReplay, nc, u.nc)
		}
		u.nc = nc
		return nil
	}
	if issued <= s.floor {
		// A nonce dropped from the table: its count is unknown.
		return ErrStale
	}
	// Drop expired nonces at the head, then, if still full, the oldest.
	for s.head < len(s.order) {
		u := s.seen[s.order[s.head]]
		if len(s.seen) < s.cfg.MaxTrackedNonces && now-u.issued <= int64(s.cfg.NonceLifetime) {
			break
		}
		if now-u.issued <= int64(s.cfg.NonceLifetime) {
			s.floor = max(s.floor, u.issued)
		}
		s.popHead()
	}
	s.seen[nonce] = &nonceUse{issued: issued, nc: nc}
	s.order = append(s.order, nonce)
	return nil
}

func (s *Server) popHead() {
	delete(s.seen, s.order[s.head])
	s.order[s.head] = ""
	s.head++
	if s.head >= 64 && s.head*2 >= len(s.order) {
		n := copy(s.order, s.order[s.head:])
		clear(s.order[n:])
		s.order = s.order[:n]
		s.head = 0
	}
}

// tracked returns how many nonces are tracked (for tests).
func (s *Server) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
