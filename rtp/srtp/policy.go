package srtp

import (
	"errors"
	"fmt"
	"strings"
)

// Policy is a line's SRTP policy. The zero value, PolicyDefault, is off
// for sip: calls and mandatory for sips: ones (For).
type Policy uint8

// Policies.
const (
	// PolicyDefault: PolicyOff, or PolicyMandatory for a sips: call.
	PolicyDefault Policy = iota
	// PolicyOff offers plain RTP/AVP and refuses a secure offer.
	PolicyOff
	// PolicyOptional offers RTP/AVP with a=crypto ("best effort" SRTP:
	// peers without SRTP ignore the attribute and answer plain RTP), and
	// answers a secure offer securely and a plain one plainly.
	PolicyOptional
	// PolicyMandatory offers RTP/SAVP and refuses an offer without a
	// usable a=crypto with 488 Not Acceptable Here.
	PolicyMandatory
	// PolicyDTLS offers UDP/TLS/RTP/SAVP keyed by DTLS-SRTP (RFC 5763:
	// a=fingerprint, a=setup:actpass) and, like PolicyMandatory, refuses
	// plain offers; a DTLS offer is answered with DTLS-SRTP, an SDES one
	// with SDES.
	PolicyDTLS
)

// Errors of the policy.
var (
	// ErrPolicy reports an unknown policy name.
	ErrPolicy = errors.New("srtp: unknown policy (want off, optional, mandatory or dtls)")
	// ErrSRTPRequired reports a plain offer or answer to a mandatory line
	// (the UA answers 488).
	ErrSRTPRequired = errors.New("srtp: the line requires SRTP and the peer offers plain RTP")
	// ErrSRTPRefused reports a secure offer to a line with SRTP off.
	ErrSRTPRefused = errors.New("srtp: the peer requires SRTP and the line has it off")
)

// ParsePolicy parses "off", "optional", "mandatory" or "dtls" (and "" as
// PolicyDefault).
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return PolicyDefault, nil
	case "off":
		return PolicyOff, nil
	case "optional":
		return PolicyOptional, nil
	case "mandatory":
		return PolicyMandatory, nil
	case "dtls":
		return PolicyDTLS, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrPolicy, truncate(s, 20))
}

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case PolicyDefault:
		return "default"
	case PolicyOff:
		return "off"
	case PolicyOptional:
		return "optional"
	case PolicyMandatory:
		return "mandatory"
	case PolicyDTLS:
		return "dtls"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// For returns the policy in effect for a call to or from a URI of scheme
// ("sip", "sips"): PolicyDefault resolves to mandatory for sips (whose
// signaling is secured end to end, RFC 3261 §26.2.2, and whose media
// should be too) and to off otherwise; a set policy stays as it is.
func (p Policy) For(scheme string) Policy {
	switch {
	case p != PolicyDefault:
		return p
	case strings.EqualFold(scheme, "sips"):
		return PolicyMandatory
	}
	return PolicyOff
}

// OfferProto is the m= profile an offer under p uses: RTP/SAVP when
// mandatory, UDP/TLS/RTP/SAVP under DTLS, RTP/AVP otherwise (with
// a=crypto when optional).
func (p Policy) OfferProto() string {
	switch p {
	case PolicyMandatory:
		return ProtoSAVP
	case PolicyDTLS:
		return ProtoDTLSRTP
	}
	return ProtoAVP
}

// OffersDTLS reports whether an offer under p is keyed by DTLS-SRTP.
func (p Policy) OffersDTLS() bool { return p == PolicyDTLS }

// IsDTLSProto reports whether proto is a DTLS-SRTP profile
// (UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF; RFC 5764 §8, RFC 5124).
func IsDTLSProto(proto string) bool {
	return strings.HasPrefix(strings.ToUpper(proto), "UDP/TLS/RTP/") && IsSecureProto(proto)
}

// OffersCrypto reports whether an offer under p carries a=crypto.
func (p Policy) OffersCrypto() bool { return p == PolicyOptional || p == PolicyMandatory }

// Accept decides, for an offer (or an answer) on profile proto with
// usable a=crypto lines or not, whether the stream is secured: true for
// SRTP, false for plain RTP. A mandatory policy refuses plain RTP
// (ErrSRTPRequired), an off one a secure profile (ErrSRTPRefused); an
// optional one takes SRTP when a usable a=crypto is there, on either
// profile. A secure profile without a usable a=crypto is refused with
// ErrNoCommonSuite. p must be resolved (For).
func (p Policy) Accept(proto string, hasCrypto bool) (bool, error) {
	secure := IsSecureProto(proto)
	switch {
	case secure && !hasCrypto && p != PolicyOff:
		return false, fmt.Errorf("%w: %s without a usable a=crypto", ErrNoCommonSuite, proto)
	case p == PolicyOff || p == PolicyDefault:
		if secure {
			return false, ErrSRTPRefused
		}
		return false, nil
	case (p == PolicyMandatory || p == PolicyDTLS) && !hasCrypto:
		return false, ErrSRTPRequired
	}
	return hasCrypto, nil
}
