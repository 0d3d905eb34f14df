package main

import (
	"context"
	"math"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
)

// The lobby's prompt: two short 440 Hz beeps, "type the room number".
const (
	promptHz        = 440
	promptAmplitude = 0.2
)

// promptFrames is the prompt, frame by frame at 8 kHz: beep, pause, beep.
var promptFrames = func() [][]int16 {
	var frames [][]int16
	n := 0
	for _, on := range []bool{true, true, true, true, true, false, false, false, false, false, true, true, true, true, true} {
		f := make([]int16, audio.FrameSamples)
		if on {
			for i := range f {
				f[i] = int16(promptAmplitude * math.MaxInt16 * math.Sin(2*math.Pi*promptHz*float64(n+i)/audio.SampleRate))
			}
		}
		n += len(f)
		frames = append(frames, f)
	}
	return frames
}()

// playPrompt plays the lobby's prompt on s, converted to its rate.
func playPrompt(ctx context.Context, s *rtp.Session) {
	var up *audio.Resampler
	var buf []int16
	for _, f := range promptFrames {
		if s.SampleRate() == 2*audio.SampleRate {
			if up == nil {
				up = audio.NewResampler(true, 2*len(f))
			}
			f = up.Convert(buf[:0], f)
			buf = f
		}
		if s.WriteFrame(ctx, f) != nil {
			return
		}
	}
}
