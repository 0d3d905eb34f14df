package srtp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Limits of the a=crypto parser.
const (
	// MaxCryptoAttribute bounds the length of one a=crypto value parsed;
	// a real one is under 100 bytes.
	MaxCryptoAttribute = 512
	// MaxTag is the largest a=crypto tag (RFC 4568 §9.1: 1*9DIGIT).
	MaxTag = 999999999
	// MaxMKILength is the largest MKI length in bytes (RFC 4568 §9.1:
	// 1*3DIGIT, at most 128).
	MaxMKILength = 128
)

// ErrCrypto reports an a=crypto attribute that cannot be parsed or used.
// Its message never quotes the key.
var ErrCrypto = errors.New("srtp: bad a=crypto attribute")

const redacted = "[redacted]"

// Keys is the keying material of one direction: the master key and the
// master salt of Suite, and the MKI its packets carry, if any (RFC 3711
// §3.1). It prints as "[redacted]".
type Keys struct {
	Suite Suite
	Key   []byte
	Salt  []byte
	// MKI is the master key identifier, big-endian, empty when the
	// packets carry none.
	MKI []byte
}

// String hides the key material.
func (k Keys) String() string { return k.Suite.String() + " " + redacted }

// GoString hides the key material from %#v.
func (k Keys) GoString() string { return "srtp.Keys{" + k.String() + "}" }

// LogValue hides the key material from log/slog.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("suite", k.Suite.String()), slog.String("key", redacted))
}

// Format hides the key material from every fmt verb.
func (k Keys) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(k.GoString()))
		return
	}
	_, _ = f.Write([]byte(k.String()))
}

func (k Keys) check() error {
	if !k.Suite.Valid() {
		return fmt.Errorf("%w: %w", ErrCrypto, ErrUnknownSuite)
	}
	if len(k.Key) != k.Suite.KeyLen() || len(k.Salt) != k.Suite.SaltLen() {
		return fmt.Errorf("%w: %s needs a %d-byte key and a %d-byte salt", ErrCrypto, k.Suite, k.Suite.KeyLen(), k.Suite.SaltLen())
	}
	if len(k.MKI) > MaxMKILength {
		return fmt.Errorf("%w: MKI longer than %d bytes", ErrCrypto, MaxMKILength)
	}
	return nil
}

// Crypto is one SDP a=crypto attribute (RFC 4568 §9.1):
//
//	a=crypto:<tag> <suite> inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>] [<session-params>]
//
// with one key. It prints as "[redacted]"; Attribute writes it out.
type Crypto struct {
	// Tag identifies the attribute in an offer; the answer repeats it
	// (RFC 4568 §5.1).
	Tag int
	// Keys is the suite and the inline key.
	Keys Keys
	// Lifetime is the key's lifetime in packets, 0 if unstated.
	Lifetime uint64
	// SessionParams are the session parameters, as they came (RFC 4568
	// §6.3). This package uses none, so an offered attribute that has any
	// is not accepted (Usable).
	SessionParams []string
}

// String hides the key material.
func (c Crypto) String() string { return fmt.Sprintf("crypto:%d %s", c.Tag, c.Keys) }

// GoString hides the key material from %#v.
func (c Crypto) GoString() string { return "srtp.Crypto{" + c.String() + "}" }

// Format hides the key material from every fmt verb.
func (c Crypto) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(c.GoString()))
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// LogValue hides the key material from log/slog.
func (c Crypto) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("tag", c.Tag), slog.String("suite", c.Keys.Suite.String()), slog.String("key", redacted))
}

// Usable reports whether this package can use the attribute: a known
// suite, keys of its lengths, and no session parameter.
func (c Crypto) Usable() bool {
	return c.Keys.check() == nil && len(c.SessionParams) == 0 && c.Tag >= 0 && c.Tag <= MaxTag
}

// NewCrypto returns an attribute with tag, suite s and a fresh random key
// and salt from crypto/rand.
func NewCrypto(tag int, s Suite) (Crypto, error) {
	if !s.Valid() {
		return Crypto{}, fmt.Errorf("%w: %w", ErrCrypto, ErrUnknownSuite)
	}
	if tag < 0 || tag > MaxTag {
		return Crypto{}, fmt.Errorf("%w: tag %d out of range", ErrCrypto, tag)
	}
	b := make([]byte, s.KeyLen()+s.SaltLen())
	if _, err := rand.Read(b); err != nil {
		return Crypto{}, fmt.Errorf("srtp: generating a key: %w", err)
	}
	return Crypto{Tag: tag, Keys: Keys{Suite: s, Key: b[:s.KeyLen():s.KeyLen()], Salt: b[s.KeyLen():]}}, nil
}

// Attribute returns the value of the a=crypto line (after "a=crypto:"),
// key included: for the SDP body only, never for a log.
func (c Crypto) Attribute() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(c.Tag))
	b.WriteByte(' ')
	b.WriteString(c.Keys.Suite.String())
	b.WriteString(" inline:")
	km := make([]byte, 0, len(c.Keys.Key)+len(c.Keys.Salt))
	km = append(append(km, c.Keys.Key...), c.Keys.Salt...)
	b.WriteString(base64.StdEncoding.EncodeToString(km))
	if c.Lifetime > 0 {
		b.WriteByte('|')
		if c.Lifetime > 1 && c.Lifetime&(c.Lifetime-1) == 0 {
			fmt.Fprintf(&b, "2^%d", bitLen(c.Lifetime)-1)
		} else {
			b.WriteString(strconv.FormatUint(c.Lifetime, 10))
		}
	}
	if n := len(c.Keys.MKI); n > 0 {
		var v uint64
		for _, x := range c.Keys.MKI[max(0, n-8):] {
			v = v<<8 | uint64(x)
		}
		fmt.Fprintf(&b, "|%d:%d", v, n)
	}
	for _, p := range c.SessionParams {
		b.WriteByte(' ')
		b.WriteString(p)
	}
	return b.String()
}

func bitLen(v uint64) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}

// ParseCrypto parses the value of an a=crypto attribute (what follows
// "a=crypto:"). Errors wrap ErrCrypto, or ErrUnknownSuite for a suite this
// package does not speak (which RFC 4568 §7.1.1 says to ignore), and never
// quote the key. An attribute with several keys (RFC 4568 §5.1: for MKI
// switching) is refused: no peer in practice sends one.
func ParseCrypto(value string) (Crypto, error) {
	bad := func(format string, args ...any) (Crypto, error) {
		return Crypto{}, fmt.Errorf("%w: "+format, append([]any{ErrCrypto}, args...)...)
	}
	if len(value) > MaxCryptoAttribute {
		return bad("longer than %d bytes", MaxCryptoAttribute)
	}
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return bad("needs a tag, a suite and a key")
	}
	var c Crypto
	tag, err := strconv.Atoi(fields[0])
	if err != nil || tag < 0 || tag > MaxTag || len(fields[0]) > 9 {
		return bad("tag %q is not 1 to 9 digits", truncate(fields[0], 12))
	}
	c.Tag = tag
	s, err := ParseSuite(fields[1])
	if err != nil {
		return Crypto{}, fmt.Errorf("%w: %w", ErrCrypto, err)
	}
	c.Keys.Suite = s
	if strings.Contains(fields[2], ";") {
		return bad("more than one key")
	}
	method, info, ok := strings.Cut(fields[2], ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return bad("key method is not inline")
	}
	if err := c.parseKeyInfo(info); err != nil {
		return Crypto{}, err
	}
	if len(fields) > 3 {
		c.SessionParams = fields[3:]
	}
	return c, nil
}

// parseKeyInfo parses key-info: base64 ["|" lifetime] ["|" mki ":" length].
func (c *Crypto) parseKeyInfo(info string) error {
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return fmt.Errorf("%w: too many key parameters", ErrCrypto)
	}
	km, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some peers leave the padding out.
		km, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	s := c.Keys.Suite
	if err != nil || len(km) != s.KeyLen()+s.SaltLen() {
		return fmt.Errorf("%w: the inline key is not %d bytes of base64 for %s", ErrCrypto, s.KeyLen()+s.SaltLen(), s)
	}
	c.Keys.Key, c.Keys.Salt = km[:s.KeyLen():s.KeyLen()], km[s.KeyLen():]
	for _, p := range parts[1:] {
		if v, l, isMKI := strings.Cut(p, ":"); isMKI {
			if c.Keys.MKI != nil {
				return fmt.Errorf("%w: two MKIs", ErrCrypto)
			}
			if c.Keys.MKI, err = parseMKI(v, l); err != nil {
				return err
			}
			continue
		}
		if c.Lifetime != 0 || c.Keys.MKI != nil {
			return fmt.Errorf("%w: lifetime after MKI or twice", ErrCrypto)
		}
		if c.Lifetime, err = parseLifetime(p); err != nil {
			return err
		}
	}
	return nil
}

func parseLifetime(p string) (uint64, error) {
	exp, isPow := strings.CutPrefix(p, "2^")
	if isPow {
		n, err := strconv.ParseUint(exp, 10, 8)
		if err != nil || n == 0 || n > 63 || !allDigits(exp) {
			return 0, fmt.Errorf("%w: lifetime %q", ErrCrypto, truncate(p, 24))
		}
		return 1 << n, nil
	}
	n, err := strconv.ParseUint(p, 10, 64)
	if err != nil || n == 0 || !allDigits(p) {
		return 0, fmt.Errorf("%w: lifetime %q", ErrCrypto, truncate(p, 24))
	}
	return n, nil
}

func parseMKI(v, l string) ([]byte, error) {
	n, err := strconv.Atoi(l)
	if err != nil || !allDigits(l) || len(l) > 3 || n < 1 || n > MaxMKILength {
		return nil, fmt.Errorf("%w: MKI length %q is not 1 to %d", ErrCrypto, truncate(l, 8), MaxMKILength)
	}
	val, err := strconv.ParseUint(v, 10, 64)
	if err != nil || !allDigits(v) {
		return nil, fmt.Errorf("%w: MKI value %q", ErrCrypto, truncate(v, 24))
	}
	if n < 8 && val >= 1<<(8*n) {
		return nil, fmt.Errorf("%w: MKI value does not fit %d bytes", ErrCrypto, n)
	}
	mki := make([]byte, n)
	for i := n - 1; i >= 0 && val > 0; i-- {
		mki[i] = byte(val)
		val >>= 8
	}
	return mki, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
