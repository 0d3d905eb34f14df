package rtp_test

import (
	"bytes"
	"fmt"
	"io"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp"
)

// Encode a frame of a 1 kHz tone as μ-law, packetize it, then depacketize
// and decode it again.
func ExampleG711AppendPacket() {
	tone, _ := rtp.NewToneGenerator(rtp.ToneConfig{Frequency: 1000, Amplitude: 0.5})
	frame, _ := tone.ReadFrame(make([]int16, 0, rtp.AudioFrameSamples))

	law, _ := rtp.G711LawFor(rtp.PCMU())
	h := pionrtp.Header{PayloadType: law.PayloadType(), SequenceNumber: 1, Timestamp: 160, SSRC: 0x1234}
	buf, _ := rtp.G711AppendPacket(make([]byte, 0, 1500), &h, law, frame)

	var pkt pionrtp.Packet
	_ = pkt.Unmarshal(buf)
	decoded := law.Decode(nil, pkt.Payload)
	fmt.Println(len(buf), "bytes, payload type", pkt.PayloadType, ":", len(decoded), "samples")
	fmt.Printf("1 kHz level %.2f, 440 Hz level %.3f\n",
		rtp.ToneLevel(decoded, 1000, rtp.AudioSampleRate), rtp.ToneLevel(decoded, 440, rtp.AudioSampleRate))
	// Output:
	// 172 bytes, payload type 0 : 160 samples
	// 1 kHz level 0.25, 440 Hz level 0.000
}

// Plan the packets of the digit 5 and feed them to a receiver, which reports
// the digit once although the end packet comes three times.
func ExampleDTMFSender() {
	sender, _ := rtp.NewDTMFSender(rtp.DTMFSenderConfig{}) // 100 ms, 20 ms apart, volume 10
	packets, _ := sender.AppendDigit(nil, '5', 8000, 0)

	receiver, _ := rtp.NewDTMFReceiver(rtp.DTMFReceiverConfig{})
	start := time.Unix(0, 0)
	var digits []rtp.DTMFDigit
	for _, p := range packets {
		payload := p.Event.AppendTo(nil)
		fmt.Printf("at %3v marker=%-5v ts=%d % x\n", p.At.Milliseconds(), p.Marker, p.Timestamp, payload)
		digits, _ = receiver.Push(digits, start.Add(p.At), p.Timestamp, payload)
	}
	for _, d := range digits {
		fmt.Printf("digit %c, %v\n", d.Digit, d.Duration)
	}
	// Output:
	// at  20 marker=true  ts=8000 05 0a 00 a0
	// at  40 marker=false ts=8000 05 0a 01 40
	// at  60 marker=false ts=8000 05 0a 01 e0
	// at  80 marker=false ts=8000 05 0a 02 80
	// at 100 marker=false ts=8000 05 8a 03 20
	// at 120 marker=false ts=8000 05 8a 03 20
	// at 140 marker=false ts=8000 05 8a 03 20
	// digit 5, 100ms
}

// Feed packets that arrive out of order, with one lost, and play them out
// every 20 ms.
func ExampleJitterBuffer() {
	jb, _ := rtp.NewJitterBuffer(rtp.JitterConfig{}) // G.711, 40..200 ms
	payload := rtp.G711EncodeUlaw(nil, make([]int16, rtp.AudioFrameSamples))
	start := time.Unix(0, 0)
	arrivals := []struct {
		seq uint16
		ms  int
	}{{0, 0}, {2, 35}, {1, 38}, {4, 80}, {5, 100}} // 3 is lost
	frame := make([]int16, 0, rtp.AudioFrameSamples)
	for tick := 0; tick <= 160; tick += 20 {
		for _, a := range arrivals {
			if a.ms > tick-20 && a.ms <= tick {
				h := &pionrtp.Header{PayloadType: rtp.PayloadTypePCMU, SequenceNumber: a.seq, Timestamp: uint32(a.seq) * 160}
				_ = jb.Push(h, payload, start.Add(time.Duration(a.ms)*time.Millisecond))
			}
		}
		var status rtp.JitterStatus
		frame, status = jb.Pop(start.Add(time.Duration(tick)*time.Millisecond), frame[:0])
		fmt.Printf("%3d ms: %s\n", tick, status)
	}
	st := jb.Stats()
	fmt.Printf("played %d, concealed %d, lost %d\n", st.Played, st.Concealed, st.Lost)
	// Output:
	//   0 ms: empty
	//  20 ms: empty
	//  40 ms: played
	//  60 ms: played
	//  80 ms: played
	// 100 ms: concealed
	// 120 ms: played
	// 140 ms: played
	// 160 ms: empty
	// played 5, concealed 1, lost 1
}

// Write a short prompt to a WAV file in memory and read it back frame by
// frame.
func ExampleWAVReader() {
	tone, _ := rtp.NewToneGenerator(rtp.ToneConfig{Frequency: 440})
	var samples []int16
	for range 5 {
		samples, _ = tone.ReadFrame(samples)
	}
	file, _ := rtp.AppendWAV(nil, samples[:700])

	r, _ := rtp.NewWAVReader(bytes.NewReader(file))
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
