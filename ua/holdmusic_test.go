package ua_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// Music on hold (MediaConfig.HoldMusic): while A holds the call, B hears
// A's music and not A's host audio; after resume B hears A's host audio
// again. A's host writes its tone all along.
func TestMediaHoldMusic(t *testing.T) {
	const hostHz, musicHz = 1500.0, 700.0
	tests := []struct {
		name  string
		media ua.MediaConfig
	}{
		{"pcmu", ua.MediaConfig{}},
		{"silence suppressed", ua.MediaConfig{SuppressSilence: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: musicHz})
			require.NoError(t, err)
			var pcm []int16
			for range 25 { // 500 ms, looped
				pcm, err = g.ReadFrame(pcm)
				require.NoError(t, err)
			}
			music, err := rtp.NewLoop(pcm)
			require.NoError(t, err)
			withMusic := tt.media
			withMusic.HoldMusic = music
			a, b := newMediaPeer(t, withMusic), newMediaPeer(t, tt.media)
			out, in := connect(ctx, t, a, b, ua.DialOptions{})

			pctx, stop := context.WithCancel(ctx)
			played := make(chan error, 1)
			go func() { played <- out.Media().Play(pctx, newTone(t, hostHz, 1<<20)) }()
			defer func() { stop(); <-played }()
			listen := func() []int16 {
				record(ctx, t, in.Media(), 10) // the switch and the jitter buffer
				return record(ctx, t, in.Media(), 25)
			}

			got := listen()
			require.Greater(t, peakLevel(got, hostHz), 0.02, "B hears A's host before the hold")
			require.Less(t, peakLevel(got, musicHz), 0.002)
			require.False(t, out.Media().Looping())

			require.NoError(t, out.Hold(ctx))
			require.True(t, in.RemoteHold())
			require.True(t, out.Media().Looping())
			got = listen()
			t.Logf("on hold: music %.4f, host %.5f", peakLevel(got, musicHz), peakLevel(got, hostHz))
			require.Greater(t, peakLevel(got, musicHz), 0.02, "B hears the music on hold")
			require.Less(t, peakLevel(got, hostHz), 0.002, "and not A's host")

			require.NoError(t, out.Resume(ctx))
			require.False(t, out.Media().Looping())
			got = listen()
			require.Greater(t, peakLevel(got, hostHz), 0.02, "B hears A's host after resume")
			require.Less(t, peakLevel(got, musicHz), 0.002, "and the music no more")
			require.NoError(t, out.Hangup(ctx))
			<-in.Done()
		})
	}
}
