package ua_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// edge is a test registrar and proxy edge: it keeps the last binding of
// each user with the flow it came on, answers STUN on its UDP socket while
// stunOn, and calls a registered user at its Contact (over the flow for
// connections, as a proxy reuses a connection the UA opened).
type edge struct {
	tp       *transport.Layer
	tx       *transaction.Layer
	wire     *wire
	outbound bool // answer REGISTERs with reg-id "Require: outbound"

	stunOn    atomic.Bool
	stunSeen  atomic.Int64
	stunBytes atomic.Int64 // of requests and answers, STUN payload

	mu       sync.Mutex
	regs     []*sip.Request
	regFlows []transport.Flow
	bindings map[string]edgeBinding
}

type edgeBinding struct {
	contact sip.Address
	flow    transport.Flow
}

type edgeConfig struct {
	udp, tcp, tls string // listener addresses; empty: none
	ws, wss       string
	tlsConfig     *tls.Config
	outbound      bool
}

func newEdge(t *testing.T, nw transport.Net, cfg edgeConfig) *edge {
	t.Helper()
	e := &edge{wire: newWire(), outbound: cfg.outbound, bindings: map[string]edgeBinding{}}
	e.stunOn.Store(true)
	tp, err := transport.New(transport.Config{Net: nw, Tracer: e.wire, TLS: cfg.tlsConfig, OnSTUN: e.onSTUN})
	require.NoError(t, err)
	tx, err := transaction.New(tp, transaction.Config{Handler: transaction.Go(peerTU{h: e.serve})})
	require.NoError(t, err)
	e.tp, e.tx = tp, tx
	t.Cleanup(e.close)
	for _, l := range []struct {
		n    transport.Network
		addr string
	}{{transport.UDP, cfg.udp}, {transport.TCP, cfg.tcp}, {transport.TLS, cfg.tls}, {transport.WS, cfg.ws}, {transport.WSS, cfg.wss}} {
		if l.addr != "" {
			_, err := tp.Listen(context.Background(), l.n, l.addr)
			require.NoError(t, err)
		}
	}
	return e
}

func (e *edge) close() {
	_ = e.tx.Close()
	_ = e.tp.Close()
}

// onSTUN answers a binding request with the address it came from.
func (e *edge) onSTUN(f transport.Flow, b []byte) {
	m := &stun.Message{Raw: b}
	if m.Decode() != nil || m.Type != stun.BindingRequest {
		return
	}
	e.stunSeen.Add(1)
	e.stunBytes.Add(int64(len(b)))
	if !e.stunOn.Load() {
		return
	}
	res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: f.Remote.Addr().AsSlice(), Port: int(f.Remote.Port())}, stun.Fingerprint)
	if err == nil && e.tp.SendDatagram(f, res.Raw) == nil {
		e.stunBytes.Add(int64(len(res.Raw)))
	}
}

func (e *edge) serve(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	switch req.Method {
	case sip.REGISTER:
		res := sip.NewResponse(req, sip.StatusOK, "")
		cts, _ := req.Contacts()
		to, _ := req.To()
		e.mu.Lock()
		e.regs = append(e.regs, req)
		e.regFlows = append(e.regFlows, w.Flow())
		for _, ct := range cts {
			exp, ok := ct.Expires()
			if !ok {
				exp = 3600
			}
			if exp > 0 {
				e.bindings[to.URI.User] = edgeBinding{contact: ct, flow: w.Flow()}
				ct.Params = ct.Params.Set("expires", strconv.FormatUint(uint64(exp), 10))
				res.Add("Contact", ct.String())
			}
			if e.outbound && ct.Params.Has("reg-id") {
				res.Set("Require", "outbound")
			}
		}
		e.mu.Unlock()
		_ = w.Respond(res)
	case sip.INVITE:
		_ = w.Respond(sip.NewResponse(req, sip.StatusBusyHere, ""))
	default:
		_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
	}
}

// registers returns the REGISTERs received and the flows they came on.
func (e *edge) registers() ([]*sip.Request, []transport.Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*sip.Request(nil), e.regs...), append([]transport.Flow(nil), e.regFlows...)
}

func (e *edge) binding(user string) (edgeBinding, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bindings[user]
	return b, ok
}

// call sends an INVITE to user's registered Contact — over the
// registration's connection for streams, to the Contact's address for UDP
// — and returns the final response (a 2xx is ACKed).
func (e *edge) call(ctx context.Context, user string) (*sip.Response, error) {
	b, ok := e.binding(user)
	if !ok {
		return nil, errNotRegistered
	}
	req := sip.NewRequest(sip.INVITE, b.contact.URI)
	from, _ := sip.ParseAddress("<sip:carol@192.0.2.10>;tag=" + sip.NewTag())
	req.SetFrom(from)
	req.SetTo(sip.Address{URI: b.contact.URI})
	req.SetCallID(sip.NewCallID())
	req.SetCSeq(sip.CSeq{Seq: 1, Method: sip.INVITE})
	req.Set("Contact", "<sip:carol@192.0.2.10:5060>")
	req.SetBody([]byte(testSDP), "application/sdp")
	t := transport.Target{Network: b.flow.Network, Addr: b.flow.Remote}
	if b.flow.Network == transport.UDP {
		ap, err := netip.ParseAddrPort(b.contact.URI.HostPort())
		if err != nil {
			return nil, err
		}
		t.Addr = ap
	}
	tx, err := e.tx.Request(ctx, req, t)
	if err != nil {
		return nil, err
	}
	res, err := tx.Final(ctx)
	if err != nil || !res.IsSuccess() {
		return res, err
	}
	ack := sip.NewRequest(sip.ACK, b.contact.URI)
	ack.SetFrom(from)
	to, _ := res.To()
	ack.SetTo(to)
	ack.SetCallID(req.CallID())
	ack.SetCSeq(sip.CSeq{Seq: 1, Method: sip.ACK})
	_, err = e.tp.SendRequest(ctx, ack, t)
	return res, err
}

var errNotRegistered = &net.AddrError{Err: "not registered"}

// testCA is a CA made for one test, and a server certificate it signed.
type testCA struct {
	pool   *x509.CertPool
	server tls.Certificate
}

// newTestCA makes a CA and a certificate for the server at ip (IP SAN)
// and the names given (DNS SANs).
func newTestCA(t *testing.T, ip netip.Addr, names ...string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dialtone test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "edge"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: names,
	}
	if ip.IsValid() {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testCA{pool: pool, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// stunServer answers binding requests on a memnet socket until the test
// ends.
func stunServer(t *testing.T, nw interface {
	ListenPacket(context.Context, string, string) (net.PacketConn, error)
}, addr string) {
	t.Helper()
	pc, err := nw.ListenPacket(context.Background(), "udp", addr)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, src, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.Type != stun.BindingRequest {
				continue
			}
			ua := src.(*net.UDPAddr)
			res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}, stun.Fingerprint)
			if err == nil {
				_, _ = pc.WriteTo(res.Raw, src)
			}
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
}
