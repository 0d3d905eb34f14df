package ua_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// Calls carry audio by default: Alice dials Bob on loopback, both ends get
// an RTP session (Call.Media), Alice plays a 1 kHz tone that Bob hears,
// and Alice's DTMF reaches Bob as an EventDTMF.
func ExampleCall_Media() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	media := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	answered := make(chan *ua.Call, 1)
	digits := make(chan rune, 4)
	bob, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    media,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil) // nil: answer with a media session
			if err == nil {
				answered <- c
			}
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventDTMF {
				digits <- e.Digit
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close()
	alice, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    media,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()

	call, err := alice.Dial(ctx, "sip:bob@"+bob.Addrs()[0].String(), ua.DialOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	in := <-answered
	p, _ := call.MediaParams()
	fmt.Println("codec:", p.Codec.Name, "telephone-event:", p.HasTelephoneEvent)

	tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	go func() {
		frame := make([]int16, 0, audio.FrameSamples)
		for range 25 {
			frame, _ = tone.ReadFrame(frame[:0])
			_ = call.Media().WriteFrame(ctx, frame)
		}
	}()
	var heard []int16
	for range 30 {
		heard, _ = in.Media().ReadFrame(ctx, heard)
	}
	fmt.Println("bob hears 1 kHz:", wav.ToneLevel(heard, 1000, audio.SampleRate) > 0.01)

	_ = call.SendDTMF(ctx, "5")
	fmt.Println("bob got digit:", string(<-digits))
	_ = call.Hangup(ctx)
	<-in.Done()
	fmt.Println("bob's call ended:", in.Err())
	// Output:
	// codec: PCMU telephone-event: true
	// bob hears 1 kHz: true
	// bob got digit: 5
	// bob's call ended: ua: peer hung up
}
