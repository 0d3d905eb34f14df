package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// With RTCP XR VoIP Metrics negotiated, every report carries a VoIP
// Metrics block about the peer's stream (RFC 3611 §4.7): its loss rate, the
// E-model figures and the jitter buffer's delays; without, none.
func TestRTCPVoIPMetrics(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	for _, on := range []bool{false, true} {
		s, err := newSession(SessionConfig{})
		require.NoError(t, err)
		require.NoError(t, s.SetRemote(sdp.MediaParams{RemoteRTP: peer, RemoteRTCP: peer, Codec: audio.PCMU(),
			Direction: sdp.SendRecv, VoIPMetrics: on}))
		t0 := time.Unix(5000, 0)
		frame := make([]int16, audio.FrameSamples)
		var h pionrtp.Header
		for i := range 100 {
			if i%10 == 5 { // 10 % lost
				continue
			}
			b, err := g711.AppendPacket(nil, &pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU,
				SequenceNumber: uint16(i), Timestamp: uint32(i * audio.FrameSamples), SSRC: 77}, g711.ULaw, frame)
			require.NoError(t, err)
			s.handleRTP(&h, b, peer, t0.Add(time.Duration(i)*audio.FrameDuration), nil)
		}
		s.mu.Lock()
		b, err := s.buildRTCPLocked(t0.Add(2*time.Second), false)
		s.mu.Unlock()
		require.NoError(t, err)
		pkts, err := rtcp.Unmarshal(b)
		require.NoError(t, err)
		var xr *rtcp.VoIPMetricsReportBlock
		for _, p := range pkts {
			if x, ok := p.(*rtcp.ExtendedReport); ok {
				require.Equal(t, s.ssrc, x.SenderSSRC)
				require.Len(t, x.Reports, 1)
				xr = x.Reports[0].(*rtcp.VoIPMetricsReportBlock)
			}
		}
		if !on {
			require.Nil(t, xr, "no XR without negotiation")
			continue
		}
		require.NotNil(t, xr, "VoIP Metrics block")
		require.Equal(t, uint32(77), xr.SSRC)
		require.Equal(t, uint8(256*10/100), xr.LossRate, "10 of 100 expected lost")
		require.Zero(t, xr.DiscardRate)
		q := s.Quality()
		require.Equal(t, uint8(q.R+0.5), xr.RFactor)
		require.Equal(t, uint8(q.MOS*10+0.5), xr.MOSLQ)
		require.Less(t, xr.MOSLQ, uint8(40), "10 % loss")
		require.Equal(t, uint8(xrRXConfig), xr.RXConfig)
		require.Equal(t, uint16(s.Stats().Playout.Target.Milliseconds()), xr.JBNominal)
		require.Equal(t, uint16(200), xr.JBAbsMax)
		require.Equal(t, uint8(127), xr.SignalLevel)
	}
}
