//go:build opus && cgo

package ua_test

import (
	"cmp"
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

// An Opus call between a UA whose host fixes its rate
// (MediaConfig.HostSampleRate 16000 or 8000) and one at Opus' own 48 kHz,
// either calling: each host reads and writes 20 ms frames at its own rate
// (320, 160 or 960 samples), and each hears the other's tone and not its
// own.
func TestMediaOpusHostRate(t *testing.T) {
	tests := []struct {
		name                   string
		callerRate, calleeRate int // HostSampleRate
	}{
		{"16 kHz calls 48 kHz", 16000, 0},
		{"48 kHz calls 16 kHz", 0, 16000},
		{"8 kHz calls 48 kHz", 8000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			codecs := []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}
			a := newMediaPeer(t, ua.MediaConfig{Codecs: codecs, HostSampleRate: tt.callerRate})
			b := newMediaPeer(t, ua.MediaConfig{Codecs: codecs, HostSampleRate: tt.calleeRate})
			out, in := connect(ctx, t, a, b, ua.DialOptions{})
			for _, side := range []struct {
				c    *ua.Call
				rate int
			}{{out, cmp.Or(tt.callerRate, opus.SampleRate)}, {in, cmp.Or(tt.calleeRate, opus.SampleRate)}} {
				p, ok := side.c.MediaParams()
				require.True(t, ok)
				require.Equal(t, "opus", p.Codec.Name)
				require.Equal(t, side.rate, side.c.Media().SampleRate())
				require.Equal(t, side.rate/50, side.c.Media().FrameSamples())
			}
			for _, dir := range []struct {
				from, to    *rtp.Session
				hz, otherHz float64
				who         string
			}{{out.Media(), in.Media(), 3000, 800, "callee"}, {in.Media(), out.Media(), 800, 3000, "caller"}} {
				got := playAndRecordAt(ctx, t, dir.from, dir.to, dir.hz, dir.from.SampleRate(), 40)
				rate := dir.to.SampleRate()
				require.Greater(t, peakLevelAt(got, dir.hz, rate), 0.02, "%s hears the %.0f Hz tone at %d Hz", dir.who, dir.hz, rate)
				require.Less(t, peakLevelAt(got, dir.otherHz, rate), 0.002, "%s hears only that tone", dir.who)
				for _, wrong := range []float64{dir.hz * 3, dir.hz / 3} {
					require.Less(t, peakLevelAt(got, wrong, rate), 0.002, "%s hears no tone at the wrong rate (%.0f Hz)", dir.who, wrong)
				}
			}
			for _, s := range []*rtp.Session{out.Media(), in.Media()} {
				st := s.Stats()
				require.Positive(t, st.PacketsReceived)
				require.Zero(t, st.Undecodable+st.UnknownPayload)
			}
			require.NoError(t, out.Hangup(ctx))
		})
	}
}
