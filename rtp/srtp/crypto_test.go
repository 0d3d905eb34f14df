package srtp_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// rfcKey is the inline key of the RFC 4568 §9.1 example.
const rfcKey = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

func TestParseCrypto(t *testing.T) {
	km, err := base64.StdEncoding.DecodeString(rfcKey)
	require.NoError(t, err)
	tests := []struct {
		name     string
		in       string
		tag      int
		suite    srtp.Suite
		lifetime uint64
		mki      []byte
		params   []string
	}{
		{name: "rfc 4568 example", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^20|1:32",
			tag: 1, suite: srtp.AES_CM_128_HMAC_SHA1_80, lifetime: 1 << 20, mki: append(make([]byte, 31), 1)},
		{name: "plain", in: "7 AES_CM_128_HMAC_SHA1_32 inline:" + rfcKey, tag: 7, suite: srtp.AES_CM_128_HMAC_SHA1_32},
		{name: "suite case", in: "2 aes_cm_128_hmac_sha1_80 inline:" + rfcKey, tag: 2, suite: srtp.AES_CM_128_HMAC_SHA1_80},
		{name: "decimal lifetime", in: "3 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|1000", tag: 3,
			suite: srtp.AES_CM_128_HMAC_SHA1_80, lifetime: 1000},
		{name: "mki only", in: "3 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|258:2", tag: 3,
			suite: srtp.AES_CM_128_HMAC_SHA1_80, mki: []byte{1, 2}},
		{name: "unpadded base64", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(rfcKey, "="), tag: 1,
			suite: srtp.AES_CM_128_HMAC_SHA1_80},
		{name: "session params", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + " KDR=1 UNENCRYPTED_SRTP", tag: 1,
			suite: srtp.AES_CM_128_HMAC_SHA1_80, params: []string{"KDR=1", "UNENCRYPTED_SRTP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := srtp.ParseCrypto(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.tag, c.Tag)
			assert.Equal(t, tt.suite, c.Keys.Suite)
			assert.Equal(t, km[:16], c.Keys.Key)
			assert.Equal(t, km[16:], c.Keys.Salt)
			assert.Equal(t, tt.lifetime, c.Lifetime)
			assert.Equal(t, tt.mki, c.Keys.MKI)
			assert.Equal(t, tt.params, c.SessionParams)
			assert.Equal(t, tt.params == nil, c.Usable())
			// Attribute writes it back in a form that parses to the same.
			again, err := srtp.ParseCrypto(c.Attribute())
			require.NoError(t, err)
			assert.Equal(t, c, again)
		})
	}
}

func TestParseCryptoGCM(t *testing.T) {
	c, err := srtp.NewCrypto(4, srtp.AEAD_AES_128_GCM)
	require.NoError(t, err)
	assert.Len(t, c.Keys.Key, 16)
	assert.Len(t, c.Keys.Salt, 12)
	assert.True(t, strings.HasPrefix(c.Attribute(), "4 AEAD_AES_128_GCM inline:"))
	again, err := srtp.ParseCrypto(c.Attribute())
	require.NoError(t, err)
	assert.Equal(t, c, again)
}

func TestParseCryptoErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 29))
	tests := []struct {
		name, in string
		unknown  bool
	}{
		{"empty", "", false},
		{"no key", "1 AES_CM_128_HMAC_SHA1_80", false},
		{"bad tag", "x AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey, false},
		{"long tag", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey, false},
		{"negative tag", "-1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey, false},
		{"unknown suite", "1 F8_128_HMAC_SHA1_80 inline:" + rfcKey, true},
		{"not inline", "1 AES_CM_128_HMAC_SHA1_80 uri:" + rfcKey, false},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + ";inline:" + rfcKey, false},
		{"short key", "1 AES_CM_128_HMAC_SHA1_80 inline:" + short, false},
		{"gcm length for cm", "1 AEAD_AES_128_GCM inline:" + rfcKey, false},
		{"not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!" + rfcKey[4:], false},
		{"bad lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^x", false},
		{"zero lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|0", false},
		{"huge lifetime exponent", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^64", false},
		{"mki length 0", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|1:0", false},
		{"mki length 129", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|1:129", false},
		{"mki overflows", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|256:1", false},
		{"lifetime after mki", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|1:4|2^20", false},
		{"too many parts", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^20|1:4|x", false},
		{"too long", "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + " " + strings.Repeat("x", srtp.MaxCryptoAttribute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := srtp.ParseCrypto(tt.in)
			require.ErrorIs(t, err, srtp.ErrCrypto)
			assert.Equal(t, tt.unknown, err != nil && strings.Contains(err.Error(), srtp.ErrUnknownSuite.Error()))
			assert.NotContains(t, err.Error(), rfcKey[:12], "an error quotes the key")
		})
	}
}

// TestKeysNeverPrinted checks that key material shows in no fmt verb and
// no slog output, only in Attribute.
func TestKeysNeverPrinted(t *testing.T) {
	c, err := srtp.ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^20|1:4")
	require.NoError(t, err)
	secrets := []string{rfcKey[:20], fmt.Sprint([]byte(c.Keys.Key)), fmt.Sprintf("%x", c.Keys.Key), fmt.Sprintf("%x", c.Keys.Salt)}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out = append(out, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.Keys), fmt.Sprintf(verb, &c))
	}
	out = append(out, fmt.Sprint(c), fmt.Sprintln(c.Keys), fmt.Sprintf("%v", []srtp.Crypto{c}))
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("offer", "crypto", c, "keys", c.Keys, "ptr", &c)
	}
	out = append(out, buf.String())
	for _, o := range out {
		assert.Contains(t, o, "redacted")
		for _, s := range secrets {
			assert.NotContains(t, o, s)
		}
	}
	assert.Contains(t, c.Attribute(), rfcKey, "Attribute writes the key for SDP")
}

func TestNewCrypto(t *testing.T) {
	a, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	b, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	assert.NotEqual(t, a.Keys.Key, b.Keys.Key, "keys are random")
	assert.True(t, a.Usable())
	_, err = srtp.NewCrypto(1, srtp.Suite(0))
	require.ErrorIs(t, err, srtp.ErrUnknownSuite)
	_, err = srtp.NewCrypto(-1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.ErrorIs(t, err, srtp.ErrCrypto)
}

func TestSuites(t *testing.T) {
	for _, s := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32,
		srtp.AES_256_CM_HMAC_SHA1_80, srtp.AES_256_CM_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM, srtp.AEAD_AES_256_GCM} {
		got, err := srtp.ParseSuite(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
		assert.True(t, s.Valid())
	}
	assert.False(t, srtp.Suite(0).Valid())
	assert.False(t, srtp.Suite(200).Valid())
	assert.Equal(t, "Suite(200)", srtp.Suite(200).String())
	assert.Zero(t, srtp.Suite(200).KeyLen())
}
