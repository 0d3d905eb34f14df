package sip_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/dialtone/dialtone/sip"
)

func ExampleParse() {
	raw := []byte("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\n" +
		"t: Bob <sip:bob@biloxi.example.com>\r\n" +
		"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"i: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 314159 INVITE\r\n" +
		"l: 0\r\n\r\n")
	m, err := sip.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := m.(*sip.Request)
	via, _ := m.TopVia()
	from, _ := m.From()
	cseq, _ := m.CSeq()
	fmt.Println(req.Method, req.URI.String())
	fmt.Println("branch:", via.Branch())
	fmt.Println("from tag:", from.Tag())
	fmt.Println("cseq:", cseq)
	fmt.Println("call-id:", m.CallID())
	// Output:
	// INVITE sip:bob@biloxi.example.com
	// branch: z9hG4bK776asdhds
	// from tag: 1928301774
	// cseq: 314159 INVITE
	// call-id: a84b4c76e66710@pc33.atlanta.example.com
}

func ExampleParse_error() {
	_, err := sip.Parse([]byte("SIP/2.0 2000 OK\r\n\r\n"))
	fmt.Println(err)
	// Output: sip: bad start-line at offset 8: status code is not three digits
}

func ExampleNewRequest() {
	uri, _ := sip.ParseURI("sip:bob@biloxi.example.com")
	req := sip.NewRequest(sip.OPTIONS, uri)
	// Fixed values instead of NewCallID/NewTag/NewBranch, so the output is stable.
	req.SetCallID("3848276298220188511@atlanta.example.com")
	req.SetFrom(sip.Address{
		Display: "Alice",
		URI:     sip.URI{Scheme: "sip", User: "alice", Host: "atlanta.example.com"},
		Params:  sip.Params("").Set("tag", "9fxced76sl"),
	})
	req.Prepend("Via", sip.Via{
		Transport: sip.TransportUDP, Host: "192.0.2.10", Port: 5060,
		Params: sip.Params("").Set("branch", "z9hG4bK74bf9").Set("rport", ""),
	}.String())
	req.Add("Accept", "application/sdp")
	fmt.Print(strings.ReplaceAll(req.String(), "\r\n", "\n"))
	// Output:
	// OPTIONS sip:bob@biloxi.example.com SIP/2.0
	// Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport
	// Max-Forwards: 70
	// To: <sip:bob@biloxi.example.com>
	// From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl
	// Call-ID: 3848276298220188511@atlanta.example.com
	// CSeq: 1 OPTIONS
	// Accept: application/sdp
	// Content-Length: 0
}

func ExampleNewResponse() {
	m, _ := sip.Parse([]byte("OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=198.51.100.7\r\n" +
		"To: <sip:bob@biloxi.example.com>;tag=b0b\r\n" +
		"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
		"Call-ID: 38482762\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"))
	res := sip.NewResponse(m.(*sip.Request), sip.StatusOK, "")
	res.Add("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
	fmt.Print(strings.ReplaceAll(res.String(), "\r\n", "\n"))
	// Output:
	// SIP/2.0 200 OK
	// Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=198.51.100.7
	// To: <sip:bob@biloxi.example.com>;tag=b0b
	// From: <sip:alice@atlanta.example.com>;tag=9fxced76sl
	// Call-ID: 38482762
	// CSeq: 1 OPTIONS
	// Allow: INVITE, ACK, BYE, CANCEL, OPTIONS
	// Content-Length: 0
}

func ExampleReader() {
	stream := "\r\n\r\n" + // an RFC 5626 keepalive ping
		"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n" +
		"To: <sip:bob@biloxi.example.com>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n" +
		"Content-Length: 2\r\n\r\nhi"
	r := sip.NewReader(stringsReader(stream), sip.Limits{})
	for {
		m, ka, err := r.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		if ka == sip.KeepalivePing {
			fmt.Println("ping: answer with one CRLF")
			continue
		}
		fmt.Println(sip.Short(m), string(m.Body()))
	}
	// Output:
	// ping: answer with one CRLF
	// OPTIONS sip:bob@biloxi.example.com hi
	// EOF
}

func ExampleURI_Equal() {
	a, _ := sip.ParseURI("sip:%61lice@atlanta.com;transport=TCP")
	b, _ := sip.ParseURI("sip:alice@AtLanTa.CoM;Transport=tcp")
	c, _ := sip.ParseURI("sip:alice@atlanta.com:5060;transport=tcp")
	fmt.Println(a.Equal(&b), a.Equal(&c))
	// Output: true false
}

func stringsReader(s string) *stringReader { return &stringReader{s: s} }

type stringReader struct{ s string }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}
