package sip_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

const basicInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 4\r\n" +
	"\r\n" +
	"v=0\n"

func TestParseRequestLenient(t *testing.T) {
	tests := []struct {
		name string
		in   string
		body string
	}{
		{"canonical", basicInvite, "v=0\n"},
		{"bare LF line ends", strings.ReplaceAll(basicInvite, "\r\n", "\n"), "v=0\n"},
		{"leading CRLFs", "\r\n\r\n" + basicInvite, "v=0\n"},
		{"folded header", strings.Replace(basicInvite, "CSeq: 314159 INVITE", "CSeq: 314159\r\n\t INVITE", 1), "v=0\n"},
		{"space before colon", strings.Replace(basicInvite, "Max-Forwards:", "Max-Forwards   :", 1), "v=0\n"},
		{"datagram longer than Content-Length", basicInvite + "garbage", "v=0\n"},
		{"no Content-Length: rest is body", strings.Replace(basicInvite, "Content-Length: 4\r\n", "", 1) + "more", "v=0\nmore"},
		{"mixed-case method", strings.Replace(basicInvite, "INVITE sip", "Invite sip", 1), "v=0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sip.Parse([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.body, string(m.Body()))
			cs, err := m.CSeq()
			require.NoError(t, err)
			require.Equal(t, uint32(314159), cs.Seq)
			from, err := m.From()
			require.NoError(t, err)
			require.Equal(t, "1928301774", from.Tag())
			// The serialized form always has a true Content-Length.
			wire := m.String()
			require.Contains(t, wire, "Content-Length: "+strconv.Itoa(len(tc.body))+"\r\n")
		})
	}
}

func TestParseResponse(t *testing.T) {
	in := "SIP/2.0 180 Ringing\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710\r\n" +
		"CSeq: 314159 INVITE\r\n" +
		"Content-Length: 0\r\n\r\n"
	m, err := sip.Parse([]byte(in))
	require.NoError(t, err)
	res := m.(*sip.Response)
	require.Equal(t, 180, res.StatusCode)
	require.Equal(t, "Ringing", res.Reason)
	require.True(t, res.IsProvisional())
	require.False(t, res.IsSuccess())
	require.Equal(t, in, res.String(), "untouched message passes through byte for byte")
	require.Equal(t, "180 Ringing", sip.Short(res))
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", sip.ErrMalformed},
		{"only CRLF", "\r\n\r\n", sip.ErrMalformed},
		{"no empty line", strings.TrimSuffix(basicInvite, "\r\nv=0\n"), sip.ErrMalformed},
		{"bad version", strings.Replace(basicInvite, "SIP/2.0\r\n", "SIP/2\r\n", 1), sip.ErrMalformed},
		{"HTTP", "HTTP/1.1 200 OK\r\n\r\n", sip.ErrMalformed},
		{"response version 3.0", "SIP/3.0 200 OK\r\n\r\n", sip.ErrMalformed},
		{"status 700", "SIP/2.0 700 Weird\r\n\r\n", sip.ErrMalformed},
		{"status 099", "SIP/2.0 099 Weird\r\n\r\n", sip.ErrMalformed},
		{"status 2000", "SIP/2.0 2000 OK\r\n\r\n", sip.ErrMalformed},
		{"method not token", strings.Replace(basicInvite, "INVITE sip", "INV@TE sip", 1), sip.ErrMalformed},
		{"tab in request line", strings.Replace(basicInvite, "INVITE sip", "INVITE\tsip", 1), sip.ErrMalformed},
		{"short body", strings.Replace(basicInvite, "Content-Length: 4", "Content-Length: 40", 1), sip.ErrMalformed},
		{"negative length", strings.Replace(basicInvite, "Content-Length: 4", "Content-Length: -4", 1), sip.ErrMalformed},
		{"overflowing length", strings.Replace(basicInvite, "Content-Length: 4", "Content-Length: 99999999999999999999", 1), sip.ErrMalformed},
		{"overflowing CSeq", strings.Replace(basicInvite, "CSeq: 314159", "CSeq: 4294967296", 1), sip.ErrMalformed},
		{"NUL in reason", "SIP/2.0 200 O\x00K\r\n\r\n", sip.ErrMalformed},
		{"NUL in head", strings.Replace(basicInvite, "Max-Forwards: 70", "Max-Forwards: 7\x000", 1), sip.ErrMalformed},
		{"header without colon", strings.Replace(basicInvite, "Max-Forwards: 70", "Max-Forwards 70", 1), sip.ErrMalformed},
		{"one-byte name not a token", strings.Replace(basicInvite, "Max-Forwards: 70", "\":70", 1), sip.ErrMalformed},
		{"name not a token", strings.Replace(basicInvite, "Max-Forwards: 70", "Max\"Forwards: 70", 1), sip.ErrMalformed},
		{"CR for '-' in a name", strings.Replace(basicInvite, "Max-Forwards: 70", "Max\rForwards: 70", 1), sip.ErrMalformed},
		{"continuation first", strings.Replace(basicInvite, "\r\nVia:", "\r\n Via:", 1), sip.ErrMalformed},
		{"bad Via", strings.Replace(basicInvite, "SIP/2.0/UDP", "SIP/2.0/", 1), sip.ErrMalformed},
		{"bad From", strings.Replace(basicInvite, "From: Alice <", "From: Alice ", 1), sip.ErrMalformed},
		{"two addresses in To", strings.Replace(basicInvite, "To: Bob <sip:bob@biloxi.example.com>", "To: <sip:a@b>, <sip:c@d>", 1), sip.ErrMalformed},
		{"Contact with another scheme", strings.Replace(basicInvite, "Contact: <sip:", "Contact: <sop:", 1), nil},
		{"bad Contact", strings.Replace(basicInvite, "pc33.atlanta.example.com>\r\n", "pc33.atlanta.example.com>;;\r\n", 1), sip.ErrMalformed},
		{"bad Max-Forwards", strings.Replace(basicInvite, "Max-Forwards: 70", "Max-Forwards: seventy", 1), sip.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sip.Parse([]byte(tc.in))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			var pe *sip.ParseError
			require.True(t, errors.As(err, &pe))
			require.NotEmpty(t, pe.Error())
		})
	}
}

// TestParseStartLineErrorOrder: a tab in the Request-URI is the error
// reported, whatever else is wrong with the line; Via lines of several
// values parse each value and report the first bad one.
func TestParseStartLineErrorOrder(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"tab in URI", strings.Replace(basicInvite, "sip:bob@biloxi", "sip:bob@\tbiloxi", 1), "whitespace in Request-URI"},
		{"tab in URI and bad version", strings.Replace(basicInvite, "biloxi.example.com SIP/2.0", "bilo\txi.example.com SIP/2", 1), "whitespace in Request-URI"},
		{"bad version", strings.Replace(basicInvite, "biloxi.example.com SIP/2.0", "biloxi.example.com SIP/2", 1), "bad SIP-Version"},
		{"bad URI", strings.Replace(basicInvite, "sip:bob@biloxi", "sip:bob@bil<oxi", 1), "invalid host"},
		{"second Via value bad", strings.Replace(basicInvite, "branch=z9hG4bK776asdhds", "branch=z9hG4bK776asdhds, SIP/2.0/UDP", 1), "missing sent-by"},
		{"empty Via value", strings.Replace(basicInvite, "branch=z9hG4bK776asdhds", "branch=z9hG4bK776asdhds,,SIP/2.0/UDP h", 1), "bad sent-protocol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sip.Parse([]byte(tc.in))
			var pe *sip.ParseError
			require.True(t, errors.As(err, &pe), "%v", err)
			require.Contains(t, pe.Reason, tc.reason)
		})
	}
	m, err := sip.Parse([]byte(strings.Replace(basicInvite, "branch=z9hG4bK776asdhds", "branch=z9hG4bK776asdhds;x=\"a,b\" , SIP/2.0/TCP h2;branch=z9hG4bK2", 1)))
	require.NoError(t, err)
	v, err := m.TopVia()
	require.NoError(t, err)
	require.Equal(t, "pc33.atlanta.example.com", v.Host)
	require.Equal(t, `;branch=z9hG4bK776asdhds;x="a,b"`, string(v.Params))
	vias, err := m.(*sip.Request).Vias()
	require.NoError(t, err)
	require.Len(t, vias, 2)
	require.Equal(t, "TCP", vias[1].Transport)
}

func TestParseLimits(t *testing.T) {
	many := strings.Replace(basicInvite, "Max-Forwards: 70\r\n", strings.Repeat("X-H: v\r\n", 300)+"Max-Forwards: 70\r\n", 1)
	_, err := sip.Parse([]byte(many))
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	_, err = sip.ParseWith([]byte(many), sip.Limits{MaxHeaders: 400})
	require.NoError(t, err)

	_, err = sip.ParseWith([]byte(basicInvite), sip.Limits{MaxHeadBytes: 100})
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	_, err = sip.ParseWith([]byte(basicInvite), sip.Limits{MaxBodyBytes: 3})
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	noCL := strings.Replace(basicInvite, "Content-Length: 4\r\n", "", 1)
	_, err = sip.ParseWith([]byte(noCL), sip.Limits{MaxBodyBytes: 3})
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	huge := "OPTIONS sip:a@b SIP/2.0\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n"
	_, err = sip.Parse([]byte(huge))
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
}

func TestParseOwnership(t *testing.T) {
	// Parse writes into its input only to unfold folded lines.
	b := []byte(basicInvite)
	_, err := sip.Parse(b)
	require.NoError(t, err)
	require.Equal(t, basicInvite, string(b))

	folded := strings.Replace(basicInvite, "CSeq: 314159 INVITE", "CSeq: 314159\r\n INVITE", 1)
	b = []byte(folded)
	m, err := sip.Parse(b)
	require.NoError(t, err)
	require.NotEqual(t, folded, string(b), "the fold was replaced by spaces in place")
	require.Equal(t, "314159   INVITE", m.Header("CSeq"))

	// A clone of the input keeps the caller's buffer free.
	b = []byte(basicInvite)
	m, err = sip.Parse(bytes.Clone(b))
	require.NoError(t, err)
	want := m.String()
	for i := range b {
		b[i] = 'x'
	}
	require.Equal(t, want, m.String())
}

func TestParseAllocs(t *testing.T) {
	b := []byte(basicInvite)
	var sink int
	allocs := testing.AllocsPerRun(200, func() {
		m, err := sip.Parse(b)
		if err != nil {
			panic(err)
		}
		cs, _ := m.CSeq()
		v, _ := m.TopVia()
		f, _ := m.From()
		to, _ := m.To()
		sink += len(m.CallID()) + int(cs.Seq) + len(v.Branch()) + len(f.Tag()) + len(to.Tag()) + len(m.Body())
	})
	require.LessOrEqual(t, allocs, 1.0, "parse + core header access: one allocation")

	m, err := sip.Parse(b)
	require.NoError(t, err)
	buf := make([]byte, 0, 2048)
	allocs = testing.AllocsPerRun(200, func() { buf = m.AppendTo(buf[:0]) })
	require.Zero(t, allocs, "AppendTo into a reused buffer")
}

func TestClone(t *testing.T) {
	m, err := sip.Parse([]byte(basicInvite))
	require.NoError(t, err)
	req := m.(*sip.Request)
	c := req.Clone()
	c.Set("Max-Forwards", "69")
	c.SetBody([]byte("other"), "text/plain")
	require.Equal(t, "70", req.Header("Max-Forwards"))
	require.Equal(t, "v=0\n", string(req.Body()))
	require.Equal(t, basicInvite, req.String())
	res := sip.NewResponse(req, 200, "")
	rc := res.Clone()
	rc.Reason = "Fine"
	require.Equal(t, "OK", res.Reason)

	// A proxy's additions to a clone (its Via on top, a Record-Route)
	// fit in the clone's room: the clone is the only allocation of the
	// header list.
	allocs := testing.AllocsPerRun(100, func() {
		c := req.Clone()
		c.Prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
		c.Prepend("Record-Route", "<sip:proxy.example.com;lr>")
	})
	bare := testing.AllocsPerRun(100, func() { _ = req.Clone() })
	require.Equal(t, bare, allocs, "Prepend after Clone allocated")
	c = req.Clone()
	c.Prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
	v, err := c.TopVia()
	require.NoError(t, err)
	require.Equal(t, "z9hG4bKp", v.Branch())
	require.Len(t, c.Values("Via"), len(req.Values("Via"))+1)
}
