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
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// domainCert makes a self-signed certificate for the DNS name only (no IP
// address), and a client configuration that trusts it.
func domainCert(t *testing.T, name string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{name},
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

// TLS through failover: the first SRV target refuses the connection, the
// second takes the REGISTER; the certificate is checked against, and SNI
// carries, the domain resolved (RFC 5922 §4), not the target's address
// (the certificate names no address at all).
func TestFailoverTLSServerName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		srvTLS, cliTLS := domainCert(t, "example.test")
		var mu sync.Mutex
		var snis []string
		srvTLS.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			snis = append(snis, h.ServerName)
			mu.Unlock()
			return nil, nil
		}
		tp, err := transport.New(transport.Config{Net: n, TLS: srvTLS})
		require.NoError(t, err)
		got := make(chan *sip.Request, 4)
		txl, err := transaction.New(tp, transaction.Config{Handler: transaction.Go(peerTU{h: func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			got <- req
			res := sip.NewResponse(req, sip.StatusOK, "")
			res.Set("Contact", req.Header("Contact"))
			_ = w.Respond(res)
		}})})
		require.NoError(t, err)
		_, err = tp.Listen(context.Background(), transport.TLS, "192.0.2.11:5061")
		require.NoError(t, err)
		defer func() { _ = txl.Close(); _ = tp.Close() }()

		tlsTarget := func(a string) transport.Target {
			return transport.Target{Network: transport.TLS, Addr: netip.MustParseAddrPort(a)}
		}
		u, _ := newUA(t, n, "", ua.Config{
			Listen:    []ua.ListenConfig{{Network: transport.TLS, Addr: "192.0.2.1:5061"}},
			Transport: ua.TransportConfig{TLS: srvTLS, ClientTLS: cliTLS},
			Resolver:  transport.StaticResolver{"example.test": {tlsTarget("192.0.2.10:5061"), tlsTarget("192.0.2.11:5061")}},
			Lines: []ua.LineConfig{{AOR: "sips:alice@example.test", Registrar: "sips:example.test", Manual: true,
				Transport: transport.TLS}},
		})
		t0 := time.Now()
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		require.Equal(t, t0, time.Now(), "a refused connection is a transport error: the next target at once")
		req := recv(t, got, time.Second, "REGISTER at the second target")
		require.Equal(t, "sips:example.test", req.URI.String())
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"example.test"}, snis, "SNI is the domain")
	})
}
