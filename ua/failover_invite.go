package ua

import (
	"errors"
	"sync"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// attempt sends one INVITE (req: one CSeq) through the targets of its next
// hop (failover.go) and reads its responses: it returns as read does, the
// non-2xx final response of the target that took the request, or the
// error of the last one (every target's when there were several, a
// *transport.FailoverError). A failover never starts once the call is
// abandoned: the CANCEL that raced it wins.
func (o *outgoing) attempt(req *sip.Request) (*sip.Response, error) {
	c, u := o.c, o.c.u
	sp := &o.plan // the call's, reused by each attempt: one allocation less
	if err := u.initSendPlan(u.baseCtx, sp, req, c.network, c.line); err != nil {
		return nil, err
	}
	if o.haveLast {
		// The INVITE after a challenge (or any later one of the call)
		// goes where the last one was answered.
		sp.prefer(o.last)
	}
	for first := true; ; first = false {
		tx, sent, e, err := sp.start(u.baseCtx, u.baseCtx, req)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.tx = tx
		abandoned := c.abandoned
		c.mu.Unlock()
		if abandoned {
			tx.Cancel()
		}
		if first {
			u.emit(Event{Kind: EventCallDialing, Line: c.line, Call: c, CallID: c.callID})
		}
		silent, stop := sp.silence()
		res, err := o.read(tx, sent, silent)
		stop()
		if o.answered {
			return nil, nil
		}
		if errors.Is(err, errSilent) {
			sp.abandon(tx, sent)
		}
		c.mu.Lock()
		abandoned = c.abandoned
		c.mu.Unlock()
		if abandoned {
			if errors.Is(err, errSilent) {
				err = errCanceledSilent
			}
			return res, err
		}
		if !sp.outcome(e, sent, res, err) {
			if err == nil {
				o.last, o.haveLast = e.Target, true
			}
			return res, err
		}
	}
}

// errCanceledSilent ends an INVITE abandoned by its caller while its
// target had not answered.
var errCanceledSilent = errors.New("ua: INVITE canceled before any response")

// read's wait for the first response: next returns the next response of
// ch, or errSilent when silent closes before any came.
func nextResponse(ch <-chan *sip.Response, silent *<-chan struct{}) (*sip.Response, bool, error) {
	select {
	case res, ok := <-ch:
		*silent = nil // a target that answered is never abandoned
		return res, ok, nil
	case <-*silent:
		return nil, false, errSilent
	}
}

// endStray2xx acknowledges a 2xx to an INVITE the call no longer waits
// for (sent to a target it failed over from) and ends that dialog with a
// BYE (RFC 3261 §13.2.2.4 for the ACK; the BYE as for a surplus fork).
// Retransmissions of the 2xx get their ACK again.
func (u *UA) endStray2xx(invite *sip.Request, res *sip.Response, network transport.Network) {
	fs := dialog.NewForkSet(invite, 0)
	ev, err := fs.Receive(res)
	if err != nil || ev.Dialog == nil {
		return
	}
	if ack, err := ev.Dialog.NewAck(invite, res); err == nil {
		_, _ = u.sendAck(u.baseCtx, ack, network)
	}
	key := invite.CallID() + "\x00" + ev.Dialog.ID().RemoteTag
	if _, dup := u.strayByes.LoadOrStore(key, struct{}{}); dup {
		return
	}
	defer u.strayByes.Delete(key)
	if bye, err := ev.Dialog.NewRequest(sip.BYE, nil, ""); err == nil {
		u.fireAndForget(bye, network)
	}
}

// strayByes is the set of stray dialogs being ended, so that a 2xx
// retransmission does not send a second BYE.
type strayByes = sync.Map
