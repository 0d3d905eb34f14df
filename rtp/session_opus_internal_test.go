//go:build opus && cgo

package rtp

import (
	"cmp"
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

// opusToneAt is sample n of a 700 Hz tone at 48 kHz whose level swings
// at 4 Hz, like syllables: libopus' voice detector keeps coding it as
// speech, with FEC, where a steady tone soon counts as background.
func opusToneAt(n int) float64 { return opusToneRate(n, opus.SampleRate) }

// opusToneRate is sample n of the tone at rate Hz.
func opusToneRate(n, rate int) float64 {
	t := float64(n) / float64(rate)
	return 8000 * math.Sin(2*math.Pi*700*t) * (0.5 + 0.5*math.Sin(2*math.Pi*4*t))
}

// opusTone is frame i of the tone at 48 kHz.
func opusTone(i int) []int16 { return opusToneFrame(i, opus.SampleRate) }

// opusToneFrame is 20 ms frame i of the tone at rate Hz.
func opusToneFrame(i, rate int) []int16 {
	f := make([]int16, rate/50)
	for n := range f {
		f[n] = int16(opusToneRate(i*len(f)+n, rate))
	}
	return f
}

// toneSNR is the SNR in dB of got, which starts at sample start of the
// tone, against it delayed by the codec's and the jitter buffer's delay:
// the one of 0..2*960 samples that fits got's first 20 ms best.
func toneSNR(got []int16, start int) float64 {
	snrAt := func(got []int16, lag int) float64 {
		var sig, noise float64
		for n, v := range got {
			w := opusToneAt(start + n - lag)
			sig += w * w
			noise += (float64(v) - w) * (float64(v) - w)
		}
		return 10 * math.Log10(sig/max(noise, 1))
	}
	best, bestLag := math.Inf(-1), 0
	for lag := range 2 * opus.FrameSamples {
		if s := snrAt(got[:opus.FrameSamples], lag); s > best {
			best, bestLag = s, lag
		}
	}
	return snrAt(got, bestLag)
}

// An Opus stream losing every tenth packet plays the lost ones rebuilt
// from the next packet's in-band FEC: the played audio stays close to the
// tone, much closer than when the sender codes no FEC.
func TestSessionOpusFECOnLoss(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	run := func(fec bool) (float64, SessionStats) {
		s, err := newSession(SessionConfig{})
		require.NoError(t, err)
		t.Cleanup(func() { // no sockets to close: free libopus' state
			s.mu.Lock()
			s.codec.close()
			s.mu.Unlock()
		})
		require.NoError(t, s.SetRemote(sdp.MediaParams{RemoteRTP: peer, RemoteRTCP: peer,
			Codec: audio.Opus(), RemoteFmtp: "useinbandfec=1", Direction: sdp.SendRecv}))
		require.Equal(t, opus.SampleRate, s.SampleRate())
		require.Equal(t, opus.FrameSamples, s.FrameSamples())
		enc, err := opus.NewEncoder(opus.EncoderConfig{Bitrate: 24000, FEC: fec, PacketLossPercent: 20})
		require.NoError(t, err)
		defer enc.Close()
		t0 := time.Unix(3000, 0)
		var played []int16
		var h pionrtp.Header
		for i := range 150 {
			now := t0.Add(time.Duration(i) * audio.FrameDuration)
			pkt, err := enc.Encode(nil, opusTone(i))
			require.NoError(t, err)
			if i <= 20 || i%10 != 0 {
				b, err := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypeOpus,
					SequenceNumber: uint16(60000 + i), Timestamp: uint32(i * opus.FrameSamples), SSRC: 7}, Payload: pkt}).Marshal()
				require.NoError(t, err)
				s.handleRTP(&h, b, peer, now, nil)
			}
			s.mu.Lock()
			s.tickLocked(now, now, true)
			if i >= 30 && i < 140 {
				played, _ = s.rx.q.pop(played)
			} else {
				_, _ = s.rx.q.pop(nil)
			}
			s.mu.Unlock()
		}
		return toneSNR(played, 30*opus.FrameSamples), s.Stats()
	}
	withFEC, st := run(true)
	require.Equal(t, uint64(12), st.OpusFECRecovered, "packets 30, 40, ... 140 lost")
	require.Zero(t, st.Undecodable)
	without, _ := run(false)
	t.Logf("played tone SNR: %.1f dB with FEC, %.1f dB without", withFEC, without)
	require.Greater(t, withFEC, without+3)
}

// A peer asking for usedtx=1 gets no packets while the host sends
// silence, and packets with the marker bit when the tone starts; at the
// host's fixed rate too.
func TestSessionOpusDTX(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.9:4000")
	tests := []struct {
		fmtp     string
		hostRate int
		wantDTX  bool
	}{{"usedtx=1", 0, true}, {"", 0, false}, {"usedtx=1", 16000, true}, {"usedtx=1", 8000, true}, {"", 16000, false}}
	for _, tt := range tests {
		s, err := newSession(SessionConfig{HostSampleRate: tt.hostRate})
		require.NoError(t, err)
		require.NoError(t, s.SetRemote(sdp.MediaParams{RemoteRTP: peer, RemoteRTCP: peer,
			Codec: audio.Opus(), RemoteFmtp: tt.fmtp, Direction: sdp.SendRecv}))
		rate := cmp.Or(tt.hostRate, opus.SampleRate)
		require.Equal(t, rate/50, s.FrameSamples())
		t0 := time.Unix(3000, 0)
		for i := range 100 {
			frame := make([]int16, rate/50)
			if i >= 80 {
				frame = opusToneFrame(i, rate)
			}
			require.NoError(t, s.WriteFrame(t.Context(), frame))
			now := t0.Add(time.Duration(i) * audio.FrameDuration)
			s.mu.Lock()
			s.tickLocked(now, now, true)
			s.tx.out = s.tx.out[:0]
			s.mu.Unlock()
		}
		st := s.Stats()
		s.mu.Lock()
		s.codec.close()
		s.mu.Unlock()
		if tt.wantDTX {
			require.Greater(t, st.OpusDTXFrames, uint64(50), "%q at %d Hz", tt.fmtp, rate)
			require.Less(t, st.PacketsSent, uint64(60))
		} else {
			require.Zero(t, st.OpusDTXFrames)
			require.Equal(t, uint64(100), st.PacketsSent)
		}
	}
}
