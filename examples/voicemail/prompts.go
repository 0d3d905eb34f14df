package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"
)

// The sounds: without recorded speech, each prompt is a tone pattern, all
// at 8 kHz (the program fixes ua.MediaConfig.HostSampleRate to 8000).
//
//	greeting     660 Hz 0.4 s, 880 Hz 0.6 s (or -greeting FILE)
//	record beep  1400 Hz 0.4 s
//	enter PIN    1200 Hz twice, 0.15 s
//	wrong PIN    300 Hz 0.6 s
//	no messages  900, 700, 500 Hz, 0.2 s each
//	deleted      500 Hz 0.3 s
//	saved        1000 Hz 0.3 s
//	end          800 Hz three times, 0.1 s
//	goodbye      880 Hz then 660 Hz, 0.3 s each

// tonePart is one tone (0 Hz: a pause) of a pattern.
type tonePart struct {
	hz  float64
	sec float64
}

var promptTones = map[Prompt][]tonePart{
	PromptEnterPIN:   {{1200, 0.15}, {0, 0.1}, {1200, 0.15}},
	PromptBadPIN:     {{300, 0.6}},
	PromptNoMessages: {{900, 0.2}, {700, 0.2}, {500, 0.2}},
	PromptDeleted:    {{500, 0.3}},
	PromptSaved:      {{1000, 0.3}},
	PromptEnd:        {{800, 0.1}, {0, 0.1}, {800, 0.1}, {0, 0.1}, {800, 0.1}},
	PromptGoodbye:    {{880, 0.3}, {660, 0.3}},
}

var (
	greetingTones = []tonePart{{660, 0.4}, {880, 0.6}}
	beepTones     = []tonePart{{1400, 0.4}, {0, 0.1}}
)

// tones renders a pattern, followed by 0.2 s of silence.
func tones(parts []tonePart) []int16 {
	var out []int16
	for _, p := range append(parts, tonePart{0, 0.2}) {
		n := int(p.sec * audio.SampleRate)
		if p.hz == 0 {
			out = append(out, make([]int16, n)...)
			continue
		}
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: p.hz})
		if err != nil {
			panic(err) // the table's frequencies are valid
		}
		for end := len(out) + n; len(out) < end; {
			out, _ = g.ReadFrame(out)
		}
	}
	return out
}

// pcm is a FrameSource over samples in memory.
type pcm struct{ s []int16 }

func (p *pcm) ReadFrame(dst []int16) ([]int16, error) {
	if len(p.s) == 0 {
		return dst, io.EOF
	}
	n := min(len(p.s), audio.FrameSamples)
	dst = append(dst, p.s[:n]...)
	p.s = p.s[n:]
	return dst, nil
}

// MaxGreeting bounds a greeting file.
const MaxGreeting = rtp.MaxLoopDuration

// loadWAV reads a whole WAV file at 8 kHz, at most MaxGreeting of it.
func loadWAV(name string) ([]int16, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := wav.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var all []int16
	for {
		all, err = r.ReadFrame(all)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(all) > int(MaxGreeting.Seconds())*audio.SampleRate {
			return nil, fmt.Errorf("%s: longer than %v", name, MaxGreeting)
		}
	}
}
