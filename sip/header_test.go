package sip_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in                string
		display, uri, tag string
		params            sip.Params
	}{
		{`"Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774`, "Alice Liddell", "sip:alice@atlanta.example.com", "1928301774", ";tag=1928301774"},
		{`Alice <sip:alice@atlanta.example.com;transport=tcp>`, "Alice", "sip:alice@atlanta.example.com;transport=tcp", "", ""},
		{`Bob   Smith <sip:bob@biloxi.example.com>`, "Bob Smith", "sip:bob@biloxi.example.com", "", ""},
		{`<sip:bob@biloxi.example.com>`, "", "sip:bob@biloxi.example.com", "", ""},
		// addr-spec: parameters after the URI belong to the header (§20.10).
		{`sip:bob@biloxi.example.com;tag=x1`, "", "sip:bob@biloxi.example.com", "x1", ";tag=x1"},
		{`"\"quoted\" \\ name"<sip:q@example.com>`, `"quoted" \ name`, "sip:q@example.com", "", ""},
		{`tel:+15551234;tag=9`, "", "tel:+15551234", "9", ";tag=9"},
		{`<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>`, "", "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "", ""},
		{`"Joe" <sip:joe@example.org> ; expires = 60 ; q=0.7`, "Joe", "sip:joe@example.org", "", "; expires = 60 ; q=0.7"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			a, err := sip.ParseAddress(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.display, a.Display)
			require.Equal(t, tc.uri, a.URI.String())
			require.Equal(t, tc.tag, a.Tag())
			require.Equal(t, tc.params, a.Params)
			b, err := sip.ParseAddress(a.String())
			require.NoError(t, err, "reparse %q", a.String())
			require.Equal(t, a, b)
		})
	}
}

func TestParseAddressErrors(t *testing.T) {
	for _, in := range []string{
		``, `"unterminated <sip:a@b>`, `"name" sip:a@b`, `Bell, Alexander <sip:a@b>`, `< sip:a@b >`,
		`<sip:a@b`, `<sip:a@b>;;`, `<sip:a@b>;tag=`, `sip:a@b junk`, `<sip:a@b> <sip:c@d>`, `*x`,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := sip.ParseAddress(in)
			require.ErrorIs(t, err, sip.ErrMalformed)
		})
	}
}

func TestAddressWrite(t *testing.T) {
	// The URI goes in < > whenever it has ';', ',' or '?' (§20.10); we
	// always bracket, and quote the display name.
	u, err := sip.ParseURI("sip:alice@example.com;transport=tcp")
	require.NoError(t, err)
	a := sip.Address{Display: `Alice "A"`, URI: u, Params: sip.Params("").Set("tag", "77")}
	require.Equal(t, `"Alice \"A\"" <sip:alice@example.com;transport=tcp>;tag=77`, a.String())
	require.Equal(t, "*", sip.Address{Wildcard: true}.String())

	c, err := sip.ParseAddress(`<sip:a@b>;expires=3600;q=0.25`)
	require.NoError(t, err)
	exp, ok := c.Expires()
	require.True(t, ok)
	require.Equal(t, uint32(3600), exp)
	require.InDelta(t, 0.25, c.Q(), 1e-9)
}

func TestParseVia(t *testing.T) {
	tests := []struct {
		in        string
		transport string
		host      string
		port      int
		branch    string
	}{
		{"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds", "UDP", "pc33.atlanta.example.com", 0, "z9hG4bK776asdhds"},
		{"SIP/2.0/tcp 192.0.2.1:5060;branch=z9hG4bKx;rport=5070;received=198.51.100.3", "TCP", "192.0.2.1", 5060, "z9hG4bKx"},
		{"SIP / 2.0 / TLS [2001:db8::9:1]:5061 ; branch = z9hG4bKa", "TLS", "[2001:db8::9:1]", 5061, "z9hG4bKa"},
		{"SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKws", "WSS", "df7jal23ls0d.invalid", 0, "z9hG4bKws"},
		{"SIP/2.0/UDP host : 5062", "UDP", "host", 5062, ""},
		{"SIP/2.0/FOO host", "FOO", "host", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := sip.ParseVia(tc.in)
			require.NoError(t, err)
			require.Equal(t, "SIP/2.0", v.Proto)
			require.Equal(t, tc.transport, v.Transport)
			require.Equal(t, tc.host, v.Host)
			require.Equal(t, tc.port, v.Port)
			require.Equal(t, tc.branch, v.Branch())
			w, err := sip.ParseVia(v.String())
			require.NoError(t, err)
			require.Equal(t, v.Branch(), w.Branch())
			require.Equal(t, v.SentBy(), w.SentBy())
		})
	}
	v, err := sip.ParseVia("SIP/2.0/UDP h;branch=z9hG4bK1;rport=5070;received=192.0.2.9;maddr=224.2.0.1;ttl=16")
	require.NoError(t, err)
	port, present := v.RPort()
	require.True(t, present)
	require.Equal(t, 5070, port)
	require.Equal(t, "192.0.2.9", v.Received())
	require.Equal(t, "224.2.0.1", v.Maddr())
	ttl, ok := v.TTL()
	require.True(t, ok)
	require.Equal(t, 16, ttl)
	require.True(t, v.HasCookie())
	require.False(t, v.Reliable())

	v, err = sip.ParseVia("SIP/2.0/TCP h;rport")
	require.NoError(t, err)
	port, present = v.RPort()
	require.True(t, present)
	require.Zero(t, port)

	for _, bad := range []string{"", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/UDP h;;", "SIP/2.0/UDP h;branch=", "SIP 2.0/UDP h", "SIP/2.0/UDP [::1", "SIP/2.0/UDP h:99999", "SIP/2.0/UDP h junk"} {
		_, err := sip.ParseVia(bad)
		require.ErrorIs(t, err, sip.ErrMalformed, bad)
	}
}

func TestSplitValues(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a, b,c", []string{"a", "b", "c"}},
		{`"Doe, John" <sip:j@x>, <sip:k@y;a=1,2>`, []string{`"Doe, John" <sip:j@x>`, `<sip:k@y;a=1,2>`}},
		{`<sip:a@b>;p="x,y", <sip:c@d>`, []string{`<sip:a@b>;p="x,y"`, `<sip:c@d>`}},
		{"single", []string{"single"}},
		{"", nil},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, sip.SplitValues(tc.in), tc.in)
	}
}

const regWithAuth = "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n" +
	"v: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7 , SIP/2.0/TCP proxy.example.com;branch=z9hG4bK2\r\n" +
	"Max-Forwards: 70\r\n" +
	"t: Bob <sip:bob@biloxi.example.com>\r\n" +
	"f: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n" +
	"i: 843817637684230@998sdasdh09\r\n" +
	"CSeq: 1826 REGISTER\r\n" +
	"m: <sip:bob@192.0.2.4>;expires=7200, \"Mobile, Bob\" <sip:bob@192.0.2.5>;q=0.5\r\n" +
	"Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\",\r\n nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", uri=\"sips:ss2.biloxi.example.com\", response=\"dfe56131d1958046689d83306477ecc\"\r\n" +
	"WWW-Authenticate: Digest realm=\"a\", nonce=\"1\", qop=\"auth,auth-int\"\r\n" +
	"WWW-Authenticate: Digest realm=\"b\", nonce=\"2\", algorithm=SHA-256\r\n" +
	"k: path, outbound\r\n" +
	"Supported: gruu\r\n" +
	"Require: outbound\r\n" +
	"Allow: INVITE, ACK,BYE\r\n" +
	"Expires: 7200\r\n" +
	"Retry-After: 18000;duration=3600\r\n" +
	"Reason: SIP;cause=200;text=\"Call completed elsewhere\", Q.850;cause=16\r\n" +
	"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n" +
	"Route: <sip:p3.example.com;lr>\r\n" +
	"l: 0\r\n\r\n"

func parseRequest(t *testing.T, s string) *sip.Request {
	t.Helper()
	m, err := sip.Parse([]byte(s))
	require.NoError(t, err)
	req, ok := m.(*sip.Request)
	require.True(t, ok)
	return req
}

func TestTypedHeaders(t *testing.T) {
	req := parseRequest(t, regWithAuth)
	require.Equal(t, sip.REGISTER, req.Method)
	// Compact forms and any case find the same header.
	require.Equal(t, "843817637684230@998sdasdh09", req.CallID())
	require.Equal(t, req.Header("Call-ID"), req.Header("i"))
	require.Equal(t, req.Header("CALL-ID"), req.Header("call-id"))

	vias, err := req.Vias()
	require.NoError(t, err)
	require.Len(t, vias, 2)
	require.Equal(t, "TCP", vias[1].Transport)
	top, err := req.TopVia()
	require.NoError(t, err)
	require.Equal(t, "z9hG4bKnashds7", top.Branch())

	from, err := req.From()
	require.NoError(t, err)
	require.Equal(t, "456248", from.Tag())
	to, err := req.To()
	require.NoError(t, err)
	require.Empty(t, to.Tag())
	require.Equal(t, "Bob", to.Display)

	contacts, err := req.Contacts()
	require.NoError(t, err)
	require.Len(t, contacts, 2)
	require.Equal(t, "Mobile, Bob", contacts[1].Display)
	require.InDelta(t, 0.5, contacts[1].Q(), 1e-9)
	exp, ok := contacts[0].Expires()
	require.True(t, ok)
	require.Equal(t, uint32(7200), exp)

	// The auth headers never split on their commas.
	require.Len(t, req.Authorization(), 1)
	require.Contains(t, req.Authorization()[0], `response="dfe56131d1958046689d83306477ecc"`)
	require.Len(t, req.WWWAuthenticate(), 2)
	require.Len(t, req.Values("WWW-Authenticate"), 2)
	require.Empty(t, req.ProxyAuthenticate())
	require.Empty(t, req.ProxyAuthorization())

	require.Equal(t, []string{"path", "outbound", "gruu"}, req.Supported())
	require.Equal(t, []string{"outbound"}, req.Require())
	require.Empty(t, req.ProxyRequire())
	require.Empty(t, req.Unsupported())
	require.Equal(t, []string{"INVITE", "ACK", "BYE"}, req.Allow())
	e, err := req.Expires()
	require.NoError(t, err)
	require.Equal(t, uint32(7200), e)
	_, err = req.MinExpires()
	require.ErrorIs(t, err, sip.ErrNoHeader)
	mf, err := req.MaxForwards()
	require.NoError(t, err)
	require.Equal(t, 70, mf)

	ra, err := req.RetryAfter()
	require.NoError(t, err)
	require.Equal(t, 18000*time.Second, ra.Delay)
	require.Equal(t, "3600", ra.Params.Value("duration"))

	reasons, err := req.Reasons()
	require.NoError(t, err)
	require.Equal(t, []sip.Reason{{Protocol: "SIP", Cause: 200, Text: "Call completed elsewhere"}, {Protocol: "Q.850", Cause: 16}}, reasons)

	routes, err := req.Routes()
	require.NoError(t, err)
	require.Len(t, routes, 3)
	require.Equal(t, "sip:p3.example.com;lr", routes[2].URI.String())
	rr, err := req.RecordRoutes()
	require.NoError(t, err)
	require.Empty(t, rr)
	require.Equal(t, 0, req.ContentLength())
	require.Empty(t, req.ContentType())
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"v": "Via", "V": "Via", "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
		"f": "From", "c": "Content-Type", "s": "Subject", "k": "Supported", "t": "To", "o": "Event",
		"u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires", "y": "Identity",
		"call-id": "Call-ID", "CSEQ": "CSeq", "www-authenticate": "WWW-Authenticate", "X-Custom": "X-Custom", "z": "z",
	} {
		require.Equal(t, want, sip.CanonicalName(in), in)
	}
}

func TestHeaderEdits(t *testing.T) {
	req := parseRequest(t, regWithAuth)
	req.Set("Expires", "60")
	e, err := req.Expires()
	require.NoError(t, err)
	require.Equal(t, uint32(60), e)

	req.Add("X-Custom", "one")
	req.Add("x-custom", "two")
	require.Equal(t, []string{"one", "two"}, req.Values("X-CUSTOM"))
	req.Del("X-Custom")
	require.Empty(t, req.Values("X-Custom"))

	// Typed views follow edits of their headers.
	req.Set("CSeq", "1827 REGISTER")
	cs, err := req.CSeq()
	require.NoError(t, err)
	require.Equal(t, uint32(1827), cs.Seq)
	req.SetCallID("new-id")
	require.Equal(t, "new-id", req.CallID())
	req.Prepend("Via", "SIP/2.0/UDP proxy2.example.com;branch=z9hG4bKp2")
	top, err := req.TopVia()
	require.NoError(t, err)
	require.Equal(t, "z9hG4bKp2", top.Branch())
	req.PopVia()
	top, err = req.TopVia()
	require.NoError(t, err)
	require.Equal(t, "z9hG4bKnashds7", top.Branch())
	// SetTopVia keeps the other values of the same line.
	top.Params = top.Params.Set("received", "203.0.113.9").Set("rport", "5099")
	req.SetTopVia(top)
	vias, err := req.Vias()
	require.NoError(t, err)
	require.Len(t, vias, 2)
	require.Equal(t, "203.0.113.9", vias[0].Received())
	req.PopVia()
	vias, err = req.Vias()
	require.NoError(t, err)
	require.Len(t, vias, 1)
	require.Equal(t, "proxy.example.com", vias[0].Host)
	req.Del("Via")
	_, err = req.TopVia()
	require.ErrorIs(t, err, sip.ErrNoHeader)

	req.SetBody([]byte("hello"), "text/plain")
	require.Equal(t, "text/plain", req.ContentType())
	wire := req.String()
	require.Contains(t, wire, "\r\nContent-Length: 5\r\n")
	require.True(t, strings.HasSuffix(wire, "\r\n\r\nhello"))
	req.Set("From", "not an address <")
	_, err = req.From()
	require.ErrorIs(t, err, sip.ErrMalformed)
}

func TestParseCSeq(t *testing.T) {
	c, err := sip.ParseCSeq("  0009 \t INVITE ")
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: 9, Method: sip.INVITE}, c)
	require.Equal(t, "9 INVITE", c.String())
	for _, bad := range []string{"", "INVITE", "1", "4294967296 INVITE", "-1 INVITE", "1INVITE", "1 INV ITE"} {
		_, err := sip.ParseCSeq(bad)
		require.True(t, errors.Is(err, sip.ErrMalformed), bad)
	}
}

func TestCanonicalNamesAll(t *testing.T) {
	// Every known name classifies to itself in any case.
	for _, name := range []string{"Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
		"Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Event",
		"Expires", "From", "Identity", "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version", "Organization",
		"P-Asserted-Identity", "Path", "P-Preferred-Identity", "Priority", "Privacy", "Proxy-Authenticate",
		"Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To", "Referred-By",
		"Reject-Contact", "Reply-To", "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server",
		"Service-Route", "Session-Expires", "Subject", "Subscription-State", "Supported", "Timestamp", "To",
		"Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate"} {
		require.Equal(t, name, sip.CanonicalName(strings.ToLower(name)))
		require.Equal(t, name, sip.CanonicalName(strings.ToUpper(name)))
	}
	require.Equal(t, "X-Very-Long-Unknown-Header-Name-Indeed", sip.CanonicalName("X-Very-Long-Unknown-Header-Name-Indeed"))
	require.Equal(t, "1abc", sip.CanonicalName("1abc"))
}

func TestHasToken(t *testing.T) {
	m, err := sip.Parse([]byte("OPTIONS sip:b@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n" +
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n" +
		"Call-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n" +
		"Supported: replaces , Timer\r\n" +
		"k: 100rel\r\n" + // compact Supported
		"Allow: INVITE,ACK,BYE\r\n" +
		"Require:\r\n" +
		"Content-Length: 0\r\n\r\n"))
	require.NoError(t, err)
	tests := []struct {
		name, token string
		want        bool
	}{
		{"Supported", "timer", true},
		{"supported", "REPLACES", true},
		{"Supported", "100rel", true}, // on its compact line
		{"Supported", "path", false},
		{"Supported", "time", false}, // whole tokens only
		{"Allow", "BYE", true},
		{"Allow", "UPDATE", false},
		{"Require", "timer", false},
		{"Require", "", false}, // an empty list lists nothing
		{"Unsupported", "timer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.token, func(t *testing.T) {
			require.Equal(t, tt.want, m.HasToken(tt.name, tt.token))
		})
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { m.HasToken("Supported", "100rel") }))
}
