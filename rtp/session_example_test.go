package rtp_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dialtone/dialtone/rtp"
)

// Two sessions on loopback, set up by an SDP offer/answer exchange as package
// ua does for a call: Alice plays a tone that Bob hears, then dials 42.
func ExampleSession() {
	ctx := context.Background()
	local := netip.MustParseAddr("127.0.0.1")
	ports, _ := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 21000, Max: 29000})
	alice, _ := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: local, Ports: ports})
	defer alice.Close()
	bob, _ := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: local, Ports: ports})
	defer bob.Close()

	// Offer/answer: each side learns where to send, the codec and the
	// telephone-event payload type.
	na, _ := rtp.NewNegotiator(rtp.MediaConfig{Addr: local, Port: alice.LocalAddr().Port()})
	nb, _ := rtp.NewNegotiator(rtp.MediaConfig{Addr: local, Port: bob.LocalAddr().Port()})
	offer, _ := na.CreateOffer()
	answer, forBob, _ := nb.Answer(offer)
	forAlice, _ := na.ApplyAnswer(answer)
	_ = alice.SetRemote(forAlice)
	_ = bob.SetRemote(forBob)
	fmt.Println("codec:", forAlice.Codec.Name, "ptime:", alice.Stats().Ptime)

	// Alice plays a 1 kHz tone until Bob has heard it.
	tone, _ := rtp.NewToneGenerator(rtp.ToneConfig{Frequency: 1000})
	playCtx, stop := context.WithCancel(ctx)
	played := make(chan error, 1)
	go func() { played <- alice.Play(playCtx, tone) }()
	frame := make([]int16, 0, rtp.AudioFrameSamples)
	for heard := false; !heard; {
		frame, _ = bob.ReadFrame(ctx, frame[:0])
		heard = rtp.ToneLevel(frame, 1000, rtp.AudioSampleRate) > 0.03
	}
	stop()
	<-played
	fmt.Println("Bob heard the tone")

	// DTMF goes in the same RTP stream (RFC 4733); Bob gets each digit once.
	_ = alice.SendDTMF(ctx, "42")
	for range 2 {
		d := <-bob.DTMF()
		fmt.Printf("Bob got %c\n", d.Digit)
	}
	// Output:
	// codec: PCMU ptime: 20ms
	// Bob heard the tone
	// Bob got 4
	// Bob got 2
}
