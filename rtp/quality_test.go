package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// The E-model against figures worked out by hand from G.107 and G.113.
func TestEModel(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		delay     time.Duration
		loss      float64
		wantR     float64
		wantMOS   float64
		tolerance float64
	}{
		// R0 − Is = 93.2: the best G.711 gets, MOS 4.41.
		{"ideal", 0, 0, 93.2, 4.41, 0.01},
		// Id = 0.024·100 = 2.4.
		{"100 ms", 100 * ms, 0, 90.8, 4.36, 0.01},
		// Id = 0.024·200 + 0.11·22.7 = 7.297.
		{"200 ms", 200 * ms, 0, 85.903, 4.226, 0.001},
		// Ie,eff = 95·1/(1 + 25.1) = 3.640.
		{"1% loss", 0, 0.01, 89.56, 4.33, 0.01},
		// Ie,eff = 95·5/(5 + 25.1) = 15.78.
		{"5% loss", 0, 0.05, 77.42, 3.923, 0.001},
		{"everything lost", 400 * ms, 1, 0, 1, 0.001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := EModelR(tt.delay, tt.loss, emodelIeG711, emodelBplG711)
			require.InDelta(t, tt.wantR, r, 0.01)
			require.InDelta(t, tt.wantMOS, MOSFromR(r), tt.tolerance)
		})
	}
	require.Equal(t, 4.5, MOSFromR(120))
	require.Equal(t, 1.0, MOSFromR(-3))
}

// A session's quality figures: packets, loss, late and concealed from what
// it received, and a MOS that falls with the loss.
func TestSessionQuality(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	run := func(lose func(i int) bool) Quality {
		s := testSession(t, peer)
		t0 := time.Unix(3000, 0)
		frame := make([]int16, audio.FrameSamples)
		for i := range frame {
			frame[i] = int16(i * 50)
		}
		var h pionrtp.Header
		for i := range 200 {
			now := t0.Add(time.Duration(i) * audio.FrameDuration)
			if !lose(i) {
				b, err := g711.AppendPacket(nil, &pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU,
					SequenceNumber: uint16(i), Timestamp: uint32(i * audio.FrameSamples), SSRC: 9}, g711.ULaw, frame)
				require.NoError(t, err)
				s.handleRTP(&h, b, peer, now, nil)
			}
			s.mu.Lock()
			s.tickLocked(now, now, true)
			s.mu.Unlock()
		}
		return s.Quality()
	}
	clean := run(func(int) bool { return false })
	require.Equal(t, uint64(200), clean.PacketsReceived)
	require.Zero(t, clean.PacketsLost)
	require.Zero(t, clean.LossRate)
	require.Greater(t, clean.MOS, 4.3)

	lossy := run(func(i int) bool { return i > 10 && i%10 == 0 }) // 18 of 200
	require.Equal(t, uint64(182), lossy.PacketsReceived)
	require.Equal(t, uint64(18), lossy.PacketsLost)
	require.InDelta(t, 0.09, lossy.LossRate, 0.001)
	require.Positive(t, lossy.Concealed)
	require.Less(t, lossy.MOS, clean.MOS-0.5)
	require.Positive(t, lossy.Delay)
}
