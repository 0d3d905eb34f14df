package sdp_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/sdp"
)

// The hooks SRTP uses: the offered profile, the extra attributes, and the
// profiles an answer accepts, kept in the answer.
func TestSecureProfiles(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	crypto := sdp.Attribute{Key: "crypto", Value: "1 AES_CM_128_HMAC_SHA1_80 inline:x"}
	offerer := sdp.Config{Addr: addr, Port: 4000, Proto: "RTP/SAVP", Attributes: []sdp.Attribute{crypto}}
	offer, err := sdp.NewOffer(offerer)
	require.NoError(t, err)
	b, err := offer.Marshal()
	require.NoError(t, err)
	assert.Contains(t, string(b), "m=audio 4000 RTP/SAVP ")
	assert.Contains(t, string(b), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n")

	parsed, err := sdp.Parse(b)
	require.NoError(t, err)
	plain := sdp.Config{Addr: addr, Port: 5000}
	_, _, err = sdp.Answer(parsed, plain)
	require.ErrorIs(t, err, sdp.ErrNotAcceptable, "RTP/SAVP without AcceptProtos")

	secure := plain
	secure.AcceptProtos = []string{"RTP/SAVP"}
	secure.Attributes = []sdp.Attribute{{Key: "crypto", Value: "1 AES_CM_128_HMAC_SHA1_80 inline:y"}}
	ans, p, err := sdp.Answer(parsed, secure)
	require.NoError(t, err)
	assert.Equal(t, "RTP/SAVP", ans.Media[0].Proto, "the answer keeps the offer's profile")
	ab, err := ans.Marshal()
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(ab), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:y"))
	assert.Equal(t, 0, p.Index)

	mp, err := sdp.ApplyAnswer(offer, ans)
	require.NoError(t, err)
	assert.Equal(t, "PCMU", mp.Codec.Name)
	assert.True(t, secure.AcceptsProto("rtp/savp"))
	assert.True(t, plain.AcceptsProto("RTP/AVP"))
	assert.False(t, plain.AcceptsProto("RTP/SAVP"))
}
