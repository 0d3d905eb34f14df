package rtp_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/wav"
)

// toneSamples returns d of a tone at 8 kHz.
func toneSamples(t testing.TB, freq float64, d time.Duration) []int16 {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: freq})
	require.NoError(t, err)
	var pcm []int16
	for len(pcm) < int(d.Seconds()*audio.SampleRate) {
		pcm, err = g.ReadFrame(pcm)
		require.NoError(t, err)
	}
	return pcm
}

// A session with a Loop sends the loop's tone instead of the host's, at
// the call's rate (G.711 and G.722); SetLoop(nil) gives the host's audio
// back. The host keeps writing all along, at its pace.
func TestSessionLoopReplacesHostAudio(t *testing.T) {
	const hostHz, loopHz = 1500.0, 700.0
	tests := []struct {
		name   string
		codecs []audio.Codec
	}{
		{"pcmu", []audio.Codec{audio.PCMU()}},
		{"g722", []audio.Codec{audio.G722()}},
	}
	if opus.Available {
		tests = append(tests, struct {
			name   string
			codecs []audio.Codec
		}{"opus", []audio.Codec{audio.Opus()}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			a := newTestSession(t, rtp.SessionConfig{Ports: ports})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports})
			negotiateCodecs(t, a, b, tt.codecs, tt.codecs)
			rate := b.SampleRate()

			loop, err := rtp.NewLoop(toneSamples(t, loopHz, 340*time.Millisecond))
			require.NoError(t, err)
			require.Equal(t, 340*time.Millisecond, loop.Duration())

			host, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hostHz, SampleRate: a.SampleRate(), FrameSamples: a.FrameSamples()})
			require.NoError(t, err)
			pctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- a.Play(pctx, host) }()
			defer func() { stop(); <-done }()

			level := func(freq float64) float64 {
				elapse(ctx, t, b, 10) // the jitter buffer's delay and the switch
				return wav.ToneLevel(readFrames(ctx, t, b, 25), freq, rate)
			}
			require.Greater(t, level(hostHz), 0.01, "the host's tone before the loop")

			a.SetLoop(loop)
			require.True(t, a.Looping())
			require.Greater(t, level(loopHz), 0.01, "the loop's tone")
			require.Less(t, level(hostHz), 0.001, "the host's tone is not sent")
			require.NotZero(t, a.Stats().FramesDiscarded, "the host's frames kept their pace")

			a.SetLoop(nil)
			require.False(t, a.Looping())
			require.Greater(t, level(hostHz), 0.01, "the host's tone after the loop")
		})
	}
}

// AppendAt gives the loop at 48 kHz (an Opus call's rate) as it does at 8
// and 16: the same tone, not one six times higher, and the position
// advancing by the time of the samples taken, across the loop's end.
func TestLoopAppendAtFullband(t *testing.T) {
	const loopHz = 700.0
	loop, err := rtp.NewLoop(toneSamples(t, loopHz, 340*time.Millisecond))
	require.NoError(t, err)
	for _, rate := range []int{8000, 16000, 48000} {
		var pcm []int16
		var pos time.Duration
		frame := rate / 50
		for range 50 { // 1 s: the 340 ms loop wraps twice
			pcm, pos = loop.AppendAt(pcm, pos, frame, rate)
		}
		require.Len(t, pcm, rate, "%d Hz", rate)
		require.Equal(t, time.Second%loop.Duration(), pos, "%d Hz: the position after 1 s", rate)
		require.Greater(t, wav.ToneLevel(pcm, loopHz, rate), 0.05, "%d Hz: the loop's tone", rate)
		if rate == 48000 {
			require.Less(t, wav.ToneLevel(pcm, 6*loopHz, rate), 0.001, "8 kHz samples played at 48 kHz")
			// Every third sample is the 16 kHz one; those between lie
			// between their neighbours.
			pcm16, _ := loop.AppendAt(nil, 0, len(pcm)/3, 16000)
			for i, v := range pcm16 {
				require.Equal(t, v, pcm[3*i], "sample %d", 3*i)
				if i+1 < len(pcm16) {
					lo, hi := min(v, pcm16[i+1]), max(v, pcm16[i+1])
					for _, m := range pcm[3*i+1 : 3*i+3] {
						require.True(t, m >= lo && m <= hi, "sample between %d and %d: %d", v, pcm16[i+1], m)
					}
				}
			}
		}
	}
}

func TestLoadLoopErrors(t *testing.T) {
	empty, err := wav.Append(nil, nil)
	require.NoError(t, err)
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"not a WAV", []byte("RIFF....WAVX"), wav.ErrMalformed},
		{"truncated", []byte("RIF"), wav.ErrMalformed},
		{"no samples", empty, rtp.ErrLoopEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := rtp.LoadLoop(bytes.NewReader(tt.file))
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, l)
		})
	}
}

// A file longer than MaxLoopDuration is refused.
func TestLoadLoopTooLong(t *testing.T) {
	pcm := make([]int16, int(rtp.MaxLoopDuration.Seconds())*audio.SampleRate+1)
	_, err := rtp.NewLoop(pcm)
	require.ErrorIs(t, err, rtp.ErrLoopTooLong)
}

// A WAV file loads at its length, its tone kept at both rates.
func TestLoadLoopWAV(t *testing.T) {
	file, err := wav.Append(nil, toneSamples(t, 700, 500*time.Millisecond))
	require.NoError(t, err)
	l, err := rtp.LoadLoop(bytes.NewReader(file))
	require.NoError(t, err)
	require.InDelta(t, 500*time.Millisecond, l.Duration(), float64(time.Millisecond))
}

// AppendAt reads the loop from a position and wraps at its end; the
// position it returns goes on from there, at either rate, and a position
// past the end (or before the start) is taken modulo the loop.
func TestLoopAppendAt(t *testing.T) {
	pcm := make([]int16, 400) // 50 ms at 8 kHz: 1, 2, … 400
	for i := range pcm {
		pcm[i] = int16(i + 1)
	}
	l, err := rtp.NewLoop(pcm)
	require.NoError(t, err)

	got, pos := l.AppendAt(nil, 0, 160, audio.SampleRate)
	require.Equal(t, pcm[:160], got)
	require.Equal(t, 20*time.Millisecond, pos)
	got, pos = l.AppendAt(got[:0], 40*time.Millisecond, 160, audio.SampleRate)
	require.Equal(t, append(append([]int16{}, pcm[320:]...), pcm[:80]...), got, "wraps at the end")
	require.Equal(t, 10*time.Millisecond, pos)
	got, _ = l.AppendAt(got[:0], 60*time.Millisecond, 1, audio.SampleRate)
	require.Equal(t, []int16{pcm[80]}, got, "a position past the end, modulo the loop")
	got, _ = l.AppendAt(got[:0], -10*time.Millisecond, 1, audio.SampleRate)
	require.Equal(t, []int16{pcm[320]}, got, "a negative position, modulo the loop")

	wide, pos := l.AppendAt(nil, 0, 320, 16000)
	require.Len(t, wide, 320)
	require.Equal(t, 20*time.Millisecond, pos, "the same time at 16 kHz")
	other, _ := l.AppendAt(nil, 0, 160, 12345)
	require.Equal(t, pcm[:160], other, "another rate reads the 8 kHz audio")
}
