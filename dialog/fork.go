package dialog

import (
	"errors"

	"github.com/dialtone/dialtone/sip"
)

// DefaultMaxForks is the number of dialogs a ForkSet keeps for one INVITE
// when NewForkSet is given 0. A forking proxy reaching more phones than
// this at once is unusual; the bound stops a peer from growing the set
// with provisional responses carrying ever new tags.
const DefaultMaxForks = 16

// ErrTooManyForks: a provisional response would create an early dialog
// past the ForkSet's limit; it is ignored.
var ErrTooManyForks = errors.New("dialog: too many forked dialogs")

// ForkOutcome says what a response did to a ForkSet.
type ForkOutcome uint8

// Fork outcomes.
const (
	// ForkNone: no dialog concerned (100 Trying, a provisional response
	// without To tag, or one past the limit).
	ForkNone ForkOutcome = iota
	// ForkEarly: a provisional response created (New) or refreshed an
	// early dialog.
	ForkEarly
	// ForkConfirmed: the first 2xx: this dialog is the call. ACK it.
	ForkConfirmed
	// ForkRetransmit: a 2xx for a dialog already confirmed (the call or
	// a surplus one): ACK it again, nothing else.
	ForkRetransmit
	// ForkSurplus: a 2xx from another branch after the first one (RFC
	// 3261 §13.2.2.4): ACK it, then send a BYE on Dialog.
	ForkSurplus
	// ForkFailed: a final non-2xx response before any 2xx: every early
	// dialog is terminated (listed in Terminated).
	ForkFailed
)

// String returns the outcome's name.
func (o ForkOutcome) String() string {
	switch o {
	case ForkNone:
		return "none"
	case ForkEarly:
		return "early"
	case ForkConfirmed:
		return "confirmed"
	case ForkRetransmit:
		return "retransmit"
	case ForkSurplus:
		return "surplus"
	case ForkFailed:
		return "failed"
	}
	return "outcome(?)"
}

// ForkEvent is what ForkSet.Receive reports.
type ForkEvent struct {
	// Outcome says what happened.
	Outcome ForkOutcome
	// Dialog is the dialog the response concerns (nil for ForkNone and
	// ForkFailed).
	Dialog *Dialog
	// New reports that Dialog was created by this response (store it).
	New bool
	// Terminated lists the early dialogs a ForkFailed ended (remove them
	// from the store).
	Terminated []*Dialog
}

// ForkSet gathers the dialogs one INVITE creates when a proxy forks it
// (RFC 3261 §12.1.2, §13.2.2.4): each provisional response with a new To
// tag makes an early dialog, the first 2xx makes the call, and each later
// 2xx from another branch makes a dialog that the caller acknowledges and
// then ends with a BYE. Dialogs are keyed by remote tag.
//
// Like Dialog, a ForkSet is a plain value without I/O or locks; the owner
// of the outgoing call serializes access. It keeps the INVITE, which the
// caller holds anyway for its ACKs.
type ForkSet struct {
	invite    *sip.Request
	max       int
	dialogs   []*Dialog // few: a linear scan beats a map
	confirmed *Dialog
	failed    bool
}

// NewForkSet returns the set for invite, the request as sent, keeping at
// most maxForks early dialogs (0: DefaultMaxForks).
func NewForkSet(invite *sip.Request, maxForks int) *ForkSet {
	if maxForks <= 0 {
		maxForks = DefaultMaxForks
	}
	return &ForkSet{invite: invite, max: maxForks}
}

// Confirmed returns the dialog of the first 2xx, or nil.
func (f *ForkSet) Confirmed() *Dialog { return f.confirmed }

// Dialogs returns the dialogs of the set in the order they were created.
func (f *ForkSet) Dialogs() []*Dialog { return append([]*Dialog(nil), f.dialogs...) }

// Get returns the dialog whose remote tag is tag, or nil.
func (f *ForkSet) Get(tag string) *Dialog {
	for _, d := range f.dialogs {
		if d.id.RemoteTag == tag {
			return d
		}
	}
	return nil
}

// Receive applies a response to the INVITE and reports what it did.
// Errors are those of NewUAC and Dialog.ReceiveResponse (malformed
// headers), and ErrTooManyForks for a provisional response past the limit.
// A 2xx always gets a dialog, past the limit too, so that it can be
// acknowledged and ended; a surplus dialog past the limit is not kept.
func (f *ForkSet) Receive(res *sip.Response) (ForkEvent, error) {
	code := res.StatusCode
	if code >= 300 {
		if f.confirmed != nil || f.failed {
			return ForkEvent{Outcome: ForkNone}, nil
		}
		f.failed = true
		var ended []*Dialog
		for _, d := range f.dialogs {
			if d.state == StateEarly {
				_ = d.ReceiveResponse(f.invite, res)
				ended = append(ended, d)
			}
		}
		return ForkEvent{Outcome: ForkFailed, Terminated: ended}, nil
	}
	if code == sip.StatusTrying {
		return ForkEvent{Outcome: ForkNone}, nil
	}
	to, err := res.To()
	if err != nil {
		return ForkEvent{}, malformed("To", err)
	}
	tag := to.Tag()
	if code < 200 && tag == "" {
		return ForkEvent{Outcome: ForkNone}, nil
	}
	d := f.Get(tag)
	if d == nil {
		if code < 200 && len(f.dialogs) >= f.max {
			return ForkEvent{Outcome: ForkNone}, ErrTooManyForks
		}
		d, err = NewUAC(f.invite, res)
		if err != nil {
			return ForkEvent{}, err
		}
		if code < 200 {
			f.dialogs = append(f.dialogs, d)
			return ForkEvent{Outcome: ForkEarly, Dialog: d, New: true}, nil
		}
		return f.confirm(d, true), nil
	}
	if code < 200 {
		if err := d.ReceiveResponse(f.invite, res); err != nil {
			return ForkEvent{}, err
		}
		return ForkEvent{Outcome: ForkEarly, Dialog: d}, nil
	}
	if d.state != StateEarly {
		return ForkEvent{Outcome: ForkRetransmit, Dialog: d}, nil
	}
	if err := d.ReceiveResponse(f.invite, res); err != nil {
		return ForkEvent{}, err
	}
	return f.confirm(d, false), nil
}

// confirm records a dialog that a 2xx has just confirmed.
func (f *ForkSet) confirm(d *Dialog, created bool) ForkEvent {
	if created && (f.confirmed == nil || len(f.dialogs) < f.max) {
		f.dialogs = append(f.dialogs, d)
	}
	if f.confirmed == nil {
		f.confirmed = d
		return ForkEvent{Outcome: ForkConfirmed, Dialog: d, New: created}
	}
	return ForkEvent{Outcome: ForkSurplus, Dialog: d, New: created}
}

// Finish ends the early dialogs that no 2xx confirmed, once the INVITE
// transaction is over: 64*T1 after the first 2xx (RFC 3261 §13.2.2.4) or
// on its timeout. It returns them, for removal from the store.
func (f *ForkSet) Finish() []*Dialog {
	var ended []*Dialog
	for _, d := range f.dialogs {
		if d.state == StateEarly {
			d.state = StateTerminated
			ended = append(ended, d)
		}
	}
	return ended
}
