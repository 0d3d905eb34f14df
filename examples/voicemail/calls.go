package main

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// The two kinds of call: a deposit (greeting, beep, record) and a
// call-in (PIN, then the menu of menu.go).

// DefaultIdle is how long a call-in waits for a key before goodbye.
const DefaultIdle = time.Minute

// server serves the calls of one voicemail program.
type server struct {
	store    *Store
	pins     map[string]string
	access   string
	greeting []int16
	silence  time.Duration
	level    float64
	maxMsg   time.Duration
	idle     time.Duration
	printf   func(string, ...any)

	mu     sync.Mutex
	digits map[string]chan rune // by Call-ID
}

func (v *server) register(callID string) chan rune {
	ch := make(chan rune, 64)
	v.mu.Lock()
	v.digits[callID] = ch
	v.mu.Unlock()
	return ch
}

func (v *server) unregister(callID string) {
	v.mu.Lock()
	delete(v.digits, callID)
	v.mu.Unlock()
}

// digit routes a DTMF event to its call.
func (v *server) digit(e ua.Event) {
	v.mu.Lock()
	ch := v.digits[e.CallID]
	v.mu.Unlock()
	if ch != nil {
		select {
		case ch <- e.Digit:
		default:
		}
	}
}

// play sends samples; a digit stops it and is returned (0: played out,
// or the call ended).
func play(ctx context.Context, s *rtp.Session, samples []int16, digits <-chan rune) (rune, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(pctx, &pcm{s: samples}) }()
	select {
	case err := <-done:
		return 0, err
	case d := <-digits:
		cancel()
		<-done
		return d, nil
	}
}

// deposit records a message for box from caller.
func (v *server) deposit(ctx context.Context, c *ua.Call, box, caller string, digits <-chan rune) {
	s := c.Media()
	greeting := v.greeting
	if greeting == nil {
		greeting = tones(greetingTones)
	}
	// A key skips the greeting.
	if _, err := play(ctx, s, greeting, digits); err != nil {
		return
	}
	if _, err := play(ctx, s, tones(beepTones), nil); err != nil {
		return
	}
	start := time.Now()
	id, path, err := v.store.Reserve(box, start)
	if err != nil {
		v.printf("deposit box=%s call=%s refused: %v", box, c.CallID(), err)
		v.goodbye(ctx, c)
		return
	}
	why, n, voiced, err := v.record(ctx, s, path, digits)
	if err != nil {
		v.store.Discard(box, id)
		v.printf("deposit box=%s call=%s failed: %v", box, c.CallID(), err)
		return
	}
	secs := float64(n) / audio.SampleRate
	if !voiced {
		v.store.Discard(box, id)
		v.printf("deposit box=%s call=%s discarded: silence only (%.1f s, ended by %s)", box, c.CallID(), secs, why)
	} else if err := v.store.Commit(box, Message{ID: id, Caller: caller, Time: start, Seconds: secs}); err != nil {
		v.store.Discard(box, id)
		v.printf("deposit box=%s call=%s failed: %v", box, c.CallID(), err)
	} else {
		v.printf("message box=%s id=%s from=%s seconds=%.1f ended-by=%s file=%s", box, id, caller, secs, why, path)
	}
	if why != "hang-up" {
		v.goodbye(ctx, c)
	}
}

// record writes what the caller says to path until silence, #, the
// length limit or the hang-up, and returns why it ended, the samples
// written and whether any was above the silence level.
func (v *server) record(ctx context.Context, s *rtp.Session, path string, digits <-chan rune) (why string, n int, voiced bool, err error) {
	f, err := os.Create(path)
	if err != nil {
		return "", 0, false, err
	}
	w, err := wav.NewWriter(f)
	if err != nil {
		_ = f.Close()
		return "", 0, false, err
	}
	det := newSilenceDetector(v.level, v.silence, audio.SampleRate)
	limit := int(v.maxMsg.Seconds() * audio.SampleRate)
	buf := make([]int16, 0, audio.FrameSamples)
loop:
	for {
		select {
		case d := <-digits:
			if d == '#' {
				why = "#"
				break loop
			}
		default:
		}
		frame, rerr := s.ReadFrame(ctx, buf[:0])
		if rerr != nil {
			why = "hang-up"
			break
		}
		if err = w.WriteSamples(frame); err != nil {
			break
		}
		n += len(frame)
		if det.frame(frame) {
			why = "silence"
			break
		}
		if n >= limit {
			why = "length limit"
			break
		}
	}
	cerr := w.Close()
	if ferr := f.Close(); cerr == nil {
		cerr = ferr
	}
	return why, n, det.voiced, errors.Join(err, cerr)
}

// goodbye plays the goodbye prompt and hangs up.
func (v *server) goodbye(ctx context.Context, c *ua.Call) {
	_, _ = play(ctx, c.Media(), tones(promptTones[PromptGoodbye]), nil)
	hangup(c)
}

func hangup(c *ua.Call) {
	hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Hangup(hctx)
}

// retrieve runs the owner's call-in for box.
func (v *server) retrieve(ctx context.Context, c *ua.Call, box string, digits <-chan rune) {
	s := c.Media()
	m := NewMenu(v.pins[box], func() []Message { return v.store.Messages(box) })
	acts := m.Start()
	for {
		d, ended := v.carryOut(ctx, c, s, box, acts, digits)
		if ended {
			return
		}
		if d == 0 {
			select {
			case d = <-digits:
			case <-c.Done():
				return
			case <-ctx.Done():
				return
			case <-time.After(v.idle):
				v.printf("call-in box=%s call=%s idle for %s", box, c.CallID(), v.idle)
				v.goodbye(ctx, c)
				return
			}
		}
		acts = m.Digit(d)
	}
}

// carryOut does the menu's actions; a digit during a sound stops them
// and is returned. ended is true when the call is over.
func (v *server) carryOut(ctx context.Context, c *ua.Call, s *rtp.Session, box string, acts []Action, digits <-chan rune) (d rune, ended bool) {
	for _, a := range acts {
		var sound []int16
		switch a.Kind {
		case ActPrompt:
			sound = tones(promptTones[a.Prompt])
		case ActPlay:
			pcm, err := loadWAV(v.store.Path(box, a.Message.ID))
			if err != nil {
				v.printf("play box=%s id=%s failed: %v", box, a.Message.ID, err)
				continue
			}
			v.printf("playing box=%s id=%s from=%s new=%v", box, a.Message.ID, a.Message.Caller, a.Message.New)
			sound = pcm
		case ActDelete:
			if err := v.store.Delete(box, a.Message.ID); err != nil {
				v.printf("delete box=%s id=%s: %v", box, a.Message.ID, err)
			} else {
				v.printf("deleted box=%s id=%s", box, a.Message.ID)
			}
			continue
		case ActSave:
			if err := v.store.Save(box, a.Message.ID); err != nil {
				v.printf("save box=%s id=%s: %v", box, a.Message.ID, err)
			} else {
				v.printf("saved box=%s id=%s", box, a.Message.ID)
			}
			continue
		case ActHangup:
			hangup(c)
			return 0, true
		}
		d, err := play(ctx, s, sound, digits)
		if err != nil {
			return 0, true
		}
		if d != 0 {
			return d, false
		}
	}
	return 0, false
}
