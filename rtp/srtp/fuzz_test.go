package srtp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// FuzzParseCrypto checks that ParseCrypto never panics, that what it
// accepts writes back (Attribute) to an attribute that parses to the same,
// and that a usable one keys a Context.
func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^20|1:32",
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + rfcKey,
		"3 AEAD_AES_128_GCM inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + " KDR=0",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|1000|255:1",
		"1 X inline:", "", "1 AES_CM_128_HMAC_SHA1_80 inline:|2^|:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := srtp.ParseCrypto(s)
		if err != nil {
			require.ErrorIs(t, err, srtp.ErrCrypto)
			return
		}
		again, err := srtp.ParseCrypto(c.Attribute())
		require.NoError(t, err, "re-parsing %q", c.Attribute())
		require.Equal(t, c, again)
		if c.Usable() {
			_, err := srtp.NewContext(srtp.ContextConfig{Local: c.Keys, Remote: c.Keys})
			require.NoError(t, err)
		}
	})
}
