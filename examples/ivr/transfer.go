package main

import (
	"context"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// The operator key: with -operator, a caller who presses it is put on
// hold (hearing -hold-music, looped, instead of silence) and transferred
// there (a blind transfer, RFC 3515 REFER, after a hold as RFC 5589 §6.1
// shows it); once the operator's phone answers the caller, the IVR hangs
// up. When the transfer fails (the operator busy, no answer within
// -transfer-timeout, the caller's phone refusing REFER) the IVR says so
// in its output and hangs up too. The recording ends at the key.
const (
	// OperatorKey is the key that asks for the operator.
	OperatorKey = '0'
	// DefaultTransferTimeout is -transfer-timeout when not given: how long
	// the caller waits on hold for the operator to answer.
	DefaultTransferTimeout = time.Minute
)

// checkOperator validates -operator: empty (no operator), or a SIP URI
// with a host.
func checkOperator(s string) error {
	if s == "" {
		return nil
	}
	u, err := sip.ParseURI(s)
	if err != nil || !u.IsSIP() || u.Host == "" {
		return cli.Usagef("-operator %q: want a SIP URI (sip:operator@example.com)", s)
	}
	return nil
}

// transfer holds the call (music on hold) and transfers it to the
// operator, printing the outcome; serve hangs up afterwards either way.
func (v *ivr) transfer(ctx context.Context, c *ua.Call) {
	v.printf("transferring call=%s to=%s: on hold", c.CallID(), v.operator)
	if err := c.Hold(ctx); err != nil { // the transfer may still work
		v.printf("hold failed call=%s err=%q", c.CallID(), err)
	}
	tctx, cancel := context.WithTimeout(ctx, v.transferTimeout)
	defer cancel()
	err := c.Transfer(tctx, v.operator)
	if err == nil {
		v.printf("transferred call=%s to=%s", c.CallID(), v.operator)
		return
	}
	v.printf("transfer failed call=%s to=%s err=%q", c.CallID(), v.operator, err)
}
