package cli

import (
	"context"
	"errors"
	"flag"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// AnswerFlags are -answer-after and -reject-code: how a program takes
// incoming calls.
type AnswerFlags struct {
	after      answerDelay
	rejectCode *int
}

// answerDelay is the value of -answer-after: a duration, or -1 (never).
type answerDelay time.Duration

// never is -answer-after -1.
const never = answerDelay(-1)

func (d *answerDelay) String() string {
	if *d == never {
		return "-1"
	}
	return time.Duration(*d).String()
}

func (d *answerDelay) Set(s string) error {
	if s == "-1" {
		*d = never
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration (3s), 0 or -1")
	}
	if v < 0 {
		return errors.New("want a duration of 0 or more, or -1 (never answer)")
	}
	*d = answerDelay(v)
	return nil
}

// AddAnswerFlags defines -answer-after and -reject-code on fs.
func AddAnswerFlags(fs *flag.FlagSet) *AnswerFlags {
	a := &AnswerFlags{}
	fs.Var(&a.after, "answer-after",
		"ring (180), then answer incoming calls after this `duration` (0: answer at once, no ringing; -1: never answer, reject with -reject-code)")
	a.rejectCode = fs.Int("reject-code", sip.StatusBusyHere, "status that rejects incoming calls with -answer-after -1 (400-699)")
	return a
}

// Check validates the flags' values.
func (a *AnswerFlags) Check() error {
	if *a.rejectCode < 400 || *a.rejectCode > 699 {
		return Usagef("-reject-code %d: want a status from 400 to 699", *a.rejectCode)
	}
	return nil
}

// Limits returns l with an AnswerTimeout long enough for -answer-after:
// the UA refuses a call left unanswered that long (480).
func (a *AnswerFlags) Limits(l ua.Limits) ua.Limits {
	if d := time.Duration(a.after); d > 0 && max(l.AnswerTimeout, ua.DefaultAnswerTimeout) <= d {
		l.AnswerTimeout = d + ua.DefaultAnswerTimeout
	}
	return l
}

// Never reports whether calls are rejected rather than answered.
func (a *AnswerFlags) Never() bool { return a.after == never }

// Take handles one incoming call as the flags say: answer calls answer
// at once (-answer-after 0); with a delay the call rings first and answer
// runs on a goroutine owned by wg after the delay, unless the caller
// cancels or ctx ends first; with -1 it is rejected. Take never blocks,
// so it fits ua.Config.InlineOnCall.
func (a *AnswerFlags) Take(ctx context.Context, wg *sync.WaitGroup, ic *ua.IncomingCall, answer func(*ua.IncomingCall), printf func(string, ...any)) {
	after := time.Duration(a.after)
	switch {
	case after < 0:
		if err := ic.Reject(*a.rejectCode, ""); err != nil {
			printf("reject failed call=%s: %v", ic.CallID(), err)
		}
	case after == 0:
		answer(ic)
	default:
		if err := ic.Ring(); err != nil {
			printf("ring failed call=%s: %v", ic.CallID(), err)
		}
		wg.Go(func() {
			t := time.NewTimer(after)
			defer t.Stop()
			select {
			case <-t.C:
				answer(ic)
			case <-ic.Context().Done(): // the caller canceled, or the UA closes
			case <-ctx.Done():
				_ = ic.Reject(sip.StatusTemporarilyUnavailable, "")
			}
		})
	}
}
