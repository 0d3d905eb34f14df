package srtp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	_ "crypto/sha1" // a=fingerprint sha-1
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The pieces of DTLS-SRTP keying (RFC 5763, RFC 8122) that SDP carries:
// a=fingerprint, a=setup, and the self-signed certificate a UA presents.
// The DTLS handshake itself is not here yet.

// Limits of the a=fingerprint parser and of certificates.
const (
	// MaxFingerprintAttribute bounds an a=fingerprint value parsed; a
	// sha-512 one is under 200 bytes.
	MaxFingerprintAttribute = 256
	// CertificateValidity is how long a certificate from NewCertificate
	// is valid. Peers check the fingerprint, not the dates (RFC 5763 §5),
	// but some refuse an expired certificate.
	CertificateValidity = 30 * 24 * time.Hour
)

// FingerprintAttribute and SetupAttribute are the SDP attribute names.
const (
	FingerprintAttribute = "fingerprint"
	SetupAttribute       = "setup"
)

// ErrFingerprint reports an a=fingerprint that cannot be parsed, or a
// certificate that does not match one.
var ErrFingerprint = errors.New("srtp: bad a=fingerprint")

// fingerprintHashes are the hash functions of RFC 8122 §5 accepted, by
// their SDP names (MD5 and MD2 are not: RFC 8122 §5 forbids them).
var fingerprintHashes = map[string]crypto.Hash{
	"sha-1":   crypto.SHA1,
	"sha-224": crypto.SHA224,
	"sha-256": crypto.SHA256,
	"sha-384": crypto.SHA384,
	"sha-512": crypto.SHA512,
}

// Fingerprint is an SDP a=fingerprint (RFC 8122 §5): the hash of the
// certificate the peer will present in the DTLS handshake.
type Fingerprint struct {
	// Hash is the hash function's SDP name, lower case ("sha-256").
	Hash string
	// Value is the hash of the certificate's DER encoding.
	Value []byte
}

// String returns the attribute's value: "sha-256 AB:CD:…" (upper-case hex,
// RFC 8122 §5).
func (f Fingerprint) String() string {
	var b strings.Builder
	b.WriteString(f.Hash)
	b.WriteByte(' ')
	for i, x := range f.Value {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{x})))
	}
	return b.String()
}

// ParseFingerprint parses an a=fingerprint value. The hash must be one of
// sha-1, sha-224, sha-256, sha-384 and sha-512, and the value as long as
// its output. Errors wrap ErrFingerprint.
func ParseFingerprint(value string) (Fingerprint, error) {
	bad := func(format string, args ...any) (Fingerprint, error) {
		return Fingerprint{}, fmt.Errorf("%w: "+format, append([]any{ErrFingerprint}, args...)...)
	}
	if len(value) > MaxFingerprintAttribute {
		return bad("longer than %d bytes", MaxFingerprintAttribute)
	}
	fields := strings.Fields(value)
	if len(fields) != 2 {
		return bad("want a hash function and a value")
	}
	name := strings.ToLower(fields[0])
	h, ok := fingerprintHashes[name]
	if !ok {
		return bad("hash function %q not supported", truncate(fields[0], 16))
	}
	parts := strings.Split(fields[1], ":")
	if len(parts) != h.Size() {
		return bad("%s value has %d octets, want %d", name, len(parts), h.Size())
	}
	v := make([]byte, len(parts))
	for i, p := range parts {
		if len(p) != 2 {
			return bad("octet %d is not two hex digits", i+1)
		}
		b, err := hex.DecodeString(p)
		if err != nil {
			return bad("octet %d is not two hex digits", i+1)
		}
		v[i] = b[0]
	}
	return Fingerprint{Hash: name, Value: v}, nil
}

// FingerprintOf returns the fingerprint of a certificate's DER encoding
// with hash function hash ("sha-256").
func FingerprintOf(hash string, der []byte) (Fingerprint, error) {
	h, ok := fingerprintHashes[strings.ToLower(hash)]
	if !ok {
		return Fingerprint{}, fmt.Errorf("%w: hash function %q not supported", ErrFingerprint, truncate(hash, 16))
	}
	d := h.New()
	d.Write(der)
	return Fingerprint{Hash: strings.ToLower(hash), Value: d.Sum(nil)}, nil
}

// Matches reports whether der, the certificate the peer presented, has
// this fingerprint (compared in constant time).
func (f Fingerprint) Matches(der []byte) bool {
	got, err := FingerprintOf(f.Hash, der)
	return err == nil && subtle.ConstantTimeCompare(got.Value, f.Value) == 1
}

// Setup is the a=setup attribute (RFC 4145 §4, RFC 5763 §5): which side
// starts the DTLS handshake.
type Setup uint8

// Setup values; the zero value is none (absent).
const (
	SetupNone Setup = iota
	// SetupActive: this side starts the handshake (the DTLS client).
	SetupActive
	// SetupPassive: this side waits for it (the DTLS server).
	SetupPassive
	// SetupActpass: either; an offer says this (RFC 5763 §5).
	SetupActpass
	// SetupHoldconn: no connection yet.
	SetupHoldconn
)

var setupNames = [...]string{"", "active", "passive", "actpass", "holdconn"}

// ParseSetup parses an a=setup value (case-insensitive).
func ParseSetup(s string) (Setup, error) {
	for i := 1; i < len(setupNames); i++ {
		if strings.EqualFold(strings.TrimSpace(s), setupNames[i]) {
			return Setup(i), nil
		}
	}
	return SetupNone, fmt.Errorf("srtp: a=setup %q: want active, passive, actpass or holdconn", truncate(s, 16))
}

// String returns the a=setup value.
func (s Setup) String() string {
	if int(s) < len(setupNames) && s != SetupNone {
		return setupNames[s]
	}
	return fmt.Sprintf("Setup(%d)", uint8(s))
}

// AnswerSetup is the a=setup of an answer to an offer's (RFC 5763 §5: to
// actpass the answerer should be active, the side that starts the
// handshake; to active, passive; to passive, active). An offer without
// a=setup counts as active (RFC 4145 §4); holdconn is answered holdconn.
func AnswerSetup(offer Setup) Setup {
	switch offer {
	case SetupPassive, SetupActpass:
		return SetupActive
	case SetupHoldconn:
		return SetupHoldconn
	}
	return SetupPassive
}

// NewCertificate returns a fresh self-signed ECDSA P-256 certificate for
// DTLS, valid for CertificateValidity, and its sha-256 fingerprint for
// a=fingerprint. A UA makes one and uses it for all its calls.
func NewCertificate() (tls.Certificate, Fingerprint, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, Fingerprint{}, fmt.Errorf("srtp: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, Fingerprint{}, fmt.Errorf("srtp: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "dialtone"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertificateValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, Fingerprint{}, fmt.Errorf("srtp: certificate: %w", err)
	}
	fp, err := FingerprintOf("sha-256", der)
	if err != nil {
		return tls.Certificate{}, Fingerprint{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, fp, nil
}
