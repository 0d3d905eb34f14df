package transaction

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

// State is a transaction state of RFC 3261 figures 5–8 as amended by
// RFC 6026.
type State uint8

// The states. Not every machine uses every state: INVITE client: Calling,
// Proceeding, Accepted, Completed, Terminated; INVITE server: Proceeding,
// Accepted, Completed, Confirmed, Terminated; non-INVITE client and server:
// Trying, Proceeding, Completed, Terminated.
const (
	Calling State = iota + 1
	Trying
	Proceeding
	Accepted
	Completed
	Confirmed
	Terminated
)

var stateNames = [...]string{"", "Calling", "Trying", "Proceeding", "Accepted", "Completed", "Confirmed", "Terminated"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return "State(?)"
}

// inputKind says what happened to a state machine.
type inputKind uint8

const (
	// inTimer: the clock reached the machine's deadline (or later).
	inTimer inputKind = iota
	// inRequest: server side, a retransmission of the request that
	// created the transaction arrived.
	inRequest
	// inAck: INVITE server side, an ACK matching the transaction arrived.
	inAck
	// inResponse: client side, a response from the network; server side,
	// a response from the transaction user.
	inResponse
	// inTransportError: the transport failed (§17.1.4, §17.2.4).
	inTransportError
	// inCancel: INVITE client side, the transaction user wants the
	// request canceled (§9.1).
	inCancel
)

// input is one event fed to step.
type input struct {
	kind inputKind
	res  *sip.Response
	err  error
}

// outputKind says what the owner of a machine must do.
type outputKind uint8

const (
	// outResend: send the request again on the transaction's flow.
	outResend outputKind = iota
	// outSendAck: send req, the ACK for a non-2xx final (§17.1.1.3).
	outSendAck
	// outSendCancel: start a CANCEL for this INVITE (§9.1).
	outSendCancel
	// outSendResponse: send res on the server transaction's flow.
	outSendResponse
	// outPassUp: pass res to the transaction user (client side).
	outPassUp
	// outPassAck: pass the ACK to the transaction user (server Accepted,
	// RFC 6026 §8.7); the layer gives it to Handler.HandleDirect.
	outPassAck
	// outFail: inform the transaction user of err (timeout or transport
	// error).
	outFail
)

// output is one action step asks its owner to take, in order.
type output struct {
	kind outputKind
	req  *sip.Request
	res  *sip.Response
	err  error
}

// maxOutputs is the most outputs one step returns (the client INVITE's
// provisional with a pending CANCEL: two).
const maxOutputs = 3

// outBuf is a machine's room for the outputs of its step: the slice step
// returns points into it and is valid until the next step. Owners that
// may step again while going through the outputs (a failed send steps the
// machine) copy them first (stepped).
type outBuf [maxOutputs]output

// put returns os in the buffer.
func (b *outBuf) put(os ...output) []output { return append(b[:0], os...) }

// stepped copies outs into buf, so that a step taken while they are being
// run does not overwrite them.
func stepped(buf *outBuf, outs []output) []output { return append(buf[:0], outs...) }

// due reports whether the deadline d is armed and reached at now.
func due(d, now time.Time) bool { return !d.IsZero() && !now.Before(d) }

// earliest returns the earliest armed (non-zero) deadline, or zero.
func earliest(ds ...time.Time) time.Time {
	var e time.Time
	for _, d := range ds {
		if !d.IsZero() && (e.IsZero() || d.Before(e)) {
			e = d
		}
	}
	return e
}

// fsm is what the layer needs from each of the four machines.
type fsm interface {
	step(now time.Time, in input) []output
	deadline() time.Time
	current() State
}

// final reports whether a status code is final (200–699).
func final(code int) bool { return code >= 200 }
