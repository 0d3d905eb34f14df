package dialog

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/dialtone/dialtone/sip"
)

// NewRequest builds a request of method m within the dialog, as RFC 3261
// §12.2.1.1 says, for BYE, re-INVITE, UPDATE, INFO, MESSAGE, REFER,
// OPTIONS, NOTIFY, PRACK, SUBSCRIBE or any other method except ACK (see
// NewAck) and CANCEL (built from the INVITE by the transaction layer):
//
//   - To is the remote URI with the remote tag, From the local URI with the
//     local tag, Call-ID the dialog's;
//   - CSeq is the local sequence number plus one, which becomes the new
//     local sequence number; a UAS dialog that has sent nothing starts at
//     1 (§8.1.1.5 only asks for a number below 2**31);
//   - with an empty route set the Request-URI is the remote target and
//     there is no Route; when the first route has lr (loose routing) the
//     Request-URI is the remote target and Route is the route set; when it
//     has none (strict routing, RFC 2543) the Request-URI is the first
//     route's URI and Route is the rest of the route set followed by the
//     remote target. Parameters not allowed in a Request-URI (method, and
//     URI headers) are removed from it (§19.1.1);
//   - a target refresh request (INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER)
//     carries our Contact; Max-Forwards is 70;
//   - body, when not empty, is set with contentType. An INVITE or UPDATE
//     body counts as an SDP offer for glare.
//
// No Via is added: the transaction layer adds it when it sends the request.
// It fails with ErrTerminated on an ended dialog, ErrMethod for ACK and
// CANCEL, ErrSeqExhausted when the CSeq cannot grow, and ErrRequestPending
// for an INVITE while another INVITE is in progress either way, or an
// offer while one is outstanding (RFC 3261 §14.1, RFC 3311 §5.1); nothing
// changes then. A built INVITE or UPDATE counts as in progress until
// ReceiveResponse reports its final response (or its failure).
func (d *Dialog) NewRequest(m sip.Method, body []byte, contentType string) (*sip.Request, error) {
	if m == sip.ACK || m == sip.CANCEL {
		return nil, ErrMethod
	}
	if d.state == StateTerminated {
		return nil, ErrTerminated
	}
	offer := len(body) > 0
	if err := d.neg.CheckSend(m, offer); err != nil {
		return nil, err
	}
	seq := uint32(1)
	if d.flags&flagLocalSeq != 0 {
		if d.localSeq == math.MaxUint32 {
			return nil, ErrSeqExhausted
		}
		seq = d.localSeq + 1
	}
	req := d.base(m, seq)
	if isTargetRefresh(m) && d.contact != "" {
		req.Add("Contact", d.contact)
	}
	if offer {
		req.SetBody(body, contentType)
	}
	d.localSeq = seq
	d.flags |= flagLocalSeq
	d.neg.StartClient(m, seq, offer)
	return req, nil
}

// NewAck builds the ACK for res, a 2xx to invite (our initial INVITE or a
// re-INVITE of this dialog), as RFC 3261 §13.2.2.4 says: built like any
// in-dialog request from the dialog's current route set and remote target
// (which the 2xx has updated: call ReceiveResponse first), with the
// INVITE's CSeq number and method ACK, the Authorization and
// Proxy-Authorization lines of the INVITE, and a Via that is the INVITE's
// top Via with a new branch (the ACK for a 2xx is a transaction of its
// own). The local sequence number does not change. For a late offer,
// put the answer in the ACK with SetBody. The ACK for a non-2xx response
// is the transaction layer's.
//
// It fails with ErrNotDialogResponse for a response that is not 2xx,
// ErrWrongDialog for a 2xx of another dialog (another fork: see ForkSet)
// and ErrMalformed when the INVITE has no valid CSeq. A dialog that has
// ended still builds ACKs, because every 2xx must be acknowledged.
func (d *Dialog) NewAck(invite *sip.Request, res *sip.Response) (*sip.Request, error) {
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		return nil, ErrNotDialogResponse
	}
	if ResponseID(res) != d.id {
		return nil, ErrWrongDialog
	}
	cs, err := invite.CSeq()
	if err != nil {
		return nil, malformed("CSeq", err)
	}
	req := d.base(sip.ACK, cs.Seq)
	if v, err := invite.TopVia(); err == nil {
		req.Prepend("Via", ackVia(v))
	}
	if invite.Header("Authorization") != "" || invite.Header("Proxy-Authorization") != "" {
		for _, h := range invite.Headers() {
			switch n := sip.CanonicalName(h.Name); n {
			case "Authorization", "Proxy-Authorization":
				req.Add(n, h.Value)
			}
		}
	}
	return req, nil
}

// baseHeaders is the header capacity an in-dialog request starts with,
// besides its Route lines.
const baseHeaders = 12

// base starts an in-dialog request: Request-URI and Route (§12.2.1.1),
// Max-Forwards, To, From, Call-ID, CSeq.
func (d *Dialog) base(m sip.Method, seq uint32) *sip.Request {
	// Via, Max-Forwards, To, From, Call-ID, CSeq, Contact, the routes and
	// room for what the caller adds (Content-Type, Supported, …).
	req := sip.NewBareRequest(m, sip.URI{}, baseHeaders+len(d.routes))
	switch {
	case len(d.routes) == 0:
		req.URI = requestURI(d.remoteTarget)
	case d.flags&flagStrict == 0:
		req.URI = requestURI(d.remoteTarget)
		for _, r := range d.routes {
			req.Add("Route", r)
		}
	default:
		first := mustAddress(d.routes[0])
		req.URI = requestURI(first.URI)
		for _, r := range d.routes[1:] {
			req.Add("Route", r)
		}
		target := sip.Address{URI: d.remoteTarget}
		req.Add("Route", target.String())
	}
	req.Add("Max-Forwards", strconv.Itoa(sip.DefaultMaxForwards))
	req.Add("To", d.remote)
	req.Add("From", d.local)
	req.Add("Call-ID", d.id.CallID)
	req.SetCSeq(sip.CSeq{Seq: seq, Method: m})
	return req
}

// requestURI returns u without what a Request-URI may not hold: the method
// parameter and URI headers (RFC 3261 §19.1.1, table 1).
func requestURI(u sip.URI) sip.URI {
	if u.Params.Has("method") {
		u.Params = u.Params.Del("method")
	}
	u.Headers = ""
	return u
}

// ackVia returns the Via of an ACK for a 2xx: the INVITE's top Via v
// without received and with a new branch (a new transaction, RFC 3261
// §17.1.1.3), written in one allocation, the string itself.
func ackVia(v sip.Via) string {
	var br [64]byte
	branch := sip.AppendBranch(br[:0])
	params := v.Params
	if params.Has("received") {
		params = params.Del("received")
	}
	v.Params = ""
	var buf [256]byte
	b := v.AppendTo(buf[:0])
	// The branch is read, not kept: AppendSet copies it into b.
	b = params.AppendSet(b, "branch", unsafe.String(&branch[0], len(branch)))
	return string(b)
}
