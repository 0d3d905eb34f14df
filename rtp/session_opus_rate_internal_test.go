//go:build opus && cgo

package rtp

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/sdp"
)

// snrAgainst is the SNR in dB of got against want delayed by the lag (0 to
// maxLag samples) that fits best.
func snrAgainst(want, got []int16, maxLag int) float64 {
	best := math.Inf(-1)
	for lag := 0; lag <= maxLag; lag++ {
		var sig, noise float64
		for i := lag; i < len(got) && i-lag < len(want); i++ {
			w := float64(want[i-lag])
			sig += w * w
			noise += (float64(got[i]) - w) * (float64(got[i]) - w)
		}
		best = max(best, 10*math.Log10(sig/max(noise, 1)))
	}
	return best
}

// A host at 16 or 8 kHz receiving a 48 kHz peer's Opus stream (48 kHz
// timestamps, 960 a packet) that loses single packets and a burst of five
// gets one frame of 20 ms at its rate every tick, lost or not: the single
// losses rebuilt from in-band FEC at its rate, closer to the stream
// without loss than when the peer codes no FEC, the burst concealed.
func TestSessionOpusHostRateLoss(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	const ticks = 150
	lost := func(i int) bool { return i > 20 && (i%10 == 0 || i >= 111 && i <= 115) }
	run := func(t *testing.T, rate int, fec bool) (played, clean []int16, st SessionStats) {
		s, err := newSession(SessionConfig{HostSampleRate: rate})
		require.NoError(t, err)
		t.Cleanup(func() {
			s.mu.Lock()
			s.codec.close()
			s.mu.Unlock()
		})
		require.NoError(t, s.SetRemote(sdp.MediaParams{RemoteRTP: peer, RemoteRTCP: peer,
			Codec: audio.Opus(), RemoteFmtp: "useinbandfec=1", Direction: sdp.SendRecv}))
		require.Equal(t, rate, s.SampleRate())
		require.Equal(t, rate/50, s.FrameSamples())
		enc, err := opus.NewEncoder(opus.EncoderConfig{Bitrate: 24000, FEC: fec, PacketLossPercent: 20})
		require.NoError(t, err)
		defer enc.Close()
		ref, err := opus.NewDecoderRate(rate) // the stream as heard without loss
		require.NoError(t, err)
		defer ref.Close()
		t0 := time.Unix(3000, 0)
		var h pionrtp.Header
		for i := range ticks {
			now := t0.Add(time.Duration(i) * audio.FrameDuration)
			pkt, err := enc.Encode(nil, opusTone(i))
			require.NoError(t, err)
			clean, err = ref.Decode(clean, pkt)
			require.NoError(t, err)
			if !lost(i) {
				b, err := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypeOpus,
					SequenceNumber: uint16(65500 + i), Timestamp: uint32(0xfffe0000 + i*opus.FrameSamples), SSRC: 7}, Payload: pkt}).Marshal()
				require.NoError(t, err)
				s.handleRTP(&h, b, peer, now, nil)
			}
			s.mu.Lock()
			s.tickLocked(now, now, true)
			n := len(played)
			var ok bool
			played, ok = s.rx.q.pop(played)
			s.mu.Unlock()
			require.True(t, ok, "a frame at tick %d", i)
			require.Len(t, played[n:], rate/50, "the frame of tick %d", i)
			_, ok = s.rx.q.pop(nil)
			require.False(t, ok, "one frame a tick")
		}
		return played, clean, s.Stats()
	}
	for _, rate := range []int{16000, 8000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			fs := rate / 50
			played, clean, st := run(t, rate, true)
			require.Len(t, played, ticks*fs)
			require.Equal(t, uint64(11), st.OpusFECRecovered, "30, 40, ... 100, 120, 130, 140: one lost at a time")
			require.GreaterOrEqual(t, st.Playout.Lost+st.Playout.Concealed, uint64(5), "the burst 111-115")
			require.Zero(t, st.Undecodable)
			// From packet 25 to 105: single losses only.
			withFEC := snrAgainst(clean[25*fs:105*fs], played[25*fs:], 4*fs)
			playedNo, cleanNo, _ := run(t, rate, false)
			without := snrAgainst(cleanNo[25*fs:105*fs], playedNo[25*fs:], 4*fs)
			t.Logf("played against the stream without loss: %.1f dB with FEC, %.1f dB without (%d samples a frame)", withFEC, without, fs)
			require.Greater(t, withFEC, without+3)
		})
	}
}
