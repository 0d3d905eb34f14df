//go:build opus && cgo

package ua_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// Two UAs preferring Opus call each other: the call has opus/48000/2
// with useinbandfec=1 each way, both hosts get 48 kHz frames, and each
// side hears the other's tone and not its own.
func TestMediaOpusBothWays(t *testing.T) {
	ctx := mediaCtx(t)
	cfg := ua.MediaConfig{Codecs: []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}}
	a, b := newMediaPeer(t, cfg), newMediaPeer(t, cfg)
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	require.Contains(t, string(out.LocalSDP()), "a=rtpmap:111 opus/48000/2")
	require.Contains(t, string(in.LocalSDP()), "a=fmtp:111 useinbandfec=1")
	for _, c := range []*ua.Call{out, in} {
		p, ok := c.MediaParams()
		require.True(t, ok)
		require.Equal(t, "opus", p.Codec.Name)
		require.Equal(t, "useinbandfec=1", p.RemoteFmtp)
		require.Equal(t, opus.SampleRate, c.Media().SampleRate())
		require.Equal(t, opus.FrameSamples, c.Media().FrameSamples())
	}
	for _, dir := range []struct {
		from, to    *rtp.Session
		hz, otherHz float64
		who         string
	}{{out.Media(), in.Media(), 3000, 800, "callee"}, {in.Media(), out.Media(), 800, 3000, "caller"}} {
		got := playAndRecordOpus(ctx, t, dir.from, dir.to, dir.hz, 40)
		require.Greater(t, peakLevelOpus(got, dir.hz), 0.02, "%s hears the %.0f Hz tone", dir.who, dir.hz)
		require.Less(t, peakLevelOpus(got, dir.otherHz), 0.002, "%s hears only that tone", dir.who)
	}
	for _, s := range []*rtp.Session{out.Media(), in.Media()} {
		st := s.Stats()
		require.Positive(t, st.PacketsReceived)
		require.Zero(t, st.Undecodable+st.UnknownPayload)
	}
	require.NoError(t, out.Hangup(ctx))
}

// playAndRecordOpus is playAndRecord at 48 kHz (an Opus call).
func playAndRecordOpus(ctx context.Context, t *testing.T, from, to *rtp.Session, hz float64, frames int) []int16 {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz, SampleRate: opus.SampleRate, FrameSamples: opus.FrameSamples})
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- from.Play(ctx, &tone{g: g, n: frames}) }()
	got := record(ctx, t, to, frames+10)
	require.NoError(t, <-errc)
	return got
}

// peakLevelOpus is peakLevel at 48 kHz.
func peakLevelOpus(samples []int16, hz float64) float64 {
	const win = opus.SampleRate / 10
	best := 0.0
	for i := 0; i+win <= len(samples); i += win / 2 {
		best = max(best, wav.ToneLevel(samples[i:i+win], hz, opus.SampleRate))
	}
	return best
}
