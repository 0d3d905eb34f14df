package cli

import (
	"context"
	"flag"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// AnswerFlags are -answer-after and -reject-code: how a program takes
// incoming calls.
type AnswerFlags struct {
	after      *time.Duration
	rejectCode *int
}

// AddAnswerFlags defines -answer-after and -reject-code on fs.
func AddAnswerFlags(fs *flag.FlagSet) *AnswerFlags {
	return &AnswerFlags{
		after: fs.Duration("answer-after", 0,
			"ring (180) and answer incoming calls this long after (0: answer at once, no ringing; -1: never answer, reject with -reject-code)"),
		rejectCode: fs.Int("reject-code", sip.StatusBusyHere, "status that rejects incoming calls with -answer-after -1 (400-699)"),
	}
}

// Check validates the flags' values.
func (a *AnswerFlags) Check() error {
	if *a.rejectCode < 400 || *a.rejectCode > 699 {
		return Usagef("-reject-code %d: want a status from 400 to 699", *a.rejectCode)
	}
	if *a.after < 0 && *a.after != -1 {
		return Usagef("-answer-after %s: want 0, a positive duration, or -1 (never)", *a.after)
	}
	return nil
}

// Never reports whether calls are rejected rather than answered.
func (a *AnswerFlags) Never() bool { return *a.after < 0 }

// Take handles one incoming call as the flags say: answer calls answer
// at once (-answer-after 0); with a delay the call rings first and answer
// runs on a goroutine owned by wg after the delay, unless the caller
// cancels or ctx ends first; with -1 it is rejected. Take never blocks,
// so it fits ua.Config.InlineOnCall.
func (a *AnswerFlags) Take(ctx context.Context, wg *sync.WaitGroup, ic *ua.IncomingCall, answer func(*ua.IncomingCall), printf func(string, ...any)) {
	after := *a.after
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
