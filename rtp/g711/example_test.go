package g711_test

import (
	"fmt"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/wav"
	pionrtp "github.com/pion/rtp"
)

// Encode a frame of a 1 kHz tone as μ-law, packetize it, then depacketize
// and decode it again.
func ExampleAppendPacket() {
	tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000, Amplitude: 0.5})
	frame, _ := tone.ReadFrame(make([]int16, 0, audio.FrameSamples))

	law, _ := g711.LawFor(audio.PCMU())
	h := pionrtp.Header{PayloadType: law.PayloadType(), SequenceNumber: 1, Timestamp: 160, SSRC: 0x1234}
	buf, _ := g711.AppendPacket(make([]byte, 0, 1500), &h, law, frame)

	var pkt pionrtp.Packet
	_ = pkt.Unmarshal(buf)
	decoded := law.Decode(nil, pkt.Payload)
	fmt.Println(len(buf), "bytes, payload type", pkt.PayloadType, ":", len(decoded), "samples")
	fmt.Printf("1 kHz level %.2f, 440 Hz level %.3f\n",
		wav.ToneLevel(decoded, 1000, audio.SampleRate), wav.ToneLevel(decoded, 440, audio.SampleRate))
	// Output:
	// 172 bytes, payload type 0 : 160 samples
	// 1 kHz level 0.25, 440 Hz level 0.000
}
