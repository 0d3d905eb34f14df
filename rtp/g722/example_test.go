package g722_test

import (
	"fmt"
	"math"

	"github.com/dialtone/dialtone/rtp/g722"
)

// Encode five 20 ms frames of a 1 kHz tone at 16 kHz, one RTP payload
// each, and decode them again. The RTP timestamp advances by the payload
// size (ClockRate is 8000 Hz), not by the sample count.
func Example() {
	enc, dec := g722.NewEncoder(), g722.NewDecoder()
	frame := make([]int16, g722.FrameSamples)
	payload := make([]byte, 0, g722.FrameBytes)
	out := make([]int16, 0, g722.FrameSamples)
	var timestamp uint32
	for n := range 5 {
		for i := range frame {
			t := float64(n*g722.FrameSamples+i) / g722.SampleRate
			frame[i] = int16(8000 * math.Sin(2*math.Pi*1000*t))
		}
		payload = enc.Encode(payload[:0], frame)
		out = dec.Decode(out[:0], payload)
		timestamp += uint32(len(payload))
	}
	var peak int16
	for _, v := range out {
		peak = max(peak, v)
	}
	fmt.Printf("a=rtpmap:%d %s/%d\n", g722.PayloadType, g722.EncodingName, g722.ClockRate)
	fmt.Printf("%d samples -> %d octets -> %d samples per frame\n", len(frame), len(payload), len(out))
	fmt.Printf("timestamp after 100 ms: %d\n", timestamp)
	fmt.Printf("peak of the last frame: about %d\n", (peak+50)/100*100)
	// Output:
	// a=rtpmap:9 G722/8000
	// 320 samples -> 160 octets -> 320 samples per frame
	// timestamp after 100 ms: 800
	// peak of the last frame: about 8000
}
