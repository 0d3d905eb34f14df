package sdp

import (
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
