package srtp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]srtp.Policy{
		"": srtp.PolicyDefault, "off": srtp.PolicyOff, "Optional": srtp.PolicyOptional, " mandatory ": srtp.PolicyMandatory, "DTLS": srtp.PolicyDTLS,
	} {
		got, err := srtp.ParsePolicy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		if in != "" {
			again, err := srtp.ParsePolicy(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again)
		}
	}
	_, err := srtp.ParsePolicy("dtls-maybe")
	require.ErrorIs(t, err, srtp.ErrPolicy)
	assert.Equal(t, "Policy(9)", srtp.Policy(9).String())
}

func TestPolicyFor(t *testing.T) {
	tests := []struct {
		p      srtp.Policy
		scheme string
		want   srtp.Policy
	}{
		{srtp.PolicyDefault, "sip", srtp.PolicyOff},
		{srtp.PolicyDefault, "tel", srtp.PolicyOff},
		{srtp.PolicyDefault, "sips", srtp.PolicyMandatory},
		{srtp.PolicyDefault, "SIPS", srtp.PolicyMandatory},
		{srtp.PolicyOptional, "sips", srtp.PolicyOptional},
		{srtp.PolicyOptional, "sip", srtp.PolicyOptional},
		{srtp.PolicyMandatory, "sip", srtp.PolicyMandatory},
		{srtp.PolicyOff, "sips", srtp.PolicyOff},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.For(tt.scheme), "%s for %s", tt.p, tt.scheme)
	}
}

func TestPolicyOffer(t *testing.T) {
	assert.Equal(t, "RTP/AVP", srtp.PolicyOff.OfferProto())
	assert.False(t, srtp.PolicyOff.OffersCrypto())
	assert.Equal(t, "RTP/AVP", srtp.PolicyOptional.OfferProto(), "best effort: plain profile with a=crypto")
	assert.True(t, srtp.PolicyOptional.OffersCrypto())
	assert.Equal(t, "RTP/SAVP", srtp.PolicyMandatory.OfferProto())
	assert.True(t, srtp.PolicyMandatory.OffersCrypto())
	assert.Equal(t, "UDP/TLS/RTP/SAVP", srtp.PolicyDTLS.OfferProto())
	assert.False(t, srtp.PolicyDTLS.OffersCrypto(), "DTLS-SRTP: a=fingerprint, no a=crypto")
	assert.True(t, srtp.PolicyDTLS.OffersDTLS())
	assert.False(t, srtp.PolicyMandatory.OffersDTLS())
	for proto, want := range map[string]bool{
		"UDP/TLS/RTP/SAVP": true, "udp/tls/rtp/savpf": true, "RTP/SAVP": false, "RTP/AVP": false, "UDP/TLS/RTP/AVP": false,
	} {
		assert.Equal(t, want, srtp.IsDTLSProto(proto), proto)
	}
}

func TestPolicyAccept(t *testing.T) {
	tests := []struct {
		p         srtp.Policy
		proto     string
		hasCrypto bool
		secure    bool
		err       error
	}{
		{srtp.PolicyOff, "RTP/AVP", false, false, nil},
		{srtp.PolicyOff, "RTP/AVP", true, false, nil}, // best-effort offer answered plainly
		{srtp.PolicyOff, "RTP/SAVP", true, false, srtp.ErrSRTPRefused},
		{srtp.PolicyOff, "RTP/SAVP", false, false, srtp.ErrSRTPRefused},
		{srtp.PolicyOptional, "RTP/AVP", false, false, nil},
		{srtp.PolicyOptional, "RTP/AVP", true, true, nil},
		{srtp.PolicyOptional, "RTP/SAVP", true, true, nil},
		{srtp.PolicyOptional, "RTP/SAVP", false, false, srtp.ErrNoCommonSuite},
		{srtp.PolicyMandatory, "RTP/AVP", false, false, srtp.ErrSRTPRequired}, // 488
		{srtp.PolicyMandatory, "RTP/AVP", true, true, nil},
		{srtp.PolicyMandatory, "RTP/SAVP", true, true, nil},
		{srtp.PolicyMandatory, "RTP/SAVP", false, false, srtp.ErrNoCommonSuite},
		{srtp.PolicyDTLS, "RTP/AVP", false, false, srtp.ErrSRTPRequired}, // a plain offer to a DTLS line: 488
		{srtp.PolicyDTLS, "RTP/SAVP", true, true, nil},                   // SDES accepted too
	}
	for _, tt := range tests {
		secure, err := tt.p.Accept(tt.proto, tt.hasCrypto)
		if tt.err != nil {
			require.ErrorIs(t, err, tt.err, "%s %s crypto=%v", tt.p, tt.proto, tt.hasCrypto)
		} else {
			require.NoError(t, err, "%s %s crypto=%v", tt.p, tt.proto, tt.hasCrypto)
		}
		assert.Equal(t, tt.secure, secure, "%s %s crypto=%v", tt.p, tt.proto, tt.hasCrypto)
	}
}

func TestSuiteTagLens(t *testing.T) {
	for _, tc := range []struct {
		s         srtp.Suite
		rtp, rtcp int
		aead      bool
	}{
		{srtp.AES_CM_128_HMAC_SHA1_80, 10, 10, false},
		{srtp.AES_CM_128_HMAC_SHA1_32, 4, 10, false},
		{srtp.AES_256_CM_HMAC_SHA1_32, 4, 10, false},
		{srtp.AEAD_AES_128_GCM, 16, 16, true},
		{srtp.AEAD_AES_256_GCM, 16, 16, true},
		{0, 0, 0, false},
	} {
		assert.Equal(t, tc.rtp, tc.s.RTPTagLen(), "%v RTP", tc.s)
		assert.Equal(t, tc.rtcp, tc.s.RTCPTagLen(), "%v RTCP", tc.s)
		assert.Equal(t, tc.aead, tc.s.AEAD(), "%v", tc.s)
	}
}
