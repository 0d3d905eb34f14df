//go:build opus && cgo

package ua_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
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
		got := playAndRecordAt(ctx, t, dir.from, dir.to, dir.hz, opus.SampleRate, 40)
		require.Greater(t, peakLevelAt(got, dir.hz, opus.SampleRate), 0.02, "%s hears the %.0f Hz tone", dir.who, dir.hz)
		require.Less(t, peakLevelAt(got, dir.otherHz, opus.SampleRate), 0.002, "%s hears only that tone", dir.who)
	}
	for _, s := range []*rtp.Session{out.Media(), in.Media()} {
		st := s.Stats()
		require.Positive(t, st.PacketsReceived)
		require.Zero(t, st.Undecodable+st.UnknownPayload)
	}
	require.NoError(t, out.Hangup(ctx))
}
