package sip_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// typedInvite carries one of each header the typed views read.
const typedInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa\r\n" +
	"Max-Forwards: 69\r\n" +
	"Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n" +
	"Route: <sip:p4.example.com;lr>\r\n" +
	"Record-Route: <sip:p1.example.com;lr>\r\n" +
	"From: <sip:alice@atlanta.example.com>;tag=1\r\n" +
	"To: <sip:bob@biloxi.example.com>\r\n" +
	"Call-ID: typed@atlanta.example.com\r\n" +
	"CSeq: 2 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.10>;expires=60, <sip:alice@198.51.100.1>;q=0.5\r\n" +
	"Authorization: Digest username=\"alice\", realm=\"atlanta.example.com\", nonce=\"n\", uri=\"sip:bob@biloxi.example.com\", response=\"r\"\r\n" +
	"Proxy-Authorization: Digest username=\"alice\", realm=\"p1\", nonce=\"m\", uri=\"sip:bob@biloxi.example.com\", response=\"s\"\r\n" +
	"Allow: INVITE, ACK, BYE\r\n" +
	"Supported: timer, 100rel\r\n" +
	"Require: 100rel\r\n" +
	"Expires: 120\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 0\r\n\r\n"

// TestTypedViewsAllocateNothing: after the parse, every typed view of the
// common headers reads the message without an allocation when the caller
// gives the room (issue 22: typed access at 0 allocations).
func TestTypedViewsAllocateNothing(t *testing.T) {
	m, err := sip.Parse([]byte(typedInvite))
	require.NoError(t, err)
	req := m.(*sip.Request)

	var vias [4]sip.Via
	var addrs [4]sip.Address
	var strs [4]string
	count := func(n int, err error) int {
		if err != nil {
			return -1
		}
		return n
	}
	tests := []struct {
		name string
		read func() int // reads into the buffers above; a count to check
		want int
	}{
		{"Vias", func() int { v, err := req.AppendVias(vias[:0]); return count(len(v), err) }, 2},
		{"Contacts", func() int { v, err := req.AppendContacts(addrs[:0]); return count(len(v), err) }, 2},
		{"Routes", func() int { v, err := req.AppendRoutes(addrs[:0]); return count(len(v), err) }, 3},
		{"RecordRoutes", func() int { v, err := req.AppendRecordRoutes(addrs[:0]); return count(len(v), err) }, 1},
		{"Allow", func() int { return len(req.AppendValues(strs[:0], "Allow")) }, 3},
		{"Supported", func() int { return len(req.AppendValues(strs[:0], "k")) }, 2},
		{"Require", func() int { return len(req.AppendValues(strs[:0], "Require")) }, 1},
		{"Authorization", func() int { return len(req.AppendValues(strs[:0], "Authorization")) }, 1},
		{"ProxyAuthorization", func() int { return len(req.AppendValues(strs[:0], "Proxy-Authorization")) }, 1},
		{"FirstContact", func() int { a, ok, err := req.FirstContact(); return count(len(a.URI.Host), err) * b2i(ok) }, len("192.0.2.10")},
		{"Expires", func() int { n, err := req.Expires(); return count(int(n), err) }, 120},
		{"MaxForwards", func() int { return count(req.MaxForwards()) }, 69},
		{"ContentType", func() int { return len(req.ContentType()) }, len("application/sdp")},
		{"HasToken", func() int { return b2i(req.HasToken("Supported", "100rel")) }, 1},
		{"Branch", func() int { v, err := req.TopVia(); return count(len(v.Branch()), err) }, len("z9hG4bKp1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.read())
			require.Zero(t, testing.AllocsPerRun(100, func() { _ = tt.read() }))
		})
	}

	// The buffers hold what the allocating forms return.
	routes, err := req.AppendRoutes(addrs[:0])
	require.NoError(t, err)
	require.Equal(t, must(req.Routes()), routes)
	require.Equal(t, "p4.example.com", routes[2].URI.Host)
	require.Equal(t, req.Supported(), req.AppendValues(strs[:0], "Supported"))
	require.Equal(t, []string{"timer", "100rel"}, req.Supported())
	got, err := req.AppendVias(vias[:0])
	require.NoError(t, err)
	require.Equal(t, must(req.Vias()), got)
	require.Equal(t, "z9hG4bKa", got[1].Branch())
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
