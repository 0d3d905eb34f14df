package ua

import (
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// An UPDATE from the caller in the early dialog of an incoming call, RFC
// 3311 §5.2, as the callee: in the early dialog our reliable provisional
// response created (RFC 3262), a new offer is answered in the UPDATE's
// 200 from the call's session, whose RTP then follows it; the 2xx to the
// INVITE repeats that answer. An UPDATE in the confirmed dialog is served
// with the call's other requests (incoming.go).

// serveUpdate answers req, an UPDATE in ic's early dialog: 481 once the
// INVITE has its final response or for another dialog, 500 for an
// out-of-order CSeq, 491 while our offer in a reliable 1xx awaits its
// answer (§5.2), 200 with our answer to its offer (488 when it cannot be
// taken), and 200 without body for an UPDATE without SDP.
func (ic *IncomingCall) serveUpdate(w transaction.ResponseWriter, req *sip.Request) {
	u := ic.u
	from, _ := req.From()
	invFrom, _ := ic.req.From()
	cs, err := req.CSeq()
	invCS, _ := ic.req.CSeq()
	ic.mu.Lock()
	var res *sip.Response
	offer := len(req.Body()) > 0 && req.ContentType() == "application/sdp"
	switch {
	case ic.final || from.Tag() != invFrom.Tag():
		res = sip.NewResponseTag(req, sip.StatusCallTransactionDoesNotExist, "", ic.tag)
	case err != nil:
		res = sip.NewResponseTag(req, sip.StatusBadRequest, "", ic.tag)
	case cs.Seq <= max(invCS.Seq, ic.early.seq):
		res = sip.NewResponseTag(req, sip.StatusServerInternalError, "", ic.tag)
	case offer && ic.early.offered:
		ic.early.seq = cs.Seq
		res = sip.NewResponseTag(req, sip.StatusRequestPending, "", ic.tag)
	case offer:
		ic.early.seq = cs.Seq
		res = ic.answerEarlyLocked(req)
	default:
		ic.early.seq = cs.Seq
		res = sip.NewResponseTag(req, sip.StatusOK, "", ic.tag)
	}
	if res.IsSuccess() {
		res.Set("Contact", ic.contact.String())
		u.advertise(res)
	}
	ic.mu.Unlock()
	u.respond(w, res)
	if res.IsSuccess() && offer {
		u.emit(Event{Kind: EventCallUpdated, Line: ic.line, CallID: ic.req.CallID(), SDP: req.Body()})
	}
}
