package ua_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/dialtone/dialtone/ua"
)

// loopbackUA is the configuration of the peers of the quick-start
// examples: SIP over UDP and RTP on 127.0.0.1, on ports the system picks.
func loopbackUA() ua.Config {
	return ua.Config{
		Listen: []ua.ListenConfig{{Network: ua.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
	}
}

// An answering bot: it answers every call with an RTP session and plays a
// second of a 440 Hz tone, then hangs up. Any rtp.FrameSource plays the
// same way (a wav.Reader plays a WAV file). A caller checks what it
// heard.
func Example_answeringBot() {
	bot, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: ua.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			call, err := ic.Answer(nil) // nil: answer with an RTP session
			if err != nil {
				return
			}
			tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 440})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = call.Media().Play(ctx, tone) // until the second is over
			_ = call.Hangup(context.Background())
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bot.Close()

	// A caller that listens until the bot hangs up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	caller, err := ua.New(loopbackUA())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, "sip:bot@"+bot.Addrs()[0].String(), ua.DialOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var heard, frame []int16
	for {
		frame, err = call.Media().ReadFrame(ctx, frame[:0])
		if err != nil {
			break // rtp.ErrSessionClosed once the call ended
		}
		heard = append(heard, frame...)
	}
	<-call.Done()
	fmt.Println("caller heard 440 Hz:", wav.ToneLevel(heard, 440, audio.SampleRate) > 0.01)
	fmt.Println("call ended:", call.Err())
	// Output:
	// caller heard 440 Hz: true
	// call ended: ua: peer hung up
}

// A caller that records: it dials with the default media (DialOptions{}
// without SDP), records a second of what it hears into a WAV file, and
// hangs up. Its peer is the answering bot of Example_answeringBot.
func Example_recordingCaller() {
	bot, err := ua.New(toneBot())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bot.Close()
	target := "sip:bot@" + bot.Addrs()[0].String()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("dialtone-example-%d.wav", os.Getpid()))
	defer os.Remove(path)

	caller, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: ua.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := caller.Dial(ctx, target, ua.DialOptions{}) // default media: an RTP session
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	w, _ := wav.NewWriter(f)
	rctx, stop := context.WithTimeout(ctx, time.Second)
	_ = call.Media().Record(rctx, w) // returns when rctx ends
	stop()
	_ = w.Close()
	_ = call.Hangup(ctx)
	fmt.Println("call ended:", call.Err())

	// Read the file back.
	_, _ = f.Seek(0, 0)
	r, err := wav.NewReader(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	samples := make([]int16, 2*audio.SampleRate)
	n, _ := r.Read(samples)
	fmt.Println("recorded about a second:", n > audio.SampleRate*8/10 && n < audio.SampleRate*12/10)
	fmt.Println("heard 440 Hz:", wav.ToneLevel(samples[:n], 440, audio.SampleRate) > 0.01)
	// Output:
	// call ended: ua: hung up
	// recorded about a second: true
	// heard 440 Hz: true
}

// toneBot is the answering bot of Example_answeringBot, playing until the
// caller hangs up.
func toneBot() ua.Config {
	cfg := loopbackUA()
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		call, err := ic.Answer(nil)
		if err != nil {
			return
		}
		tone, _ := wav.NewToneGenerator(wav.ToneConfig{Frequency: 440})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = call.Media().Play(ctx, tone) // until the call ends
	}
	return cfg
}
