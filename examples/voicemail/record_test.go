package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/wav"
)

func TestSilenceDetector(t *testing.T) {
	loud := func(n int) [][]int16 {
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 440, Amplitude: 0.05}) // about -26 dBFS RMS
		require.NoError(t, err)
		var out [][]int16
		for range n {
			f, err := g.ReadFrame(nil)
			require.NoError(t, err)
			out = append(out, f)
		}
		return out
	}
	faint := func(n int) [][]int16 {
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 440, Amplitude: 0.005}) // about -49 dBFS
		require.NoError(t, err)
		var out [][]int16
		for range n {
			f, _ := g.ReadFrame(nil)
			out = append(out, f)
		}
		return out
	}
	quiet := func(n int) [][]int16 { return faint(n) }
	tests := []struct {
		name      string
		frames    [][]int16
		endsAfter int // frames fed when it first reports the end; -1 never
		voiced    bool
	}{
		{"voice then 1 s of silence ends at 50 frames of it", append(loud(20), quiet(60)...), 70, true},
		{"silence alone ends too", quiet(60), 50, false},
		{"voice resets the count", append(append(append(loud(5), quiet(40)...), loud(5)...), quiet(49)...), -1, true},
		{"voice only never ends", loud(100), -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSilenceDetector(DefaultSilenceLevel, time.Second, 8000)
			got := -1
			for i, f := range tt.frames {
				if d.frame(f) && got < 0 {
					got = i + 1
				}
			}
			require.Equal(t, tt.endsAfter, got)
			require.Equal(t, tt.voiced, d.voiced)
		})
	}
	require.False(t, newSilenceDetector(-40, time.Second, 8000).frame(nil), "an empty frame is no silence")
}
