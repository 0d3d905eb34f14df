//go:build interop

package interop

// Issue 14 against real peers: a line registered over UDP, TCP and TLS at
// Kamailio — TLS with the test's own CA, the UA a client only (no TLS
// listener, no certificate) — is called and calls through it; bad
// certificates are refused; a TLS registration survives Kamailio closing
// the connection.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// kamailioTLSName is the DNS name in the certificate the tests make for
// Kamailio (beside 127.0.0.1).
const kamailioTLSName = "kamailio.test"

// testPKI is a CA made by one test and Kamailio's certificate from it.
type testPKI struct {
	pool   *x509.CertPool
	caFile string // the CA certificate, PEM
	tlsCfg string // the tls module's configuration file
}

// newTestPKI makes a CA, a server certificate for 127.0.0.1 and
// kamailioTLSName, writes both with the key and Kamailio's tls.cfg into a
// directory of the test.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := shortTempDir(t, "dtpki")
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dialtone interop CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: kamailioTLSName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{kamailioTLSName}, IPAddresses: []net.IP{net.ParseIP(loopback)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cfg := fmt.Sprintf(`[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = %s
certificate = %s

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
`, keyFile, certFile)
	p := testPKI{pool: x509.NewCertPool(), tlsCfg: filepath.Join(dir, "tls.cfg"), caFile: filepath.Join(dir, "ca.pem")}
	p.pool.AddCert(ca)
	require.NoError(t, os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	require.NoError(t, os.WriteFile(p.tlsCfg, []byte(cfg), 0o600))
	return p
}

// reachOptions are the variants of a UA in these tests.
type reachOptions struct {
	user      string
	network   transport.Network // of the registration and calls: "" is UDP
	listenTCP bool              // a TCP listener too (otherwise only UDP: a client for TCP and TLS)
	clientTLS *tls.Config
	resolver  transport.Resolver
	registrar string // "": Kamailio's address for network
	keepalive time.Duration
	media     bool // answer with an RTP session (Answer(nil)) instead of testSDP
}

// kamailioHop is Kamailio's URI over network n (its TLS port for TLS).
func kamailioHop(k *kamailio, n transport.Network) string {
	switch n {
	case transport.TLS:
		return "sip:" + net.JoinHostPort(loopback, strconv.Itoa(k.tlsPort)) + ";transport=tls"
	case transport.TCP:
		return "sip:" + k.hostPort() + ";transport=tcp"
	case transport.WS:
		return "sip:" + net.JoinHostPort(loopback, strconv.Itoa(k.wsPort)) + ";transport=ws"
	case transport.WSS:
		return "sip:" + net.JoinHostPort(loopback, strconv.Itoa(k.wssPort)) + ";transport=wss"
	}
	return "sip:" + k.hostPort()
}

// newReachUA starts one of our UAs with a line at Kamailio over
// opt.network: its registrar and outbound proxy are Kamailio's address of
// that network, so that every request of the line rides that flow.
func newReachUA(t *testing.T, k *kamailio, opt reachOptions) *peerUA {
	t.Helper()
	p := &peerUA{name: opt.user, events: make(chan ua.Event, 1024), wire: &wireLog{}, calls: make(chan *ua.Call, 16)}
	listen := []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}}
	if opt.listenTCP {
		listen = append(listen, ua.ListenConfig{Network: transport.TCP, Addr: net.JoinHostPort(loopback, "0")})
	}
	hop := cmpOr(opt.registrar, kamailioHop(k, opt.network))
	cfg := ua.Config{
		Listen: listen, Transport: ua.TransportConfig{Tracer: p.wire, ClientTLS: opt.clientTLS}, UserAgent: "dialtone-interop", Resolver: opt.resolver,
		OnEvent: func(e ua.Event) {
			select {
			case p.events <- e:
			default:
			}
		},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			sdp := testSDP(9)
			if opt.media {
				sdp = nil
			}
			if c, err := ic.Answer(sdp); err == nil {
				p.calls <- c
			}
		},
		Lines: []ua.LineConfig{{AOR: k.uri(opt.user), Password: opt.user + "pw", Registrar: hop, OutboundProxy: hop,
			Manual: true, Keepalive: opt.keepalive}},
	}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	p.ua = u
	t.Cleanup(func() {
		require.NoError(t, u.Close(), "Close of %s", p.name)
		if t.Failed() {
			t.Logf("--- last messages of UA %s:\n%s", p.name, p.wire.dump(12))
		}
	})
	return p
}

// distinctCSeqs counts the requests of a wire log that are not
// retransmissions (distinct CSeq values).
func distinctCSeqs(msgs []string) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[headerValue(m, "CSeq")] = true
	}
	return len(seen)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestKamailioTransports: alice and bob registered at Kamailio over one
// transport call each other through it both ways and hang up from either
// side. Over TCP, TLS, WS and WSS (Kamailio's websocket module) without a
// listener of that transport the UA is a client: its Contact is its connection's own address, Kamailio keeps it
// (usrloc) and reaches it over that connection. One REGISTER exchange
// each (401 and the answer): no second one from an rport mistaken for a
// NAT.
func TestKamailioTransports(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name      string
		network   transport.Network
		listenTCP bool
		noCalls   bool // registration only (see the WSS row)
	}{
		{"udp", transport.UDP, false, false},
		{"tcp client", transport.TCP, false, false},
		{"tcp listener", transport.TCP, true, false},
		{"tls client", transport.TLS, false, false},
		{"ws client", transport.WS, false, false},
		// Kamailio's configuration keeps a WebSocket client's connection
		// (received, Contact alias): without it Kamailio 5.6 relays to a
		// transport=wss Contact over UDP ("protocol/port mismatch").
		{"wss client", transport.WSS, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			k := startKamailio(t, ctx, kamailioOptions{tlsCfg: pki.tlsCfg, ws: tc.network == transport.WS || tc.network == transport.WSS})
			opts := reachOptions{network: tc.network, listenTCP: tc.listenTCP,
				clientTLS: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}}
			opts.user = "alice"
			alice := newReachUA(t, k, opts)
			opts.user = "bob"
			bob := newReachUA(t, k, opts)
			for _, p := range []*peerUA{alice, bob} {
				require.NoError(t, p.line().Register(ctx), "%s registers over %s", p.name, tc.network)
				require.Equal(t, 2, distinctCSeqs(p.wire.sent("REGISTER ")), "REGISTER, REGISTER with credentials")
				ct := p.line().Contact().URI
				out := k.waitBinding(t, ctx, p.name, true)
				require.Contains(t, out, net.JoinHostPort(ct.Host, strconv.Itoa(ct.Port)), "usrloc holds our Contact")
				if tc.network != transport.UDP {
					require.Equal(t, string(tc.network), ct.Params.Value("transport"))
				}
				t.Logf("%s registered %s", p.name, ct.String())
			}
			if tc.noCalls {
				return
			}
			for _, dir := range []struct {
				name           string
				caller, callee *peerUA
				callerHangs    bool
			}{
				{"alice calls bob, alice hangs up", alice, bob, true},
				{"bob calls alice, alice hangs up", bob, alice, false},
			} {
				c, err := dir.caller.ua.Dial(ctx, k.uri(dir.callee.name), ua.DialOptions{SDP: testSDP(9)})
				require.NoError(t, err, "%s: Dial", dir.name)
				in := dir.callee.nextCall(t, ctx)
				require.Equal(t, c.CallID(), in.CallID())
				dir.callee.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
				invites := filterCallID(dir.callee.wire.received("INVITE "), c.CallID())
				require.NotEmpty(t, invites)
				require.True(t, strings.HasPrefix(invites[0], "INVITE "+dir.callee.line().Contact().URI.String()),
					"the INVITE reached the registered Contact:\n%s", invites[0])
				hanger, other := c, in
				if !dir.callerHangs {
					hanger, other = in, c
				}
				require.NoError(t, hanger.Hangup(ctx), "%s: Hangup", dir.name)
				require.ErrorIs(t, waitDone(t, ctx, other, "other side"), ua.ErrRemoteHangup)
			}
		})
	}
}

// TestKamailioTLSRefused: a server certificate from a CA the client does
// not trust, or one for another name (the SNI and check of the
// registrar's host name), is refused: the line does not register and
// Kamailio holds no binding. The right name registers.
func TestKamailioTLSRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	pki := newTestPKI(t)
	other := newTestPKI(t)
	k := startKamailio(t, ctx, kamailioOptions{tlsCfg: pki.tlsCfg})
	tlsAt := netip.AddrPortFrom(netip.MustParseAddr(loopback), uint16(k.tlsPort))
	res := transport.StaticResolver{
		kamailioTLSName: {{Network: transport.TLS, Addr: tlsAt}},
		"wrong.test":    {{Network: transport.TLS, Addr: tlsAt}},
	}
	for _, tc := range []struct {
		name      string
		user      string
		registrar string
		pool      *x509.CertPool
		ok        bool
	}{
		{"unknown CA", "alice", kamailioHop(k, transport.TLS), other.pool, false},
		{"wrong name", "bob", "sip:wrong.test;transport=tls", pki.pool, false},
		{"right name", "carol", "sip:" + kamailioTLSName + ";transport=tls", pki.pool, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newReachUA(t, k, reachOptions{user: tc.user, network: transport.TLS, registrar: tc.registrar, resolver: res,
				clientTLS: &tls.Config{RootCAs: tc.pool, MinVersion: tls.VersionTLS12}})
			err := p.line().Register(ctx)
			if tc.ok {
				require.NoError(t, err)
				k.waitBinding(t, ctx, tc.user, true)
				return
			}
			require.ErrorIs(t, err, transport.ErrUnreachable)
			var cv *tls.CertificateVerificationError
			require.ErrorAs(t, err, &cv, "refused for its certificate")
			t.Logf("refused: %v", err)
			_, bound := k.binding(t, ctx, tc.user)
			require.False(t, bound)
		})
	}
}

// TestKamailioTLSFlowRecovery: Kamailio closes the TLS connection a
// client-only line registered over (tcpops' tcp_close_connection, on an
// OPTIONS to close-flow@); the line reports the dead flow, registers
// again at once over a new connection, removing the old Contact, and is
// called there.
func TestKamailioTLSFlowRecovery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	pki := newTestPKI(t)
	k := startKamailio(t, ctx, kamailioOptions{tlsCfg: pki.tlsCfg})
	ct := &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}
	alice := newReachUA(t, k, reachOptions{user: "alice", network: transport.TLS, clientTLS: ct})
	bob := newReachUA(t, k, reachOptions{user: "bob", network: transport.UDP})
	require.NoError(t, alice.line().Register(ctx))
	require.NoError(t, bob.line().Register(ctx))
	first := alice.line().Contact()

	// Kamailio closes the connection the OPTIONS came on.
	closedAt := time.Now()
	_, _ = alice.ua.Options(ctx, "sip:close-flow@"+net.JoinHostPort(loopback, strconv.Itoa(k.tlsPort))+";transport=tls",
		ua.RequestOptions{Line: alice.line()})
	ev := alice.waitEvent(t, ctx, ua.EventFlowFailed, "")
	t.Logf("flow failed: %v", ev.Err)
	alice.waitEvent(t, ctx, ua.EventRegistered, "")
	t.Logf("connection closed by Kamailio → registered again over a new one in %v", time.Since(closedAt).Round(time.Millisecond))
	now := alice.line().Contact()
	require.NotEqual(t, first.URI.Port, now.URI.Port, "a new connection, a new Contact")
	out := k.waitBinding(t, ctx, "alice", true)
	require.Contains(t, out, net.JoinHostPort(now.URI.Host, strconv.Itoa(now.URI.Port)))
	regs := alice.wire.sent("REGISTER ")
	last := regs[len(regs)-1]
	require.Contains(t, last, "expires=0", "the dead connection's Contact removed:\n%s", last)
	c, err := bob.ua.Dial(ctx, k.uri("alice"), ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err, "alice reached over her new connection")
	in := alice.nextCall(t, ctx)
	require.NoError(t, in.Hangup(ctx))
	require.ErrorIs(t, waitDone(t, ctx, c, "bob"), ua.ErrRemoteHangup)
}

// startBaresipOver starts baresip as user registered to k over network
// (tcp or tls, through Kamailio as its outbound proxy on that network),
// auto-answering, trusting caFile for TLS.
func startBaresipOver(t *testing.T, ctx context.Context, k *kamailio, user string, network transport.Network, caFile string) *baresip {
	t.Helper()
	b, _ := launchBaresip(t, ctx, baresipSpec{user: user, dirPrefix: "dtbs", toneHz: 440, toneLen: 2 * time.Second, maxCalls: 4,
		codecs: []string{"g711"}, dns: true, caFile: caFile,
		account: fmt.Sprintf("<%s;transport=%s>;auth_pass=%spw;answermode=auto;audio_codecs=PCMU,PCMA;medianat=;mediaenc=;regint=300;outbound=\"%s\"",
			k.uri(user), network, user, kamailioHop(k, network))})
	k.waitBinding(t, ctx, user, true)
	return b
}

// TestBaresipTransports: baresip registered at Kamailio over TCP and over
// TLS, and one of our UAs registered over the same transport as a client
// (no listener of it, no certificate): we call baresip and hang up; it
// calls us and hangs up; it calls us and we hang up.
func TestBaresipTransports(t *testing.T) {
	pki := newTestPKI(t)
	for _, network := range []transport.Network{transport.TCP, transport.TLS} {
		t.Run(string(network), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			k := startKamailio(t, ctx, kamailioOptions{tlsCfg: pki.tlsCfg})
			carol := startBaresipOver(t, ctx, k, "carol", network, pki.caFile)
			out, _ := k.binding(t, ctx, "carol")
			require.Contains(t, out, "transport="+string(network), "baresip registered over %s:\n%s", network, out)
			dave := newReachUA(t, k, reachOptions{user: "dave", network: network,
				clientTLS: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}})
			require.NoError(t, dave.line().Register(ctx))
			k.waitBinding(t, ctx, "dave", true)
			established := func(l string) bool { return strings.Contains(l, "ESTABLISHED") }
			noCalls := func(list string) bool { return !strings.Contains(list, "sip:") }

			c, err := dave.ua.Dial(ctx, k.uri("carol"), ua.DialOptions{SDP: testSDP(9)})
			require.NoError(t, err, "Dial baresip over %s", network)
			carol.waitCalls(t, ctx, "an established call", established)
			require.NoError(t, c.Hangup(ctx))
			carol.waitCalls(t, ctx, "no call", noCalls)

			for _, weHang := range []bool{false, true} {
				_, err = carol.ctl(ctx, "dial", k.uri("dave"))
				require.NoError(t, err)
				in := dave.nextCall(t, ctx)
				dave.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
				carol.waitCalls(t, ctx, "an established call", established)
				invites := filterCallID(dave.wire.received("INVITE "), in.CallID())
				require.NotEmpty(t, invites)
				require.True(t, strings.HasPrefix(invites[0], "INVITE "+dave.line().Contact().URI.String()),
					"baresip's INVITE reached our registered Contact:\n%s", invites[0])
				if weHang {
					require.NoError(t, in.Hangup(ctx))
				} else {
					_, err = carol.ctl(ctx, "hangup", "")
					require.NoError(t, err)
					require.ErrorIs(t, waitDone(t, ctx, in, "dave"), ua.ErrRemoteHangup)
				}
				carol.waitCalls(t, ctx, "no call", noCalls)
			}
			require.Zero(t, dave.ua.Calls())
		})
	}
}
