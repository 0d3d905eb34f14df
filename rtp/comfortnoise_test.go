package rtp

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/wav"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// A received RFC 3389 packet plays as comfort noise at its level until
// the next talkspurt: a stream of 1 s of tone, a CN packet, 1 s without
// packets (the sender's silence), then 1 s of tone. The frames played in
// the gap have the CN level's RMS within 3 dB; nothing is counted lost,
// late or concealed inside the stream; the tone comes back.
func TestComfortNoiseReceived(t *testing.T) {
	tests := []struct {
		name  string
		level uint8 // −dBov
	}{
		{"-30 dBov", 30},
		{"-50 dBov", 50},
		{"-70 dBov", 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := netip.MustParseAddrPort("192.0.2.9:4000")
			s, err := newSession(SessionConfig{})
			require.NoError(t, err)
			cn := audio.Codec{Name: "CN", PayloadType: 13, ClockRate: 8000, Channels: 1}
			require.NoError(t, s.SetRemote(sdp.MediaParams{
				RemoteRTP: peer, RemoteRTCP: peer, Codec: audio.PCMU(), Direction: sdp.SendRecv,
				Codecs: []audio.Codec{audio.PCMU(), cn},
			}))
			tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
			require.NoError(t, err)

			// The sender's packets: 50 of tone, CN, 50 of tone after a
			// second of nothing; one sequence, one media clock.
			type pkt struct {
				tick int
				b    []byte
			}
			var pkts []pkt
			seq, ts := uint16(100), uint32(1234)
			frame := make([]int16, 0, audio.FrameSamples)
			add := func(tick int, pt uint8, payload []byte) {
				h := pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 99}
				b, err := h.Marshal()
				require.NoError(t, err)
				pkts = append(pkts, pkt{tick: tick, b: append(b, payload...)})
				seq++
			}
			for i := range 50 {
				frame, _ = tone.ReadFrame(frame[:0])
				add(i, audio.PayloadTypePCMU, g711.ULaw.Encode(nil, frame))
				ts += audio.FrameSamples
			}
			add(50, cn.PayloadType, []byte{tt.level})
			ts += 50 * audio.FrameSamples // a second of silence
			for i := range 50 {
				frame, _ = tone.ReadFrame(frame[:0])
				add(100+i, audio.PayloadTypePCMU, g711.ULaw.Encode(nil, frame))
				ts += audio.FrameSamples
			}

			t0 := s.epoch
			var h pionrtp.Header
			var levels []float64 // RMS of each frame read
			var concealedInside uint64
			k := 0
			ctx := context.Background()
			for tick := range 200 {
				now := t0.Add(time.Duration(tick) * audio.FrameDuration)
				for ; k < len(pkts) && pkts[k].tick <= tick; k++ {
					s.handleRTP(&h, pkts[k].b, peer, now, nil)
				}
				s.mu.Lock()
				s.tickLocked(now, now, true)
				s.mu.Unlock()
				got, err := s.ReadFrame(ctx, nil)
				require.NoError(t, err)
				levels = append(levels, rms(got))
				if tick == 150 {
					concealedInside = s.Stats().Playout.Concealed
				}
			}
			st := s.Stats()
			require.Equal(t, uint64(1), st.ComfortNoiseReceived)
			require.Zero(t, st.UnknownPayload)
			require.Zero(t, st.Undecodable)
			require.Zero(t, st.PacketsLost, "no sequence number missing (RFC 3550 §A.3)")
			require.Zero(t, st.Playout.Lost, "the CN packet is no lost audio")
			require.Zero(t, st.Playout.Late)
			require.Zero(t, concealedInside, "a talkspurt closed by CN is not concealed after")

			// The first tone plays from the target delay (40 ms) for 1 s,
			// the gap follows, the second tone begins at 2 s plus the delay.
			want := comfortNoiseRMS(tt.level)
			wantDB := 20 * math.Log10(want)
			for tick := 55; tick < 100; tick++ {
				gotDB := 20 * math.Log10(max(levels[tick], 1e-9))
				require.InDelta(t, wantDB, gotDB, 3, "frame %d: RMS %.1f, want %.1f (CN level)", tick, levels[tick], want)
			}
			for tick := 3; tick < 52; tick++ {
				require.Greater(t, levels[tick], 3*want, "frame %d: the first tone", tick)
			}
			for tick := 103; tick < 150; tick++ {
				require.Greater(t, levels[tick], 3*want, "frame %d: the second tone", tick)
			}
			for tick := 155; tick < 200; tick++ {
				require.Less(t, levels[tick], 1.0, "frame %d: silence after a talkspurt without CN", tick)
			}
		})
	}
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}
