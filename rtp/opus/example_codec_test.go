//go:build opus && cgo

package opus_test

import (
	"fmt"
	"math"

	"github.com/dialtone/dialtone/rtp/opus"
)

// One 20 ms frame of a tone through an encoder and a decoder.
func ExampleNewEncoder() {
	enc, err := opus.NewEncoder(opus.EncoderConfig{FEC: true})
	if err != nil {
		panic(err) // in a build without -tags opus: opus.ErrUnavailable
	}
	defer enc.Close()
	dec, err := opus.NewDecoder()
	if err != nil {
		panic(err)
	}
	defer dec.Close()
	frame := make([]int16, opus.FrameSamples)
	for i := range frame {
		frame[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/opus.SampleRate))
	}
	pkt, err := enc.Encode(nil, frame)
	if err != nil {
		panic(err)
	}
	pcm, err := dec.Decode(nil, pkt)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(pcm), "samples")
	// Output: 960 samples
}
