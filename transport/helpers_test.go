package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// recorder is a Handler that queues what it gets.
type recorder struct {
	msgs  chan Incoming
	flows chan flowErr
}

type flowErr struct {
	f   Flow
	err error
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan Incoming, 20000), flows: make(chan flowErr, 20000)}
}

func (r *recorder) HandleMessage(in Incoming)         { r.msgs <- in }
func (r *recorder) HandleFlowError(f Flow, err error) { r.flows <- flowErr{f, err} }

// recvWait bounds a wait for something a real socket delivers.
const recvWait = 10 * time.Second

// next waits for the next message (real time; synctest tests use
// synctest.Wait and tryNext).
func (r *recorder) next(t *testing.T) Incoming {
	t.Helper()
	select {
	case in := <-r.msgs:
		return in
	case <-time.After(recvWait):
		t.Fatal("no message")
		return Incoming{}
	}
}

// nextFlow waits for the next flow error reported to the handler.
func (r *recorder) nextFlow(t *testing.T) flowErr {
	t.Helper()
	select {
	case fe := <-r.flows:
		return fe
	case <-time.After(recvWait):
		t.Fatal("no flow error")
		return flowErr{}
	}
}

func (r *recorder) tryNext() (Incoming, bool) {
	select {
	case in := <-r.msgs:
		return in, true
	default:
		return Incoming{}, false
	}
}

// newTestLayer returns a layer served by a recorder.
func newTestLayer(t *testing.T, cfg Config) (*Layer, *recorder) {
	t.Helper()
	rec := newRecorder()
	return newServedLayer(t, cfg, rec), rec
}

// newServedLayer returns a layer served by h.
func newServedLayer(t testing.TB, cfg Config, h Handler) *Layer {
	t.Helper()
	l, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, l.Serve(h))
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func listen(t *testing.T, l *Layer, n Network, addr string) netip.AddrPort {
	t.Helper()
	a, err := l.Listen(t.Context(), n, addr)
	require.NoError(t, err)
	return addrPortOf(a)
}

// options builds an OPTIONS request with a Via the layer will fill.
func options(t testing.TB, target string, bodyLen int) *sip.Request {
	u, err := sip.ParseURI("sip:" + target)
	require.NoError(t, err)
	req := sip.NewRequest(sip.OPTIONS, u)
	req.Prepend("Via", "SIP/2.0/UDP placeholder.invalid;branch="+sip.NewBranch())
	from, err := sip.ParseAddress("<sip:alice@example.com>;tag=" + sip.NewTag())
	require.NoError(t, err)
	req.SetFrom(from)
	if bodyLen > 0 {
		body := make([]byte, bodyLen)
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		req.SetBody(body, "text/plain")
	}
	return req
}

// testCert makes a self-signed ECDSA certificate for 127.0.0.1, ::1 and
// localhost, and a client configuration that trusts it.
func testCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dialtone test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}
