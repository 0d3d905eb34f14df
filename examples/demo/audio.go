package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"
)

// Audio analysis settings.
const (
	// windowSamples is the analysis window: 100 ms at 8 kHz, which tells
	// frequencies apart to about 10 Hz.
	windowSamples = audio.SampleRate / 10
	// scanMin, scanMax and scanStep are the frequencies the peak search
	// tries in each window, in Hz.
	scanMin, scanMax, scanStep = 100, 3900, 10
	// peakTolerance is how far from the expected frequency a window's peak
	// may be and still count, in Hz.
	peakTolerance = 15
	// minRMS is the loudness below which a window counts as silence (about
	// -50 dBFS).
	minRMS = 100
	// minHeardShare is the share of a signal's played duration that must
	// be heard at its frequency for the check to pass.
	minHeardShare = 0.5
	// maxRecordSamples bounds each recording: one minute.
	maxRecordSamples = 60 * audio.SampleRate
)

// toneSource plays one or more notes in turn, each noteFrames frames long,
// until totalFrames frames have been played; then io.EOF.
type toneSource struct {
	notes       []*wav.ToneGenerator
	noteFrames  int
	totalFrames int
	n           int
}

// newToneSource returns a source that plays freqs in turn (one frequency:
// a steady tone), changing note every note, for d.
func newToneSource(freqs []float64, note, d time.Duration) (*toneSource, error) {
	s := &toneSource{
		noteFrames:  max(int(note/audio.FrameDuration), 1),
		totalFrames: int(d / audio.FrameDuration),
	}
	for _, f := range freqs {
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: f})
		if err != nil {
			return nil, err
		}
		s.notes = append(s.notes, g)
	}
	return s, nil
}

// ReadFrame implements rtp.FrameSource.
func (s *toneSource) ReadFrame(dst []int16) ([]int16, error) {
	if s.n >= s.totalFrames {
		return dst, io.EOF
	}
	g := s.notes[(s.n/s.noteFrames)%len(s.notes)]
	s.n++
	return g.ReadFrame(dst)
}

// recorder is an rtp.FrameSink that keeps what a side heard, up to
// maxRecordSamples.
type recorder struct {
	mu      sync.Mutex
	samples []int16
}

// WriteSamples implements rtp.FrameSink.
func (r *recorder) WriteSamples(s []int16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples)+len(s) > maxRecordSamples {
		return errors.New("recording longer than a minute")
	}
	r.samples = append(r.samples, s...)
	return nil
}

// Samples returns a copy of what was recorded.
func (r *recorder) Samples() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.samples...)
}

// writeWAV writes samples to path as a 16-bit mono 8 kHz WAV file.
func writeWAV(path string, samples []int16) error {
	b, err := wav.Append(nil, samples)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// peaks returns the dominant frequency of each 100 ms window of samples,
// found with the Goertzel algorithm (wav.ToneLevel) over scanMin…scanMax
// Hz; 0 for a silent window.
func peaks(samples []int16) []float64 {
	var out []float64
	for i := 0; i+windowSamples <= len(samples); i += windowSamples {
		w := samples[i : i+windowSamples]
		var sum float64
		for _, x := range w {
			sum += float64(x) * float64(x)
		}
		if math.Sqrt(sum/float64(len(w))) < minRMS {
			out = append(out, 0)
			continue
		}
		best, bestLevel := 0.0, 0.0
		for f := scanMin; f <= scanMax; f += scanStep {
			if l := wav.ToneLevel(w, float64(f), audio.SampleRate); l > bestLevel {
				best, bestLevel = float64(f), l
			}
		}
		out = append(out, best)
	}
	return out
}

// heard returns how long the windows' peaks were within peakTolerance of
// freq.
func heard(peaks []float64, freq float64) time.Duration {
	n := 0
	for _, p := range peaks {
		if math.Abs(p-freq) <= peakTolerance {
			n++
		}
	}
	return time.Duration(n) * windowSamples * time.Second / audio.SampleRate
}

// audioCheck is the verdict on one side's recording: for each frequency
// the other side played, how long it was heard.
type audioCheck struct {
	who    string // who listened
	file   string
	played time.Duration // how long each frequency was played
	freqs  []float64
	heard  []time.Duration
}

// check analyses what who heard against the frequencies the other side
// played, each for played in all.
func check(who, file string, samples []int16, freqs []float64, played time.Duration) audioCheck {
	p := peaks(samples)
	c := audioCheck{who: who, file: file, played: played, freqs: freqs}
	for _, f := range freqs {
		c.heard = append(c.heard, heard(p, f))
	}
	return c
}

// OK reports whether every frequency was heard for at least minHeardShare
// of its time.
func (c audioCheck) OK() bool {
	for _, h := range c.heard {
		if h.Seconds() < minHeardShare*c.played.Seconds() {
			return false
		}
	}
	return len(c.heard) > 0
}

// String is one line per frequency: "bob heard 440 Hz for 1.9 s of 2.0 s".
func (c audioCheck) String() string {
	s := ""
	for i, f := range c.freqs {
		verdict := "ok"
		if c.heard[i].Seconds() < minHeardShare*c.played.Seconds() {
			verdict = "MISSING"
		}
		if i > 0 {
			s += "\n"
		}
		s += fmt.Sprintf("  %-5s heard %4.0f Hz for %.1f s (played for %.1f s): %s", c.who, f, c.heard[i].Seconds(), c.played.Seconds(), verdict)
	}
	return s
}
