package dialog

import (
	"github.com/dialtone/dialtone/sip"
)

// InviteClient is the UAC half of the INVITE session (RFC 3261 §13.2.2.4,
// RFC 6026 §8.4): what the caller's core does with the responses to one
// INVITE, beyond the transaction. It keeps the fork set and the ACK sent
// for every dialog a 2xx confirmed, so that
//
//   - the first 2xx makes the call (the owner builds its ACK, which may
//     carry the SDP answer, sends it and records it with Acked);
//   - each retransmission of a 2xx is answered with the same ACK, for the
//     call and for surplus dialogs alike, also after the INVITE client
//     transaction has ended (a 2xx the transaction layer hands to the core
//     directly);
//   - a 2xx from another fork after the first is acknowledged and then
//     ended with a BYE.
//
// Like ForkSet it is a pure machine: no I/O, no clock, no lock. The owner
// serializes calls and carries out each step's Action.
type InviteClient struct {
	forks ForkSet
	acks  []sentAck // few: one per 2xx-confirmed dialog
	ack1  [1]sentAck
}

type sentAck struct {
	d   *Dialog
	ack *sip.Request
}

// InviteAction is what the owner of an InviteClient does after Receive.
type InviteAction uint8

// The actions.
const (
	// InviteIgnore: nothing to do (100 Trying, a provisional response
	// without To tag or past the fork limit, a final response after the
	// call was answered, a retransmitted 2xx of the call whose ACK is not
	// recorded yet: that ACK is on its way).
	InviteIgnore InviteAction = iota
	// InviteProgress: a provisional response created or refreshed the
	// early dialog Step.Dialog.
	InviteProgress
	// InviteAnswer: the first 2xx. Step.Dialog is the call: build its ACK
	// (Dialog.NewAck, with the answer when the 2xx carried the offer),
	// send it, and record it with Acked.
	InviteAnswer
	// InviteResendAck: a 2xx retransmission: send Step.Ack again.
	InviteResendAck
	// InviteAckAndBye: a 2xx from another fork after the call was
	// answered: send Step.Ack, then Step.Bye to end that dialog.
	InviteAckAndBye
	// InviteFail: a final non-2xx response before any 2xx: the call
	// failed; Step.Terminated lists the early dialogs it ended.
	InviteFail
)

// String returns the action's name.
func (a InviteAction) String() string {
	switch a {
	case InviteIgnore:
		return "ignore"
	case InviteProgress:
		return "progress"
	case InviteAnswer:
		return "answer"
	case InviteResendAck:
		return "resend-ack"
	case InviteAckAndBye:
		return "ack-and-bye"
	case InviteFail:
		return "fail"
	}
	return "action(?)"
}

// InviteStep is what InviteClient.Receive asks its owner to do.
type InviteStep struct {
	Action InviteAction
	// Dialog is the dialog the response concerns (nil for InviteIgnore and
	// InviteFail).
	Dialog *Dialog
	// Ack is the ACK to send (InviteResendAck, InviteAckAndBye).
	Ack *sip.Request
	// Bye ends a surplus dialog (InviteAckAndBye).
	Bye *sip.Request
	// Terminated lists the early dialogs a failure ended (InviteFail).
	Terminated []*Dialog
}

// NewInviteClient returns the session of invite, the request as sent,
// keeping at most maxForks early dialogs (0: DefaultMaxForks).
func NewInviteClient(invite *sip.Request, maxForks int) *InviteClient {
	s := new(InviteClient)
	s.Init(invite, maxForks)
	return s
}

// Init makes s the session of invite, as NewInviteClient does, in place:
// for an owner that keeps the session inside a struct of its own (one
// allocation for both). s must not be in use; whatever it held is
// dropped.
func (s *InviteClient) Init(invite *sip.Request, maxForks int) {
	*s = InviteClient{forks: *NewForkSet(invite, maxForks)}
	s.acks = s.ack1[:0] // the call's ACK without an allocation
}

// Invite returns the INVITE the session belongs to.
func (s *InviteClient) Invite() *sip.Request { return s.forks.invite }

// Answered returns the dialog of the first 2xx, or nil.
func (s *InviteClient) Answered() *Dialog { return s.forks.Confirmed() }

// Receive applies a response to the INVITE, from the transaction or handed
// to the core directly after it ended, and says what to do. Errors are
// those of ForkSet.Receive (malformed headers, ErrTooManyForks) and of
// building a surplus dialog's ACK or BYE; the response is then ignored.
func (s *InviteClient) Receive(res *sip.Response) (InviteStep, error) {
	ev, err := s.forks.Receive(res)
	if err != nil {
		return InviteStep{}, err
	}
	switch ev.Outcome {
	case ForkEarly:
		return InviteStep{Action: InviteProgress, Dialog: ev.Dialog}, nil
	case ForkFailed:
		return InviteStep{Action: InviteFail, Terminated: ev.Terminated}, nil
	case ForkConfirmed:
		return InviteStep{Action: InviteAnswer, Dialog: ev.Dialog}, nil
	case ForkRetransmit:
		ack := s.ackOf(ev.Dialog)
		if ack == nil {
			return InviteStep{}, nil
		}
		return InviteStep{Action: InviteResendAck, Dialog: ev.Dialog, Ack: ack}, nil
	case ForkSurplus:
		ack, err := ev.Dialog.NewAck(s.forks.invite, res)
		if err != nil {
			return InviteStep{}, err
		}
		bye, err := ev.Dialog.NewRequest(sip.BYE, nil, "")
		if err != nil {
			return InviteStep{}, err
		}
		s.Acked(ev.Dialog, ack)
		return InviteStep{Action: InviteAckAndBye, Dialog: ev.Dialog, Ack: ack, Bye: bye}, nil
	}
	return InviteStep{}, nil
}

// Acked records ack as the ACK sent for d, the dialog of a 2xx: every
// retransmission of that 2xx gets it again.
func (s *InviteClient) Acked(d *Dialog, ack *sip.Request) {
	for i := range s.acks {
		if s.acks[i].d == d {
			s.acks[i].ack = ack
			return
		}
	}
	s.acks = append(s.acks, sentAck{d: d, ack: ack})
}

// ackOf returns the ACK recorded for d, or nil.
func (s *InviteClient) ackOf(d *Dialog) *sip.Request {
	for _, a := range s.acks {
		if a.d == d {
			return a.ack
		}
	}
	return nil
}

// Finish ends the early dialogs no 2xx confirmed, once the INVITE client
// transaction is over (see ForkSet.Finish). The ACKs stay: a 2xx
// retransmitted after the transaction is still acknowledged.
func (s *InviteClient) Finish() []*Dialog { return s.forks.Finish() }
