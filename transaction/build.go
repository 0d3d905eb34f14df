package transaction

import (
	"strconv"

	"github.com/dialtone/dialtone/sip"
)

// copyRequestBase starts a request of method m for the transaction of req:
// the same Request-URI, the top Via only (same branch), Max-Forwards, From
// and Call-ID as req, To as given, CSeq number of req with method m, and
// req's Route lines. It serves ACK (§17.1.1.3) and CANCEL (§9.1).
func copyRequestBase(req *sip.Request, m sip.Method, to string) *sip.Request {
	out := &sip.Request{Method: m, URI: req.URI, Proto: "SIP/2.0"}
	if v, err := req.TopVia(); err == nil {
		out.Add("Via", v.String())
	}
	if req.Header("Route") != "" { // copy the lines only when there are some
		for _, h := range req.Headers() {
			if sip.CanonicalName(h.Name) == "Route" {
				out.Add("Route", h.Value)
			}
		}
	}
	out.Add("Max-Forwards", strconv.Itoa(sip.DefaultMaxForwards))
	out.Add("To", to)
	out.Add("From", req.Header("From"))
	out.Add("Call-ID", req.CallID())
	var seq uint32
	if cs, err := req.CSeq(); err == nil {
		seq = cs.Seq
	}
	out.SetCSeq(sip.CSeq{Seq: seq, Method: m})
	return out
}

// newAck builds the ACK a client INVITE transaction sends for a non-2xx
// final response (RFC 3261 §17.1.1.3): Request-URI, Call-ID and From of the
// INVITE, To of the response (with its tag), the INVITE's top Via only, the
// CSeq number with method ACK, and the INVITE's Route header fields.
func newAck(invite *sip.Request, res *sip.Response) *sip.Request {
	return copyRequestBase(invite, sip.ACK, res.Header("To"))
}

// NewCancel builds a CANCEL for invite as RFC 3261 §9.1 requires: the same
// Request-URI, Call-ID, From and To (tags included) and CSeq number, method
// CANCEL; a single Via equal to the INVITE's top Via, so the same branch;
// and the INVITE's Route header fields. invite must be the request as sent
// (its top Via filled in by the transport). A CANCEL may only be sent once
// a provisional response has arrived (§9.1); (*ClientTx).Cancel takes care
// of that.
func NewCancel(invite *sip.Request) *sip.Request {
	return copyRequestBase(invite, sip.CANCEL, invite.Header("To"))
}
