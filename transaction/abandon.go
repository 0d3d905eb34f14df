package transaction

import (
	"errors"

	"github.com/dialtone/dialtone/sip"
)

// ErrAbandoned: the transaction user gave up on a non-INVITE client
// transaction that had no response (Abandon), to send the request
// elsewhere (RFC 3263 §4.3 failover).
var ErrAbandoned = errors.New("transaction: abandoned without a response")

// Abandon ends a non-INVITE client transaction that has had no response
// at all: no more retransmissions, and a response that comes later is a
// stray. The user calls it when it sends the request to another target
// instead (a new transaction), so that the silent target is not sent the
// old one until Timer F. Responses closes and Err is ErrAbandoned. It
// does nothing for an INVITE (cancel that with Cancel), for a transaction
// that has had a response, or after the end.
func (c *ClientTx) Abandon() {
	if c.req.Method == sip.INVITE || !c.s.lock() {
		return
	}
	defer c.s.unlock()
	if c.ended || c.gotFinal || c.m == nil || c.m.current() != Trying {
		return
	}
	c.d.setErr(ErrAbandoned)
	c.end(c.s, ErrAbandoned)
}
