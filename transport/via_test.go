package transport

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestStampReceived(t *testing.T) {
	for _, tc := range []struct {
		name, via, src string
		want           string
	}{
		{"same address, no rport", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa", "192.0.2.1:5060", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa"},
		{"other address", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa", "198.51.100.7:5060", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;received=198.51.100.7"},
		{"host name", "SIP/2.0/UDP pc.example.com;branch=z9hG4bKa", "192.0.2.1:5060", "SIP/2.0/UDP pc.example.com;branch=z9hG4bKa;received=192.0.2.1"},
		{"rport asked, same address", "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKa", "192.0.2.1:40000", "SIP/2.0/UDP 192.0.2.1:5060;rport=40000;branch=z9hG4bKa;received=192.0.2.1"},
		{"rport behind NAT", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport", "203.0.113.9:1024", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport=1024;received=203.0.113.9"},
		{"IPv6", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKa", "[2001:db8::2]:5060", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKa;received=2001:db8::2"},
		{"IPv6 same", "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKa", "[2001:db8::1]:5060", "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKa"},
		{"no branch is kept for the upper layers", "SIP/2.0/UDP 192.0.2.1", "192.0.2.5:5060", "SIP/2.0/UDP 192.0.2.1;received=192.0.2.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "OPTIONS sip:x@example.com SIP/2.0\r\nVia: " + tc.via + "\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n"
			m, err := sip.Parse([]byte(raw))
			require.NoError(t, err)
			req := m.(*sip.Request)
			stampReceived(req, netip.MustParseAddrPort(tc.src))
			require.Equal(t, tc.want, req.Header("Via"))
		})
	}
}

// TestStampAllocations pins one allocation, the new Via value, for each
// stamp on an IPv4 path.
func TestStampAllocations(t *testing.T) {
	raw := []byte("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
	m, err := sip.Parse(raw)
	require.NoError(t, err)
	req := m.(*sip.Request)
	src := netip.MustParseAddrPort("203.0.113.9:40000")
	require.LessOrEqual(t, testing.AllocsPerRun(50, func() { stampReceived(req, src) }), 1.0)
	require.Equal(t, "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport=40000;received=203.0.113.9", req.Header("Via"))
	out := options(t, "192.0.2.1", 0)
	sentBy := netip.MustParseAddrPort("192.0.2.9:5062")
	require.LessOrEqual(t, testing.AllocsPerRun(50, func() { stampVia(out, UDP, sentBy) }), 1.0)
	v := mustVia(t, out)
	require.Equal(t, "SIP/2.0/UDP 192.0.2.9:5062;branch="+v.Branch()+";rport", out.Header("Via"))
}

// TestStampReceivedIntoRoom: a received datagram's copy keeps room for the
// stamped Via (parseDatagram), so stamping it allocates nothing; a Via too
// long for the room still gets its stamp, in a string of its own.
func TestStampReceivedIntoRoom(t *testing.T) {
	raw := []byte("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
	src := netip.MustParseAddrPort("203.0.113.9:40000")
	const want = "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa;rport=40000;received=203.0.113.9"
	for _, tc := range []struct {
		name   string
		room   int
		allocs float64
	}{
		{"fits", viaRoom, 0},
		{"too long", len(want) - 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, len(raw), len(raw)+tc.room)
			copy(buf, raw)
			m, err := sip.Parse(buf[:len(raw):len(raw)])
			require.NoError(t, err)
			req := m.(*sip.Request)
			room := buf[len(raw):len(raw)]
			// Each run writes the same bytes again (a datagram is stamped
			// once; the runs only count).
			require.Equal(t, tc.allocs, testing.AllocsPerRun(50, func() { stampReceivedInto(req, src, room) }))
			require.Equal(t, want, req.Header("Via"))
			v, err := req.TopVia()
			require.NoError(t, err)
			got, ok := v.Params.Get("received")
			require.True(t, ok)
			require.Equal(t, "203.0.113.9", got)
		})
	}
}

// TestStampViaForms checks the exact value stampVia writes.
func TestStampViaForms(t *testing.T) {
	for _, tc := range []struct {
		name, via, sentBy, want string
	}{
		{"placeholder", "SIP/2.0/UDP placeholder.invalid;branch=z9hG4bKb", "192.0.2.9:5060", "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKb;rport"},
		{"received dropped, rport kept", "SIP/2.0/UDP h;received=1.2.3.4;rport=9;branch=z9hG4bKb", "192.0.2.9:5060", "SIP/2.0/UDP 192.0.2.9:5060;rport=9;branch=z9hG4bKb"},
		{"IPv6 over TLS", "SIP/2.0/UDP h;branch=z9hG4bKb", "[2001:db8::5]:5061", "SIP/2.0/TLS [2001:db8::5]:5061;branch=z9hG4bKb;rport"},
		{"mapped IPv4", "SIP/2.0/UDP h;branch=z9hG4bKb", "[::ffff:192.0.2.9]:5060", "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKb;rport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := options(t, "192.0.2.1", 0)
			req.Set("Via", tc.via)
			n := UDP
			if tc.name == "IPv6 over TLS" {
				n = TLS
			}
			stampVia(req, n, netip.MustParseAddrPort(tc.sentBy))
			require.Equal(t, tc.want, req.Header("Via"))
		})
	}
}

func TestResponseDestination(t *testing.T) {
	src := netip.MustParseAddrPort("203.0.113.9:1024")
	for _, tc := range []struct {
		name, via string
		network   Network
		want      string
	}{
		// Unreliable (RFC 3261 §18.2.2, RFC 3581 §4).
		{"maddr", "SIP/2.0/UDP 192.0.2.1:5070;maddr=239.255.255.1;received=203.0.113.9", UDP, "239.255.255.1:5070"},
		{"received and rport", "SIP/2.0/UDP 10.0.0.2:5060;rport=1024;received=203.0.113.9", UDP, "203.0.113.9:1024"},
		{"received and sent-by port", "SIP/2.0/UDP pc.example.com:5080;received=203.0.113.9", UDP, "203.0.113.9:5080"},
		{"received, default port", "SIP/2.0/UDP pc.example.com;received=203.0.113.9", UDP, "203.0.113.9:5060"},
		{"sent-by", "SIP/2.0/UDP 192.0.2.1:5070", UDP, "192.0.2.1:5070"},
		{"sent-by IPv6 default port", "SIP/2.0/UDP [2001:db8::1]", UDP, "[2001:db8::1]:5060"},
		{"sent-by name falls back to source", "SIP/2.0/UDP pc.example.com", UDP, "203.0.113.9:1024"},
		// Reliable, when the connection is gone.
		{"reliable received and sent-by port", "SIP/2.0/TCP 10.0.0.2:5070;rport=1024;received=203.0.113.9", TCP, "203.0.113.9:5070"},
		{"reliable default port", "SIP/2.0/TCP 192.0.2.1", TCP, "192.0.2.1:5060"},
		{"reliable TLS default port", "SIP/2.0/TLS 192.0.2.1", TLS, "192.0.2.1:5061"},
		{"reliable name", "SIP/2.0/TCP pc.example.com:5070", TCP, "203.0.113.9:5070"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := sip.ParseVia(tc.via)
			require.NoError(t, err)
			var got netip.AddrPort
			if tc.network == UDP {
				got = unreliableDest(&v, src)
			} else {
				got = reliableDest(&v, tc.network, src)
			}
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestStampVia(t *testing.T) {
	req := options(t, "192.0.2.1", 0)
	v := mustVia(t, req)
	stampVia(req, TLS, netip.MustParseAddrPort("[2001:db8::5]:5061"))
	got := mustVia(t, req)
	require.Equal(t, "TLS", got.Transport)
	require.Equal(t, "[2001:db8::5]:5061", got.SentBy())
	require.Equal(t, v.Branch(), got.Branch())
	_, rport := got.RPort()
	require.True(t, rport)

	bare := options(t, "192.0.2.1", 0)
	bare.Del("Via")
	stampVia(bare, UDP, netip.MustParseAddrPort("192.0.2.9:5060"))
	nv := mustVia(t, bare)
	require.True(t, nv.HasCookie(), "a request without Via gets one with a branch")
}

func TestBadRequest(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		ok        bool
	}{
		{"bad header", "INVITE sip:b@example.com SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nf: <sip:a@example.com>;tag=1\r\nt: <sip:b@example.com>\r\ni: abc\r\nCSeq: 1 INVITE\r\nMax-Forwards: x!\r\nContact: <<<\r\n\r\n", true},
		{"ACK is never answered", "ACK sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: abc\r\nCSeq: 1 ACK\r\n\r\n", false},
		{"missing Call-ID", "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCSeq: 1 INVITE\r\n\r\n", false},
		{"response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\r\n", false},
		{"garbage", "\x00\x01\x02 hello\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := badRequest([]byte(tc.raw), "Max-Forwards: bad")
			if !tc.ok {
				require.Nil(t, b)
				return
			}
			m, err := sip.Parse(b)
			require.NoError(t, err)
			res := m.(*sip.Response)
			require.Equal(t, 400, res.StatusCode)
			require.Equal(t, "abc", res.CallID())
			to, err := res.To()
			require.NoError(t, err)
			require.NotEmpty(t, to.Tag())
			cs, err := res.CSeq()
			require.NoError(t, err)
			require.Equal(t, sip.INVITE, cs.Method)
		})
	}
}
