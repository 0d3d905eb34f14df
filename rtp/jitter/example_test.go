package jitter_test

import (
	"fmt"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/jitter"
	pionrtp "github.com/pion/rtp"
)

// Feed packets that arrive out of order, with one lost, and play them out
// every 20 ms. After the last packet the buffer conceals while it waits in
// case the next one is only late.
func ExampleBuffer() {
	jb, _ := jitter.New(jitter.Config{}) // G.711, 40..200 ms
	payload := g711.EncodeULaw(nil, make([]int16, audio.FrameSamples))
	start := time.Unix(0, 0)
	arrivals := []struct {
		seq uint16
		ms  int
	}{{0, 0}, {2, 35}, {1, 38}, {4, 80}, {5, 100}} // 3 is lost
	frame := make([]int16, 0, audio.FrameSamples)
	for tick := 0; tick <= 160; tick += 20 {
		for _, a := range arrivals {
			if a.ms > tick-20 && a.ms <= tick {
				h := &pionrtp.Header{PayloadType: audio.PayloadTypePCMU, SequenceNumber: a.seq, Timestamp: uint32(a.seq) * 160}
				_ = jb.Push(h, payload, start.Add(time.Duration(a.ms)*time.Millisecond))
			}
		}
		var status jitter.Status
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
	// 160 ms: concealed
	// played 5, concealed 2, lost 1
}
