package ua_test

// Contacts that reach us (issue 14): built for the transport really used,
// rport correction over UDP only, a client-only UA over TCP and TLS riding
// its connection, the public address in every Contact behind a NAT.

import (
	"crypto/tls"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

var edgeIP = netip.MustParseAddr("192.0.2.10")

// Each way a line can reach its registrar gives one REGISTER whose
// Contact is reachable: a listener's address over its transport, or, with
// no listener of that transport, the connection's own address — never the
// connection's ephemeral port presented as UDP. The edge then calls the
// UA at that Contact and gets an answer.
func TestRegisterContactPerTransport(t *testing.T) {
	tests := []struct {
		name      string
		listen    []ua.ListenConfig
		registrar string
		transport transport.Network
		wantNet   string // the Contact's transport parameter
		wantPort  int    // 0: the connection's port (client only)
		scheme    string
	}{
		{"udp", nil, "sip:192.0.2.10:5060", "", "", 5060, "sip"},
		{"tcp listener", []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.1:5060"}, {Network: transport.TCP, Addr: "192.0.2.1:5070"}},
			"sip:192.0.2.10:5060", transport.TCP, "tcp", 5070, "sip"},
		{"tcp client only", nil, "sip:192.0.2.10:5060;transport=tcp", "", "tcp", 0, "sip"},
		{"tls client only", nil, "sip:192.0.2.10:5061;transport=tls", "", "tls", 0, "sip"},
		{"sips client only", nil, "sips:192.0.2.10:5061", "", "tls", 0, "sips"},
		{"ws client only", nil, "sip:192.0.2.10:8080;transport=ws", "", "ws", 0, "sip"},
		{"wss client only", nil, "sip:192.0.2.10:8443;transport=wss", "", "wss", 0, "sip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				ca := newTestCA(t, edgeIP)
				e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060", tcp: "192.0.2.10:5060", tls: "192.0.2.10:5061",
					ws: "192.0.2.10:8080", wss: "192.0.2.10:8443",
					tlsConfig: &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}})
				lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: tt.registrar, Transport: tt.transport, Manual: true}
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
					Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.1")),
						ClientTLS: &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}},
					Listen: tt.listen, Lines: []ua.LineConfig{lc},
					OnCall: answerer(nil),
				})
				require.NoError(t, u.Lines()[0].Register(t.Context()))
				regs, flows := e.registers()
				require.Len(t, regs, 1, "no second REGISTER: a connection's rport is not a NAT")
				cts, err := regs[0].Contacts()
				require.NoError(t, err)
				require.Len(t, cts, 1)
				ct := cts[0].URI
				require.Equal(t, tt.scheme, ct.Scheme)
				require.Equal(t, "192.0.2.1", ct.Host)
				require.Equal(t, tt.wantNet, ct.Params.Value("transport"))
				v, err := regs[0].TopVia()
				require.NoError(t, err)
				if tt.wantPort != 0 {
					require.Equal(t, tt.wantPort, ct.Port)
				} else {
					require.Equal(t, int(flows[0].Remote.Port()), ct.Port, "the connection's own port")
					require.Equal(t, ct.Port, v.Port, "Via sent-by: the same connection")
				}
				require.Equal(t, u.Lines()[0].Contact().URI.String(), ct.String())

				res, err := e.call(t.Context(), "alice")
				require.NoError(t, err, "the edge reaches the registered Contact")
				require.Equal(t, sip.StatusOK, res.StatusCode)
				rc, err := res.Contacts()
				require.NoError(t, err)
				require.Equal(t, ct.HostPort(), rc[0].URI.HostPort(), "the 200's Contact is the registered one")
			})
		})
	}
}

// Behind a NAT over UDP, the registrar's received/rport correct the
// Contact once (a second REGISTER), and every later Contact of the line —
// of an outgoing INVITE, of the 200 to an incoming one — carries the
// public address, which the edge reaches through the NAT.
func TestNATPublicContactEverywhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		nat, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("203.0.113.1"), memnet.PortRestricted)
		require.NoError(t, err)
		e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
		lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060", Manual: true, Keepalive: -1}
		u, rec := newUA(t, n, "10.0.0.2:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("10.0.0.2"))},
			Lines: []ua.LineConfig{lc}, OnCall: answerer(nil)})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		regs, _ := e.registers()
		require.Len(t, regs, 2, "one REGISTER to learn the address, one to correct it")
		pub, ok := line.PublicAddr()
		require.True(t, ok)
		require.Equal(t, nat.Public(), pub.Addr())
		require.Equal(t, "203.0.113.1", line.Contact().URI.Host)
		require.Equal(t, int(pub.Port()), line.Contact().URI.Port)
		_, ok = rec.find(ua.EventNATDetected)
		require.True(t, ok)

		res, err := e.call(t.Context(), "alice")
		require.NoError(t, err)
		require.Equal(t, sip.StatusOK, res.StatusCode)
		rc, _ := res.Contacts()
		require.Equal(t, pub.String(), rc[0].URI.HostPort(), "the 200 carries the public address")

		_, err = u.Dial(t.Context(), "sip:bob@192.0.2.10:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.Error(t, err, "the edge answers 486")
		invs := e.wire.requests(sip.INVITE)
		require.Len(t, invs, 1)
		ic, _ := invs[0].Contacts()
		require.Equal(t, pub.String(), ic[0].URI.HostPort(), "the INVITE carries the public address")
	})
}

// With RFC 5626 outbound the REGISTER carries +sip.instance and reg-id,
// the registrar's Require: outbound is noted, and dialog-forming requests
// carry "ob" in their Contact.
func TestOutboundRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		e := newEdge(t, n, edgeConfig{tcp: "192.0.2.10:5060", outbound: true})
		lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060;transport=tcp", Manual: true,
			InstanceID: "urn:uuid:00000000-0000-4000-8000-000000000001"}
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.1"))}, Lines: []ua.LineConfig{lc}})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		require.True(t, line.Outbound())
		regs, _ := e.registers()
		require.Len(t, regs, 1)
		cts, _ := regs[0].Contacts()
		require.Equal(t, `"<urn:uuid:00000000-0000-4000-8000-000000000001>"`, cts[0].Params.Value("+sip.instance"))
		require.Equal(t, "1", cts[0].Params.Value("reg-id"))
		require.Contains(t, regs[0].Header("Supported"), "outbound")

		_, err := u.Dial(t.Context(), "sip:bob@192.0.2.10:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.Error(t, err)
		invs := e.wire.requests(sip.INVITE)
		require.Len(t, invs, 1)
		ic, _ := invs[0].Contacts()
		require.True(t, ic[0].URI.Params.Has("ob"), "ob in the INVITE's Contact")
		require.Equal(t, "tcp", ic[0].URI.Params.Value("transport"))

		// NoOutbound keeps the parameters out.
		lc.NoOutbound = true
		lc.AOR = "sip:bob@192.0.2.10"
		u2, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.2"))}, Lines: []ua.LineConfig{lc}})
		require.NoError(t, u2.Lines()[0].Register(t.Context()))
		require.False(t, u2.Lines()[0].Outbound())
		regs, _ = e.registers()
		cts, _ = regs[len(regs)-1].Contacts()
		require.False(t, cts[0].Params.Has("reg-id"))
		require.Empty(t, regs[len(regs)-1].Header("Supported"))
	})
}

// A certificate the client's roots do not vouch for, or one for another
// name, is refused: the line does not register.
func TestRegisterTLSRefusesBadCertificate(t *testing.T) {
	tests := []struct {
		name      string
		cert      func(t *testing.T) (testCA, testCA) // server's CA, client's CA
		registrar string
	}{
		{"unknown CA", func(t *testing.T) (testCA, testCA) { return newTestCA(t, edgeIP), newTestCA(t, edgeIP) },
			"sip:192.0.2.10:5061;transport=tls"},
		{"wrong name", func(t *testing.T) (testCA, testCA) {
			ca := newTestCA(t, netip.Addr{}, "other.example")
			return ca, ca
		}, "sip:192.0.2.10:5061;transport=tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				srv, cli := tt.cert(t)
				e := newEdge(t, n, edgeConfig{tls: "192.0.2.10:5061",
					tlsConfig: &tls.Config{Certificates: []tls.Certificate{srv.server}, MinVersion: tls.VersionTLS12}})
				lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: tt.registrar, Manual: true}
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.1")),
					ClientTLS: &tls.Config{RootCAs: cli.pool, MinVersion: tls.VersionTLS12}}, Lines: []ua.LineConfig{lc}})
				err := u.Lines()[0].Register(t.Context())
				require.ErrorIs(t, err, transport.ErrUnreachable)
				regs, _ := e.registers()
				require.Empty(t, regs)
			})
		})
	}
}

// waitFor polls cond in virtual time until it holds or d passes (the test
// fails then).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
