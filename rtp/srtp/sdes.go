package srtp

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dialtone/dialtone/rtp/sdp"
)

// Errors of the SDES offer/answer.
var (
	// ErrNoCommonSuite reports an offer none of whose a=crypto lines this
	// side accepts (RFC 4568 §7.1.2: the stream is then refused, 488).
	ErrNoCommonSuite = errors.New("srtp: no acceptable a=crypto in the offer")
	// ErrAnswerCrypto reports an answer whose a=crypto does not match one
	// we offered (RFC 4568 §7.1.3).
	ErrAnswerCrypto = errors.New("srtp: the answer's a=crypto matches no offered one")
)

// CryptoAttribute is the SDP attribute name of SDES (RFC 4568 §9.1).
const CryptoAttribute = "crypto"

// Profiles of the m= line (RFC 3711 §12, RFC 5764 §8).
const (
	ProtoAVP     = "RTP/AVP"
	ProtoSAVP    = "RTP/SAVP"
	ProtoAVPF    = "RTP/AVPF"
	ProtoSAVPF   = "RTP/SAVPF"
	ProtoDTLSRTP = "UDP/TLS/RTP/SAVP"
)

// IsSecureProto reports whether proto is a secure RTP profile (RTP/SAVP,
// RTP/SAVPF, UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF).
func IsSecureProto(proto string) bool {
	return strings.HasSuffix(strings.ToUpper(proto), "/SAVP") || strings.HasSuffix(strings.ToUpper(proto), "/SAVPF")
}

// OfferCryptos returns one a=crypto per suite, in order, tagged 1, 2, …,
// each with a fresh key.
func OfferCryptos(ss []Suite) ([]Crypto, error) {
	if len(ss) == 0 {
		ss = DefaultSuites()
	}
	out := make([]Crypto, 0, len(ss))
	for i, s := range ss {
		c, err := NewCrypto(i+1, s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CryptosFrom returns the a=crypto attributes of attrs that this package
// can use, in order, and how many it skipped (unknown suite, bad syntax,
// session parameters: RFC 4568 §7.1.1 says to ignore those).
func CryptosFrom(attrs []sdp.Attribute) (usable []Crypto, skipped int) {
	for _, a := range attrs {
		if !strings.EqualFold(a.Key, CryptoAttribute) {
			continue
		}
		c, err := ParseCrypto(a.Value)
		if err != nil || !c.Usable() {
			skipped++
			continue
		}
		usable = append(usable, c)
	}
	return usable, skipped
}

// AnswerCrypto chooses, in the offerer's order of preference, the first
// offered attribute whose suite is among accept (nil: DefaultSuites), and
// returns it (the remote keys) with our answer: the same tag and suite and
// a fresh key (RFC 4568 §7.1.2). With none the error wraps
// ErrNoCommonSuite.
func AnswerCrypto(offered []Crypto, accept []Suite) (remote, local Crypto, err error) {
	if len(accept) == 0 {
		accept = DefaultSuites()
	}
	for _, o := range offered {
		if !o.Usable() || !slices.Contains(accept, o.Keys.Suite) {
			continue
		}
		local, err := NewCrypto(o.Tag, o.Keys.Suite)
		if err != nil {
			return Crypto{}, Crypto{}, err
		}
		return o, local, nil
	}
	return Crypto{}, Crypto{}, fmt.Errorf("%w: %d offered", ErrNoCommonSuite, len(offered))
}

// MatchAnswer returns the attribute of our offer that the answer's
// accepted: the same tag and suite (RFC 4568 §7.1.3). Otherwise the error
// wraps ErrAnswerCrypto.
func MatchAnswer(offered []Crypto, answered Crypto) (Crypto, error) {
	if !answered.Usable() {
		return Crypto{}, fmt.Errorf("%w: the answer's attribute is not usable", ErrAnswerCrypto)
	}
	for _, o := range offered {
		if o.Tag == answered.Tag && o.Keys.Suite == answered.Keys.Suite {
			return o, nil
		}
	}
	return Crypto{}, fmt.Errorf("%w: tag %d %s", ErrAnswerCrypto, answered.Tag, answered.Keys.Suite)
}
