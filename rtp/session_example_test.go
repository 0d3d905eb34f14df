package rtp_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

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
	na, _ := sdp.NewNegotiator(sdp.Config{Addr: local, Port: alice.LocalAddr().Port()})
	nb, _ := sdp.NewNegotiator(sdp.Config{Addr: local, Port: bob.LocalAddr().Port()})
	offer, _ := na.CreateOffer()
	answer, forBob, _ := nb.Answer(offer)
	forAlice, _ := na.ApplyAnswer(answer)
	_ = alice.SetRemote(forAlice)
	_ = bob.SetRemote(forBob)
	fmt.Println("codec:", forAlice.Codec.Name, "ptime:", alice.Stats().Ptime)

	// Alice plays a 1 kHz tone until Bob has heard it.
	tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	playCtx, stop := context.WithCancel(ctx)
	played := make(chan error, 1)
	go func() { played <- alice.Play(playCtx, tone) }()
	frame := make([]int16, 0, audio.FrameSamples)
	for heard := false; !heard; {
		frame, _ = bob.ReadFrame(ctx, frame[:0])
		heard = wav.ToneLevel(frame, 1000, audio.SampleRate) > 0.03
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

// Many calls share one Engine: its workers (here one) tick every session
// once per ptime, reading what arrived and sending the next frame, instead
// of a goroutine and a timer per call. The engine has no goroutine once its
// last session is closed.
func ExampleEngine() {
	ctx := context.Background()
	local := netip.MustParseAddr("127.0.0.1")
	engine, _ := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
	ports, _ := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 21000, Max: 29000})
	cfg := rtp.SessionConfig{LocalAddr: local, Ports: ports, Engine: engine, RTCPMux: true}

	// Ten calls, each between two sessions of this process.
	var sessions []*rtp.Session
	for range 10 {
		a, _ := rtp.NewSession(ctx, cfg)
		b, _ := rtp.NewSession(ctx, cfg)
		sessions = append(sessions, a, b)
		to := func(s *rtp.Session) sdp.MediaParams {
			return sdp.MediaParams{RemoteRTP: s.LocalAddr(), RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}
		}
		_ = a.SetRemote(to(b))
		_ = b.SetRemote(to(a))
	}
	fmt.Println("sessions on the engine:", engine.Sessions())

	// Every session hears its peer within a few frames.
	for _, s := range sessions {
		frame := make([]int16, 0, audio.FrameSamples)
		for s.Stats().PacketsReceived < 5 {
			frame, _ = s.ReadFrame(ctx, frame[:0])
		}
	}
	fmt.Println("every session receives")

	for _, s := range sessions {
		_ = s.Close()
	}
	fmt.Println("sessions on the engine:", engine.Sessions())
	// Output:
	// sessions on the engine: 20
	// every session receives
	// sessions on the engine: 0
}
