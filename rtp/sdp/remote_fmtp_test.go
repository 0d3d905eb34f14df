package sdp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"
)

// MediaParams.RemoteFmtp is the peer's own fmtp for the chosen codec on
// both sides of an exchange, although an answer carries the answerer's
// parameters (RFC 7587 §6.1: Opus' fmtp says what its sender wants to
// receive).
func TestRemoteFmtp(t *testing.T) {
	tests := []struct {
		name              string
		offerer, answerer string // each side's Opus fmtp
	}{
		{name: "different", offerer: "useinbandfec=1", answerer: "maxaveragebitrate=20000;usedtx=1"},
		{name: "answerer none", offerer: "useinbandfec=1;usedtx=1", answerer: ""},
		{name: "both none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withFmtp := func(f string) []audio.Codec {
				o := audio.Opus()
				o.Fmtp = f
				return []audio.Codec{o, audio.PCMU(), audio.TelephoneEvent()}
			}
			ca, cb := offerTestConfig("192.0.2.1", 4000), offerTestConfig("192.0.2.2", 6000)
			ca.Codecs, cb.Codecs = withFmtp(tt.offerer), withFmtp(tt.answerer)
			a, err := sdp.NewNegotiator(ca)
			require.NoError(t, err)
			b, err := sdp.NewNegotiator(cb)
			require.NoError(t, err)
			offer, err := a.CreateOffer()
			require.NoError(t, err)
			answer, pb, err := b.Answer(offer)
			require.NoError(t, err)
			pa, err := a.ApplyAnswer(answer)
			require.NoError(t, err)
			require.Equal(t, "opus", pa.Codec.Name)
			require.Equal(t, uint32(48000), pa.Codec.ClockRate)
			require.Equal(t, 2, pa.Codec.Channels)
			require.Equal(t, tt.offerer, pb.RemoteFmtp, "the answerer sees the offerer's")
			if tt.answerer != "" {
				require.Equal(t, tt.answerer, pa.RemoteFmtp, "the offerer sees the answerer's")
			}
		})
	}
}
