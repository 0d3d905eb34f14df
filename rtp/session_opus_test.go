//go:build opus && cgo

package rtp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/wav"
)

// A 3 kHz tone one way and a 700 Hz one the other cross an Opus call:
// the host reads and writes 48 kHz frames of 960 samples,
// the wire carries opus/48000/2 with a 48 kHz RTP clock.
func TestSessionOpusTone(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	codecs := []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}
	pa, pb := negotiateCodecs(t, a, b, codecs, codecs)
	require.Equal(t, "opus", pa.Codec.Name)
	require.Equal(t, "opus", pb.Codec.Name)
	require.Equal(t, "useinbandfec=1", pa.RemoteFmtp)
	require.Equal(t, "useinbandfec=1", pb.RemoteFmtp)
	for _, s := range []*rtp.Session{a, b} {
		require.Equal(t, opus.SampleRate, s.SampleRate())
		require.Equal(t, opus.FrameSamples, s.FrameSamples())
	}
	const freqA, freqB = 3000, 700
	for _, dir := range []struct {
		from, to    *rtp.Session
		freq, other float64
	}{{a, b, freqA, freqB}, {b, a, freqB, freqA}} {
		tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: dir.freq, SampleRate: opus.SampleRate, FrameSamples: opus.FrameSamples})
		require.NoError(t, err)
		playCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- dir.from.Play(playCtx, tone) }()
		var toneFrames int
		buf := make([]int16, 0, opus.FrameSamples)
		for i := 0; i < 150 && toneFrames < 25; i++ {
			f, err := dir.to.ReadFrame(ctx, buf[:0])
			require.NoError(t, err)
			require.Len(t, f, opus.FrameSamples)
			if wav.ToneLevel(f, dir.freq, opus.SampleRate) > 0.03 {
				require.Less(t, wav.ToneLevel(f, dir.other, opus.SampleRate), 0.003, "only the tone")
				toneFrames++
			}
		}
		stop()
		require.ErrorIs(t, <-done, context.Canceled)
		require.GreaterOrEqual(t, toneFrames, 25, "frames with the %v Hz tone", dir.freq)
	}
	sa, sb := a.Stats(), b.Stats()
	require.Positive(t, sa.PacketsSent)
	require.Positive(t, sb.PacketsSent)
	for _, st := range []rtp.SessionStats{sa, sb} {
		require.Zero(t, st.UnknownPayload)
		require.Zero(t, st.Undecodable)
		require.Zero(t, st.Playout.Late, "timestamps at the 48 kHz clock play out in order")
	}
}

// Opus gives the host 48 kHz frames only: a session that fixes the host's
// rate refuses it.
func TestSessionOpusHostRate(t *testing.T) {
	a := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t), HostSampleRate: 16000})
	err := a.SetRemote(sdp.MediaParams{Codec: audio.Opus()})
	require.ErrorIs(t, err, rtp.ErrSessionConfig)
	require.Equal(t, 16000, a.SampleRate())
}
