package dialog_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// Names of the test call (RFC 3665-style).
const (
	callID      = "a84b4c76e66710@pc33.atlanta.example.com"
	aliceTag    = "1928301774"
	bobTag      = "a6c85cf"
	inviteSeq   = 314159
	inviteVia   = "SIP/2.0/UDP pc33.atlanta.example.com;rport;branch=z9hG4bKnashds8"
	aliceTarget = "sip:alice@pc33.atlanta.example.com"
	bobTarget   = "sip:bob@192.0.2.4"
	bobContact  = "<sip:bob@192.0.2.4>"
	sdpOffer    = "v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)

// inviteOpts shapes the INVITE of a test.
type inviteOpts struct {
	sips      bool     // sips Request-URI, From, To, Contact
	transport string   // Via transport; "" is UDP
	rr        []string // Record-Route lines, as they arrive at the UAS
	auth      bool     // Authorization and Proxy-Authorization lines
	noContact bool
	body      string
}

// newInvite returns Alice's INVITE to Bob, parsed from its wire form as
// the UAS receives it (or as the UAC sent it, with its Via filled in).
func newInvite(t testing.TB, o inviteOpts) *sip.Request {
	t.Helper()
	scheme := "sip"
	if o.sips {
		scheme = "sips"
	}
	tr := o.transport
	if tr == "" {
		tr = "UDP"
	}
	var b strings.Builder
	b.WriteString("INVITE " + scheme + ":bob@biloxi.example.com SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/" + tr + " pc33.atlanta.example.com;rport;branch=z9hG4bKnashds8\r\n")
	for _, r := range o.rr {
		b.WriteString("Record-Route: " + r + "\r\n")
	}
	b.WriteString("Max-Forwards: 70\r\n")
	b.WriteString("To: Bob <" + scheme + ":bob@biloxi.example.com>\r\n")
	b.WriteString("From: Alice <" + scheme + ":alice@atlanta.example.com>;tag=" + aliceTag + "\r\n")
	b.WriteString("Call-ID: " + callID + "\r\n")
	b.WriteString("CSeq: 314159 INVITE\r\n")
	if !o.noContact {
		b.WriteString("Contact: <" + scheme + ":alice@pc33.atlanta.example.com>\r\n")
	}
	if o.auth {
		b.WriteString(`Authorization: Digest username="alice", realm="biloxi.example.com", nonce="n1", uri="sip:bob@biloxi.example.com", response="r1"` + "\r\n")
		b.WriteString(`Proxy-Authorization: Digest username="alice", realm="atlanta.example.com", nonce="n2", uri="sip:bob@biloxi.example.com", response="r2"` + "\r\n")
	}
	if o.body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(o.body)) + "\r\n\r\n" + o.body)
	return parseReq(t, b.String())
}

// respOpts shapes a response from Bob's side.
type respOpts struct {
	tag     string   // To tag; "" for none
	rr      []string // Record-Route lines
	contact string   // Contact value; "" for none
}

// newResponse builds Bob's response to req and returns it as the UAC
// parses it off the wire.
func newResponse(t testing.TB, req *sip.Request, code int, o respOpts) *sip.Response {
	t.Helper()
	res := sip.NewResponse(req, code, "")
	if o.tag != "" {
		res.SetToTag(o.tag)
	} else {
		to, err := res.To()
		require.NoError(t, err)
		to.Params = to.Params.Del("tag")
		res.SetTo(to)
	}
	for _, r := range o.rr {
		res.Add("Record-Route", r)
	}
	if o.contact != "" {
		res.Set("Contact", o.contact)
	}
	m, err := sip.Parse(res.AppendTo(nil))
	require.NoError(t, err)
	return m.(*sip.Response)
}

func parseReq(t testing.TB, s string) *sip.Request {
	t.Helper()
	m, err := sip.Parse([]byte(s))
	require.NoError(t, err)
	return m.(*sip.Request)
}

// wire returns req as the peer parses it.
func wire(t testing.TB, req *sip.Request) *sip.Request {
	t.Helper()
	return parseReq(t, req.String())
}

// routeStrings returns the route set in wire form.
func routeStrings(d *dialog.Dialog) []string {
	var out []string
	for _, a := range d.RouteSet() {
		out = append(out, a.String())
	}
	return out
}

// routeValues returns every Route value of req, in order.
func routeValues(t testing.TB, req *sip.Request) []string {
	t.Helper()
	rs, err := req.Routes()
	require.NoError(t, err)
	var out []string
	for _, a := range rs {
		out = append(out, a.String())
	}
	return out
}

// uacDialog returns Alice's dialog confirmed by a 200 from Bob.
func uacDialog(t testing.TB, rr ...string) (*dialog.Dialog, *sip.Request, *sip.Response) {
	t.Helper()
	inv := newInvite(t, inviteOpts{})
	res := newResponse(t, inv, 200, respOpts{tag: bobTag, rr: rr, contact: bobContact})
	d, err := dialog.NewUAC(inv, res)
	require.NoError(t, err)
	return d, inv, res
}

// uasDialog returns Bob's dialog after a 200 to Alice's INVITE.
func uasDialog(t testing.TB, rr ...string) (*dialog.Dialog, *sip.Request) {
	t.Helper()
	inv := newInvite(t, inviteOpts{rr: rr})
	res := sip.NewResponse(inv, 200, "")
	dialog.PrepareResponse(inv, res, bobTag, sip.Address{URI: mustURI(t, bobTarget)})
	d, err := dialog.NewUAS(inv, res)
	require.NoError(t, err)
	return d, inv
}

// inDialog returns a request from Alice to Bob within the dialog (one
// that Bob's UAS dialog receives).
func inDialog(t testing.TB, m sip.Method, seq int, extra string) *sip.Request {
	t.Helper()
	return request(t, m, seq, extra,
		"Bob <sip:bob@biloxi.example.com>;tag="+bobTag,
		"Alice <sip:alice@atlanta.example.com>;tag="+aliceTag)
}

// fromBob returns a request from Bob to Alice within the dialog (one that
// Alice's UAC dialog receives).
func fromBob(t testing.TB, m sip.Method, seq int, extra string) *sip.Request {
	t.Helper()
	return request(t, m, seq, extra,
		"Alice <sip:alice@atlanta.example.com>;tag="+aliceTag,
		"Bob <sip:bob@biloxi.example.com>;tag="+bobTag)
}

func request(t testing.TB, m sip.Method, seq int, extra, to, from string) *sip.Request {
	t.Helper()
	return parseReq(t, string(m)+" sip:x@192.0.2.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK"+string(m)+strconv.Itoa(seq)+"\r\n"+
		"Max-Forwards: 70\r\n"+
		"To: "+to+"\r\n"+
		"From: "+from+"\r\n"+
		"Call-ID: "+callID+"\r\n"+
		"CSeq: "+strconv.Itoa(seq)+" "+string(m)+"\r\n"+
		extra+
		"Content-Length: 0\r\n\r\n")
}

func mustURI(t testing.TB, s string) sip.URI {
	t.Helper()
	u, err := sip.ParseURI(s)
	require.NoError(t, err)
	return u
}
