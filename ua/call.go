package ua

import (
	"context"
	"sync"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// A call as the host sees it: its state and parties, and the requests sent
// inside it (RFC 3261 §12.2.1.1).

// Direction says who placed a call.
type Direction uint8

// Directions.
const (
	Outgoing Direction = iota
	Incoming
)

// String returns "outgoing" or "incoming".
func (d Direction) String() string {
	if d == Incoming {
		return "incoming"
	}
	return "outgoing"
}

// CallState is the state of a call.
type CallState uint8

// Call states.
const (
	// CallDialing: our INVITE is out, no provisional response yet.
	CallDialing CallState = iota
	// CallRinging: a provisional response came (an early dialog).
	CallRinging
	// CallAnswered: we sent a 2xx and wait for its ACK.
	CallAnswered
	// CallEstablished: the dialog is confirmed.
	CallEstablished
	// CallEnded: the call is over; Err says why.
	CallEnded
)

// String returns the state's name.
func (s CallState) String() string {
	switch s {
	case CallDialing:
		return "dialing"
	case CallRinging:
		return "ringing"
	case CallAnswered:
		return "answered"
	case CallEstablished:
		return "established"
	}
	return "ended"
}

// Call is a call, outgoing (Dial) or incoming (IncomingCall.Answer). Its
// methods are safe for concurrent use. An established call costs memory only:
// no goroutine waits on it.
type Call struct {
	u       *UA
	line    *Line
	dir     Direction
	callID  string
	network transport.Network
	done    signal // Done's channel; guarded by mu

	mu         sync.Mutex
	state      CallState
	d          *dialog.Dialog
	id         dialog.ID
	local      []byte
	remote     []byte
	remoteHold bool
	endErr     error
	// Outgoing setup: the INVITE transaction, and whether the caller gave
	// up (the call is then canceled, or hung up when a 2xx crosses).
	tx        *transaction.ClientTx
	abandoned bool
	// Our 2xx being retransmitted until its ACK (RFC 3261 §13.3.1.4).
	rtx      *retransmission
	byeOnAck bool
	// byeing: a BYE of ours is ending the call (see bye).
	byeing bool
	// media is the call's RTP session, nil when the host brings its SDP;
	// set at creation, never changed.
	media *callMedia
	mw    *mediaWatch // RTP inactivity check (mediatimeout.go)
	// xfer is our REFER in progress, or the last one (refer.go).
	xfer *referOut
	// st is the session timer (sessiontimer.go), nil without one.
	st  *sessionTimer
	stv sessionTimer // where st points once there is one
	// rseq is the last RSeq PRACKed per early dialog (To tag), prack.go.
	rseq map[string]uint32
	// earlyOffer is the offer of a reliable 1xx answered in our PRACK, per
	// early dialog (To tag), for an INVITE without SDP (prack.go).
	earlyOffer map[string][]byte
	// peerUpdate: the peer's Allow lists UPDATE (its INVITE, 1xx or 2xx,
	// or a later request of it); Update needs it (update.go).
	peerUpdate bool
	// early is the early dialog an outgoing call's Update may use, set
	// once a reliable 1xx answered our offer and its PRACK has its 200.
	early *earlyUpdate
	// prackSent is closed once the PRACK in flight that will make early
	// (its 200 completing the early offer/answer) has its final response
	// or failed: an UPDATE from the callee may overtake that 200, and
	// waits for it (earlyOutgoing). nil when none is in flight.
	prackSent chan struct{}
	// idRoom holds the Call-ID of an outgoing call (callID points into
	// it: one allocation less); written once, before the call is shared.
	idRoom [sip.CallIDLen]byte
}

// CallID returns the call's Call-ID.
func (c *Call) CallID() string { return c.callID }

// Direction returns who placed the call.
func (c *Call) Direction() Direction { return c.dir }

// Line returns the line of the call, or nil.
func (c *Call) Line() *Line { return c.line }

// State returns the call's state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done.wait()
}

// signal is a channel closed once, made only when someone first waits on
// it: a call or an incoming call nobody waits on costs no channel. Its
// owner's mutex guards it.
type signal struct {
	ch    chan struct{}
	fired bool
}

// wait returns the channel that fire closes.
func (s *signal) wait() <-chan struct{} {
	if s.ch == nil {
		if s.fired {
			return closedDone
		}
		s.ch = make(chan struct{})
	}
	return s.ch
}

// fire closes the channel, now or, when nobody has asked yet, as it is
// made; a second fire does nothing.
func (s *signal) fire() {
	if s.fired {
		return
	}
	s.fired = true
	if s.ch != nil {
		close(s.ch)
	}
}

// closedDone is what wait returns once a signal fired before anyone asked.
var closedDone = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Err returns why the call ended (ErrLocalHangup, ErrRemoteHangup, ErrNoACK,
// ErrDialogTerminated, ErrClosed, a *StatusError for a failed Dial…), or nil
// while it lasts.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

// LocalSDP returns our current session description.
func (c *Call) LocalSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// RemoteSDP returns the peer's current session description.
func (c *Call) RemoteSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// RemoteHold reports whether the peer's latest offer put us on hold
// (sendonly or inactive).
func (c *Call) RemoteHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Remote returns the peer's address (To of an outgoing call, From of an
// incoming one), with its tag.
func (c *Call) Remote() sip.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return sip.Address{}
	}
	return c.d.RemoteAddress()
}

// RemoteTarget returns the peer's current Contact URI (RFC 3261 §12.2),
// or the zero URI before an answer.
func (c *Call) RemoteTarget() sip.URI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return sip.URI{}
	}
	return c.d.RemoteTarget()
}

// DialogID returns the dialog's ID (zero before an answer).
func (c *Call) DialogID() dialog.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

func (c *Call) creds() *credentials {
	if c.line == nil {
		return nil
	}
	return c.line.creds
}

// abandon is Dial's caller giving up: cancel the INVITE, or hang up if the
// call is already answered.
func (c *Call) abandon() {
	c.mu.Lock()
	c.abandoned = true
	tx, answered := c.tx, c.d != nil
	c.mu.Unlock()
	if answered {
		c.u.goTrack(func() { _ = c.Hangup(c.u.baseCtx) })
		return
	}
	if tx != nil {
		tx.Cancel()
	}
}

func (u *UA) addSetup(c *Call) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return ErrClosed
	}
	if int(u.nCalls.Load()) >= u.cfg.Limits.MaxCalls {
		return ErrTooManyCalls
	}
	u.nCalls.Add(1)
	u.setup[c] = struct{}{}
	return nil
}

func (u *UA) removeSetup(c *Call) {
	u.mu.Lock()
	u.removeSetupLocked(c)
	u.mu.Unlock()
}

// removeSetupLocked forgets an outgoing call still being set up, if it is
// one. Called with u.mu held.
func (u *UA) removeSetupLocked(c *Call) {
	if _, ok := u.setup[c]; ok {
		delete(u.setup, c)
		u.nCalls.Add(-1)
		u.noteCallGoneLocked()
	}
}

// promote moves an outgoing call from setup to the dialog table.
func (u *UA) promote(c *Call) {
	u.mu.Lock()
	delete(u.setup, c)
	u.calls[c.id] = c
	u.mu.Unlock()
	u.met.established.Add(1)
}

// addCall stores an answered incoming call.
func (u *UA) addCall(c *Call) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return ErrClosed
	}
	u.nCalls.Add(1)
	u.calls[c.id] = c
	u.met.established.Add(1)
	return nil
}

// Request sends an in-dialog request of method m (INFO, OPTIONS, UPDATE,
// MESSAGE, …; not INVITE, BYE, ACK or CANCEL, which have their own methods)
// with an optional body, answering a challenge once, and returns the final
// response: a 2xx, else a *StatusError carrying it. A 481 or 408 ends the
// call (RFC 3261 §12.2.1.2).
func (c *Call) Request(ctx context.Context, m sip.Method, body []byte, contentType string) (*sip.Response, error) {
	switch m {
	case sip.INVITE, sip.BYE, sip.ACK, sip.CANCEL:
		return nil, dialog.ErrMethod
	}
	var auth []sip.Header
	for try := 0; ; try++ {
		c.mu.Lock()
		if c.state == CallEnded || c.d == nil {
			c.mu.Unlock()
			return nil, ErrCallEnded
		}
		req, err := c.d.NewRequest(m, body, contentType)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		applyAuth(req, auth)
		c.u.addCommon(req)
		tx, err := c.u.send(ctx, ctx, req, c.network)
		if err != nil {
			return nil, err
		}
		res, err := tx.Final(ctx)
		c.mu.Lock()
		if err == nil || ctx.Err() == nil {
			_ = c.d.ReceiveResponse(req, res)
		}
		terminated := c.d.State() == dialog.StateTerminated
		c.mu.Unlock()
		if terminated {
			c.end(ErrDialogTerminated)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case res.IsSuccess():
			return res, nil
		case isChallenge(res) && try < 2:
			hs, err := c.creds().answer(res, req)
			if err != nil {
				return nil, err
			}
			auth = c.creds().retryAuth(hs, req)
		default:
			return nil, &StatusError{Response: res}
		}
	}
}
