package srtp_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// rfcFingerprint is the a=fingerprint of RFC 8122 §5's example (sha-1).
const rfcFingerprint = "SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB"

func TestParseFingerprint(t *testing.T) {
	f, err := srtp.ParseFingerprint(rfcFingerprint)
	require.NoError(t, err)
	assert.Equal(t, "sha-1", f.Hash)
	assert.Len(t, f.Value, 20)
	assert.Equal(t, byte(0x4a), f.Value[0])
	assert.Equal(t, "sha-1 "+strings.SplitN(rfcFingerprint, " ", 2)[1], f.String())
	again, err := srtp.ParseFingerprint(f.String())
	require.NoError(t, err)
	assert.Equal(t, f, again)

	sha256 := "sha-256 " + strings.TrimSuffix(strings.Repeat("ab:", 32), ":")
	f, err = srtp.ParseFingerprint(sha256)
	require.NoError(t, err)
	assert.Len(t, f.Value, 32)
}

func TestParseFingerprintErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"no value":     "sha-256",
		"md5":          "md5 " + strings.TrimSuffix(strings.Repeat("AB:", 16), ":"),
		"unknown hash": "sha-3 AB",
		"short":        "sha-256 AB:CD",
		"long":         "sha-1 " + strings.TrimSuffix(strings.Repeat("AB:", 21), ":"),
		"not hex":      "sha-1 " + strings.TrimSuffix(strings.Repeat("GG:", 20), ":"),
		"one digit":    "sha-1 A:" + strings.TrimSuffix(strings.Repeat("AB:", 19), ":"),
		"three fields": rfcFingerprint + " x",
		"too long":     "sha-512 " + strings.Repeat("A", srtp.MaxFingerprintAttribute),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := srtp.ParseFingerprint(in)
			require.ErrorIs(t, err, srtp.ErrFingerprint)
		})
	}
}

func TestNewCertificate(t *testing.T) {
	a, fa, err := srtp.NewCertificate()
	require.NoError(t, err)
	b, fb, err := srtp.NewCertificate()
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(a.Certificate[0])
	require.NoError(t, err)
	require.NoError(t, cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature), "self-signed")
	assert.Equal(t, "sha-256", fa.Hash)
	assert.True(t, fa.Matches(a.Certificate[0]))
	assert.False(t, fa.Matches(b.Certificate[0]), "another certificate: a wrong fingerprint")
	assert.NotEqual(t, fa, fb)
	parsed, err := srtp.ParseFingerprint(fa.String())
	require.NoError(t, err)
	assert.True(t, parsed.Matches(a.Certificate[0]))
	assert.False(t, srtp.Fingerprint{Hash: "md5"}.Matches(a.Certificate[0]))
	_, err = srtp.FingerprintOf("md5", a.Certificate[0])
	require.ErrorIs(t, err, srtp.ErrFingerprint)
}

func TestSetup(t *testing.T) {
	for _, s := range []srtp.Setup{srtp.SetupActive, srtp.SetupPassive, srtp.SetupActpass, srtp.SetupHoldconn} {
		got, err := srtp.ParseSetup(strings.ToUpper(s.String()))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := srtp.ParseSetup("both")
	require.Error(t, err)
	assert.Equal(t, "Setup(0)", srtp.SetupNone.String())
	for offer, want := range map[srtp.Setup]srtp.Setup{
		srtp.SetupActpass: srtp.SetupActive, srtp.SetupPassive: srtp.SetupActive,
		srtp.SetupActive: srtp.SetupPassive, srtp.SetupNone: srtp.SetupPassive, srtp.SetupHoldconn: srtp.SetupHoldconn,
	} {
		assert.Equal(t, want, srtp.AnswerSetup(offer), "answer to %s", offer)
	}
}

// FuzzParseFingerprint checks that ParseFingerprint never panics and that
// what it accepts writes back to the same.
func FuzzParseFingerprint(f *testing.F) {
	f.Add(rfcFingerprint)
	f.Add("sha-256 " + strings.TrimSuffix(strings.Repeat("ab:", 32), ":"))
	f.Add("sha-1 ::")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := srtp.ParseFingerprint(s)
		if err != nil {
			require.ErrorIs(t, err, srtp.ErrFingerprint)
			return
		}
		again, err := srtp.ParseFingerprint(fp.String())
		require.NoError(t, err)
		require.Equal(t, fp, again)
	})
}
