package dtmf_test

import (
	"fmt"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"
)

// Plan the packets of the digit 5 and feed them to a receiver, which reports
// the digit once although the end packet comes three times.
func ExampleSender() {
	sender, _ := dtmf.NewSender(dtmf.SenderConfig{}) // 100 ms, 20 ms apart, volume 10
	packets, _ := sender.AppendDigit(nil, '5', 8000, 0)

	receiver, _ := dtmf.NewReceiver(dtmf.ReceiverConfig{})
	start := time.Unix(0, 0)
	var digits []dtmf.Digit
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
