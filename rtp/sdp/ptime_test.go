package sdp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// a=ptime and a=maxptime both ways: each side announces its own, and each
// side's MediaParams carry the other's.
func TestNegotiatorPtimeMaxPtime(t *testing.T) {
	tests := []struct {
		name                   string
		offerPtime, offerMax   int
		answerPtime, answerMax int
	}{
		{name: "defaults"},
		{name: "offer 30 max 60, answer 20 max 120", offerPtime: 30, offerMax: 60, answerPtime: 20, answerMax: 120},
		{name: "offer 10, answer 40 max 40", offerPtime: 10, answerPtime: 40, answerMax: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewNegotiator(Config{Addr: netip.MustParseAddr("127.0.0.1"), Port: 4000, Ptime: tt.offerPtime, MaxPtime: tt.offerMax})
			require.NoError(t, err)
			b, err := NewNegotiator(Config{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5000, Ptime: tt.answerPtime, MaxPtime: tt.answerMax})
			require.NoError(t, err)
			offer, err := a.CreateOffer()
			require.NoError(t, err)
			answer, pb, err := b.Answer(offer)
			require.NoError(t, err)
			pa, err := a.ApplyAnswer(answer)
			require.NoError(t, err)

			want := func(v int) int {
				if v == 0 {
					return DefaultPtime
				}
				return v
			}
			require.Equal(t, want(tt.answerPtime), pa.RemotePtime)
			require.Equal(t, tt.answerMax, pa.RemoteMaxPtime)
			require.Equal(t, want(tt.offerPtime), pb.RemotePtime)
			require.Equal(t, tt.offerMax, pb.RemoteMaxPtime)
			require.Equal(t, tt.offerMax > 0, strings.Contains(string(offer), "a=maxptime:"), "offer:\n%s", offer)
			require.Equal(t, tt.answerMax > 0, strings.Contains(string(answer), "a=maxptime:"), "answer:\n%s", answer)
		})
	}
}

func TestConfigMaxPtimeBelowPtime(t *testing.T) {
	for _, cfg := range []Config{{Ptime: 30, MaxPtime: 20}, {MaxPtime: 10}, {MaxPtime: -1}} {
		cfg.Addr, cfg.Port = netip.MustParseAddr("127.0.0.1"), 4000
		_, err := NewNegotiator(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

// The answer follows the offer's codec order among ours (RFC 3264 §6.1),
// with the offer's payload types, unless Config.AnswerInOurOrder; the
// telephone-event chosen is the one at the audio codec's rate.
func TestAnswerCodecOrder(t *testing.T) {
	offer := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 0 97 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:97 telephone-event/16000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n")
	for _, ours := range []bool{false, true} {
		t.Run(fmt.Sprintf("AnswerInOurOrder=%v", ours), func(t *testing.T) {
			n, err := NewNegotiator(Config{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5000, AnswerInOurOrder: ours})
			require.NoError(t, err)
			answer, p, err := n.Answer(offer)
			require.NoError(t, err)
			m := ""
			for l := range strings.SplitSeq(string(answer), "\r\n") {
				if strings.HasPrefix(l, "m=audio ") {
					m = l
				}
			}
			if ours {
				require.Equal(t, "m=audio 5000 RTP/AVP 0 8 101", m) // DefaultCodecs: PCMU first
				require.Equal(t, "PCMU", p.Codec.Name)
			} else {
				require.Equal(t, "m=audio 5000 RTP/AVP 8 0 101", m)
				require.Equal(t, "PCMA", p.Codec.Name)
			}
			require.True(t, p.HasTelephoneEvent)
			require.Equal(t, uint8(101), p.TelephoneEvent.PayloadType, "the offer's number, at 8000 Hz")
		})
	}
}

// RTCP XR VoIP Metrics (a=rtcp-xr:voip-metrics) are used when both sides
// announce them; an answer announces them only when offered.
func TestNegotiatorVoIPMetrics(t *testing.T) {
	for _, tt := range []struct{ offer, answer, want bool }{
		{false, false, false}, {true, false, false}, {false, true, false}, {true, true, true},
	} {
		t.Run(fmt.Sprintf("offer=%v answer=%v", tt.offer, tt.answer), func(t *testing.T) {
			a, err := NewNegotiator(Config{Addr: netip.MustParseAddr("127.0.0.1"), Port: 4000, VoIPMetrics: tt.offer})
			require.NoError(t, err)
			b, err := NewNegotiator(Config{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5000, VoIPMetrics: tt.answer})
			require.NoError(t, err)
			offer, err := a.CreateOffer()
			require.NoError(t, err)
			require.Equal(t, tt.offer, strings.Contains(string(offer), "a=rtcp-xr:voip-metrics\r\n"), "offer:\n%s", offer)
			answer, pb, err := b.Answer(offer)
			require.NoError(t, err)
			require.Equal(t, tt.want, strings.Contains(string(answer), "a=rtcp-xr:voip-metrics\r\n"), "answer:\n%s", answer)
			pa, err := a.ApplyAnswer(answer)
			require.NoError(t, err)
			require.Equal(t, tt.want, pa.VoIPMetrics)
			require.Equal(t, tt.want, pb.VoIPMetrics)
		})
	}
	// Other XR formats beside it.
	sd, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtcp-xr:rcvr-rtt=all voip-metrics stat-summary=loss\r\n"))
	require.NoError(t, err)
	require.True(t, sd.Media[0].VoIPMetrics)
}
