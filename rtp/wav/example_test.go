package wav_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/dialtone/dialtone/rtp/wav"
)

// Write a short prompt to a WAV file in memory and read it back frame by
// frame.
func ExampleReader() {
	tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 440})
	var samples []int16
	for range 5 {
		samples, _ = tone.ReadFrame(samples)
	}
	file, _ := wav.Append(nil, samples[:700])

	r, _ := wav.NewReader(bytes.NewReader(file))
	fmt.Printf("%+v\n", r.Format())
	var frame []int16
	for {
		var err error
		frame, err = r.ReadFrame(frame[:0])
		if err == io.EOF {
			break
		}
		fmt.Println(len(frame), "samples")
	}
	// Output:
	// {Encoding:1 Channels:1 SampleRate:8000 BitsPerSample:16 BlockAlign:2}
	// 160 samples
	// 160 samples
	// 160 samples
	// 160 samples
	// 60 samples
}
