package srtp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// TestSDESOfferAnswer runs a whole SDES exchange through SDP attributes and
// checks that both ends then talk.
func TestSDESOfferAnswer(t *testing.T) {
	offer, err := srtp.OfferCryptos(nil)
	require.NoError(t, err)
	require.Len(t, offer, len(srtp.DefaultSuites()))
	attrs := []sdp.Attribute{{Key: "rtpmap", Value: "0 PCMU/8000"}}
	for i, c := range offer {
		assert.Equal(t, i+1, c.Tag)
		attrs = append(attrs, sdp.Attribute{Key: srtp.CryptoAttribute, Value: c.Attribute()})
	}
	// The answerer takes the offerer's first suite it accepts.
	got, skipped := srtp.CryptosFrom(attrs)
	assert.Zero(t, skipped)
	// The offer is GCM, then the 80- and 32-bit tags; an answerer without
	// GCM that would rather have the short tag still takes the 80-bit one.
	remote, local, err := srtp.AnswerCrypto(got, []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_32, srtp.AES_CM_128_HMAC_SHA1_80})
	require.NoError(t, err)
	assert.Equal(t, 2, remote.Tag)
	assert.Equal(t, srtp.AES_CM_128_HMAC_SHA1_80, local.Keys.Suite)
	assert.Equal(t, remote.Tag, local.Tag)
	assert.NotEqual(t, remote.Keys.Key, local.Keys.Key, "the answerer keys its own direction")

	answered, skipped := srtp.CryptosFrom([]sdp.Attribute{{Key: "crypto", Value: local.Attribute()}})
	require.Len(t, answered, 1)
	assert.Zero(t, skipped)
	mine, err := srtp.MatchAnswer(offer, answered[0])
	require.NoError(t, err)
	assert.Equal(t, offer[1], mine)

	offerer, err := srtp.NewContext(srtp.ContextConfig{Local: mine.Keys, Remote: answered[0].Keys})
	require.NoError(t, err)
	answerer, err := srtp.NewContext(srtp.ContextConfig{Local: local.Keys, Remote: remote.Keys})
	require.NoError(t, err)
	pkt := rtpPacket(t, 1, []byte("audio"))
	sec, err := offerer.ProtectRTP(nil, pkt)
	require.NoError(t, err)
	plain, err := answerer.UnprotectRTP(nil, sec)
	require.NoError(t, err)
	assert.Equal(t, pkt, plain)
	sec, err = answerer.ProtectRTP(nil, pkt)
	require.NoError(t, err)
	plain, err = offerer.UnprotectRTP(nil, sec)
	require.NoError(t, err)
	assert.Equal(t, pkt, plain)
}

func TestCryptosFromSkips(t *testing.T) {
	good := "1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey
	got, skipped := srtp.CryptosFrom([]sdp.Attribute{
		{Key: "crypto", Value: "9 F8_128_HMAC_SHA1_80 inline:" + rfcKey},
		{Key: "crypto", Value: "3 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + " UNENCRYPTED_SRTP"},
		{Key: "crypto", Value: "garbage"},
		{Key: "CRYPTO", Value: good},
		{Key: "fingerprint", Value: "sha-256 00"},
	})
	assert.Equal(t, 3, skipped)
	require.Len(t, got, 1)
	assert.Equal(t, 1, got[0].Tag)
}

func TestAnswerCryptoErrors(t *testing.T) {
	offer, err := srtp.OfferCryptos([]srtp.Suite{srtp.AES_256_CM_HMAC_SHA1_80})
	require.NoError(t, err)
	_, _, err = srtp.AnswerCrypto(offer, nil) // not among the defaults
	require.ErrorIs(t, err, srtp.ErrNoCommonSuite)
	_, _, err = srtp.AnswerCrypto(nil, nil)
	require.ErrorIs(t, err, srtp.ErrNoCommonSuite)
	_, err = srtp.OfferCryptos([]srtp.Suite{0})
	require.ErrorIs(t, err, srtp.ErrUnknownSuite)

	other, err := srtp.NewCrypto(5, srtp.AES_256_CM_HMAC_SHA1_80)
	require.NoError(t, err)
	_, err = srtp.MatchAnswer(offer, other) // wrong tag
	require.ErrorIs(t, err, srtp.ErrAnswerCrypto)
	other.Tag = 1
	other.Keys.Suite = srtp.AES_256_CM_HMAC_SHA1_32 // right tag, wrong suite
	_, err = srtp.MatchAnswer(offer, other)
	require.ErrorIs(t, err, srtp.ErrAnswerCrypto)
	_, err = srtp.MatchAnswer(offer, srtp.Crypto{Tag: 1})
	require.ErrorIs(t, err, srtp.ErrAnswerCrypto)
}

func TestIsSecureProto(t *testing.T) {
	for proto, want := range map[string]bool{
		"RTP/AVP": false, "RTP/AVPF": false, "RTP/SAVP": true, "rtp/savp": true, "RTP/SAVPF": true,
		"UDP/TLS/RTP/SAVP": true, "UDP/TLS/RTP/SAVPF": true, "udptl": false, "": false,
	} {
		assert.Equal(t, want, srtp.IsSecureProto(proto), proto)
	}
}
