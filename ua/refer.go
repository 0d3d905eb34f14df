package ua

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Transfer as the transferor, RFC 3515 (REFER) with RFC 3892
// (Referred-By), RFC 3891 (Replaces) and RFC 4488 (norefersub): REFER in
// the call, then the progress the transferee reports in NOTIFYs carrying
// message/sipfrag.

// Transfer errors.
var (
	// ErrTransferPending: a transfer of the call is already in progress.
	ErrTransferPending = errors.New("ua: a transfer of the call is in progress")
	// ErrTransferUnknown: the transferee ended the REFER's subscription
	// without a final status.
	ErrTransferUnknown = errors.New("ua: transfer outcome not reported")
)

// TransferError is the final status the transferee reported for the call
// it placed (a non-2xx in the sipfrag of its last NOTIFY).
type TransferError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *TransferError) Error() string {
	return "ua: transfer failed: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// referOut is the REFER of ours in progress in a call: the statuses of
// its NOTIFYs, the last of them final.
type referOut struct {
	id    string        // the Event id: the REFER's CSeq number
	codes chan fragment // sipfrag statuses; closed by the terminated NOTIFY
	ended bool
}

// fragment is a sipfrag status line.
type fragment struct {
	code   int
	reason string
}

// parseSipfrag reads the status line of a message/sipfrag body ("SIP/2.0
// 180 Ringing").
func parseSipfrag(b []byte) (fragment, bool) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(strings.TrimRight(line, "\r"))
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return fragment{}, false
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return fragment{}, false
	}
	return fragment{code: code, reason: strings.Join(f[2:], " ")}, true
}

// Transfer hands the call's peer to target (a blind transfer, RFC 5589
// §6): a REFER with Refer-To target and Referred-By us. It returns once
// the transferee reports the final status of the call it placed: nil for
// a 2xx, a *TransferError for a failure, ErrTransferUnknown when its
// subscription ends without one; a refused REFER is a *StatusError. A
// transferee that declines the subscription (Refer-Sub: false, RFC 4488)
// reports nothing: Transfer returns at its 2xx. The call goes on: hang it
// up once the transfer has succeeded. ctx bounds the wait.
func (c *Call) Transfer(ctx context.Context, target string) error {
	uri, err := parseTarget(target)
	if err != nil {
		return err
	}
	return c.refer(ctx, sip.Address{URI: uri})
}

// TransferTo hands the call's peer to the peer of other, a call of ours
// (an attended transfer, RFC 5589 §7): Refer-To is other's peer with a
// Replaces of other's dialog (RFC 3891), so that the peer of other takes
// the transferee's INVITE in place of our call. Results as Transfer;
// hang both calls up once it has succeeded (the transfer target usually
// ends other itself).
func (c *Call) TransferTo(ctx context.Context, other *Call) error {
	other.mu.Lock()
	if other.d == nil || other.state == CallEnded {
		other.mu.Unlock()
		return ErrCallEnded
	}
	id := other.d.ID()
	target := other.d.RemoteTarget()
	other.mu.Unlock()
	replaces := id.CallID + ";to-tag=" + id.RemoteTag + ";from-tag=" + id.LocalTag
	target.Headers = "Replaces=" + url.QueryEscape(replaces)
	return c.refer(ctx, sip.Address{URI: target})
}

// refer sends the REFER and follows its NOTIFYs.
func (c *Call) refer(ctx context.Context, referTo sip.Address) error {
	u := c.u
	c.mu.Lock()
	if c.state != CallEstablished || c.d == nil {
		c.mu.Unlock()
		return ErrNotEstablished
	}
	if c.xfer != nil && !c.xfer.ended {
		c.mu.Unlock()
		return ErrTransferPending
	}
	req, err := c.d.NewRequest(sip.REFER, nil, "")
	if err != nil {
		c.mu.Unlock()
		return err
	}
	local := c.d.LocalAddress()
	cs, _ := req.CSeq()
	x := &referOut{id: strconv.FormatUint(uint64(cs.Seq), 10), codes: make(chan fragment, 8)}
	c.xfer = x
	c.mu.Unlock()
	local.Params = local.Params.Del("tag")
	req.Set("Refer-To", referTo.String())
	req.Set("Referred-By", local.String())
	u.advertise(req)
	u.addCommon(req)
	tx, err := u.send(ctx, u.baseCtx, req, c.network)
	if err != nil {
		c.endRefer(x)
		return err
	}
	res, err := tx.Final(ctx)
	if err != nil {
		c.endRefer(x)
		return err
	}
	c.mu.Lock()
	_ = c.d.ReceiveResponse(req, res)
	gone := c.d.State() == dialog.StateTerminated
	c.mu.Unlock()
	if gone {
		c.endRefer(x)
		c.end(ErrDialogTerminated)
		return &StatusError{Response: res}
	}
	if !res.IsSuccess() {
		c.endRefer(x)
		return &StatusError{Response: res}
	}
	if strings.EqualFold(strings.TrimSpace(res.Header("Refer-Sub")), "false") {
		c.endRefer(x)
		return nil
	}
	for {
		select {
		case f, ok := <-x.codes:
			if !ok {
				return ErrTransferUnknown
			}
			switch {
			case f.code >= 200 && f.code < 300:
				return nil
			case f.code >= 300:
				return &TransferError{Code: f.code, Reason: f.reason}
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return ErrCallEnded
		}
	}
}

// endRefer ends the REFER in progress x: no more NOTIFYs for it.
func (c *Call) endRefer(x *referOut) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !x.ended {
		x.ended = true
		close(x.codes)
	}
}

// referNotify takes a NOTIFY of the REFER's implicit subscription, in the
// call's dialog (RFC 3515 §2.4.4): its sipfrag goes to Transfer, and
// terminated ends the subscription. One for no REFER of ours gets 481.
func (c *Call) referNotify(w transaction.ResponseWriter, req *sip.Request) {
	u := c.u
	c.mu.Lock()
	if !u.admitInDialog(w, req, &c.mu, c.d, c.state == CallEnded || c.d == nil) {
		return
	}
	x := c.xfer
	_, id := dialog.EventPackage(req.Header("Event"))
	st, err := dialog.ParseSubscriptionState(req.Header("Subscription-State"))
	code := sip.StatusOK
	switch {
	case x == nil || x.ended || (id != "" && id != x.id):
		code = sip.StatusCallTransactionDoesNotExist
	case err != nil:
		code = sip.StatusBadRequest
	}
	res := c.d.NewResponse(req, code, "")
	if code != sip.StatusOK {
		c.mu.Unlock()
		u.respond(w, res)
		return
	}
	if f, ok := parseSipfrag(req.Body()); ok {
		select {
		case x.codes <- f:
		default: // Transfer reads only the first final status
		}
	}
	if st.State == dialog.SubTerminated {
		x.ended = true
		close(x.codes)
	}
	c.mu.Unlock()
	u.respond(w, res)
}
