// Command conference is a conference bridge: every call joins the room
// its Request-URI names (sip:42@host joins room 42), or, when it calls
// the lobby (sip:conference@host, -lobby), the room whose number the
// caller types on the keypad followed by #. Each party hears the others
// and not itself, at the best common rate (G.722 and G.711 callers in one
// room); a rising two-note tone marks a join and a falling one a leave;
// *6 toggles the caller's mute; a room ends when its last party leaves.
// With -hold-music FILE, a party alone in a room hears the WAV file,
// looped, until another joins, and again when the others have left.
//
//	conference -listen 127.0.0.1:5074
//	conference -listen 127.0.0.1:5074 -codecs pcmu -max-parties 10 -trace
//	conference -listen 127.0.0.1:5074 -hold-music music.wav
//
// The mixing runs on the media clock that paces the calls' RTP (one
// rtp.Ticker per room), not in a goroutine per party. The line may
// register like the dial example's: -aor, -user, -pass, -registrar,
// -proxy (or CONFERENCE_AOR, ...). The first Ctrl-C hangs up and
// unregisters, waiting for the answers; a second one quits at once.
package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/rtp/mix"
	"github.com/dialtone/dialtone/ua"
)

func main() { cli.Main("conference", run) }

const usageAbout = `conference takes no argument: it listens (-listen), prints the lobby's URI,
and answers every call: sip:ROOM@host joins room ROOM, the lobby asks for
a room number typed on the keypad and ended by #. *6 mutes and unmutes.
The first Ctrl-C hangs up and unregisters; a second one quits at once.`

// defaultCodecs puts wideband first: a G.722 caller hears the room at
// 16 kHz, G.711 callers at 8 kHz.
const defaultCodecs = "g722,pcmu,pcma"

// run is conference: see the package documentation and usageAbout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("conference", "[flags]", usageAbout, stderr)
	server := cli.AddServerFlags(fs, "CONFERENCE", "0.0.0.0:5074", 4*time.Hour)
	_ = fs.Set("codecs", defaultCodecs)
	fs.Lookup("codecs").DefValue = defaultCodecs
	lobby := fs.String("lobby", "conference", "the Request-URI user that asks for a room number")
	maxRooms := fs.Int("max-rooms", DefaultMaxRooms, "most rooms open at once")
	maxParties := fs.Int("max-parties", DefaultMaxParties, "most parties in one room")
	holdMusic := cli.AddHoldMusicFlagUsage(fs, "WAV file a party alone in a room hears, looped, until another joins (default: silence)")
	if rest, err := cli.Parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return cli.Usagef("no argument expected, got %q", rest)
	}
	switch {
	case *maxRooms < 1:
		return cli.Usagef("-max-rooms %d: want at least 1", *maxRooms)
	case *maxParties < 1 || *maxParties > mix.MaxParties:
		return cli.Usagef("-max-parties %d: want 1 to %d", *maxParties, mix.MaxParties)
	case *lobby == "":
		return cli.Usagef("-lobby: want a user name")
	}

	music, err := holdMusic.Load()
	if err != nil {
		return err
	}
	printf := cli.NewPrinter(stdout).Printf
	srv, err := server.Start(stderr, "dialtone-conference", ua.MediaConfig{})
	if err != nil {
		return err
	}
	defer srv.Close()

	br := newBridge(*lobby, *maxRooms, *maxParties, music, printf)
	defer br.close()
	var wg sync.WaitGroup
	defer wg.Wait()
	events := cli.NewEventPrinter(printf)
	callCtx := srv.CallContext(ctx) // calls outlive ctx while -drain lets them finish
	maxCall := server.MaxCall()
	cfg := &srv.Config
	cfg.OnEvent = func(e ua.Event) {
		events.Print(e)
		switch e.Kind {
		case ua.EventDTMF:
			br.digit(e.CallID, e.Digit)
		case ua.EventCallEnded:
			br.depart(e.CallID)
		}
	}
	cfg.InlineOnCall = true // OnCall answers and returns at once
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		take(callCtx, &wg, br, ic, maxCall, printf)
	}
	return srv.Serve(ctx, *lobby, stderr, printf)
}

// take answers a call and puts it in its room or the lobby; a call the
// bridge cannot take is hung up. A short goroutine per call plays the
// lobby's prompt and bounds the call's length (-max-call).
func take(ctx context.Context, wg *sync.WaitGroup, br *bridge, ic *ua.IncomingCall, maxCall time.Duration, printf func(string, ...any)) {
	user := ic.Request().URI.Username()
	c, err := ic.Answer(nil)
	if err != nil {
		printf("answer failed call=%s: %v", ic.CallID(), err)
		return
	}
	s := c.Media()
	if s == nil {
		printf("no media call=%s: hanging up", c.CallID())
		wg.Go(func() { hangup(c) })
		return
	}
	lobby, err := br.arrive(c.CallID(), user, s, s.Engine())
	if err != nil {
		printf("refused call=%s room=%s: %v", c.CallID(), user, err)
		wg.Go(func() { hangup(c) })
		return
	}
	wg.Go(func() {
		if lobby {
			playPrompt(ctx, s)
		}
		t := time.NewTimer(maxCall)
		defer t.Stop()
		select {
		case <-c.Done(): // the call may have ended before it arrived
			br.depart(c.CallID())
		case <-t.C:
			printf("hanging up call=%s: longer than -max-call %s", c.CallID(), maxCall)
			hangup(c)
		case <-ctx.Done():
		}
	})
}

func hangup(c *ua.Call) {
	ctx, cancel := context.WithTimeout(context.Background(), cli.ShutdownTimeout)
	defer cancel()
	_ = c.Hangup(ctx)
}
