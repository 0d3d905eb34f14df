package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no domain", []string{"-user", "a:b"}, "-domain is required"},
		{"no users", []string{"-domain", "example.test"}, "no users"},
		{"bad user", []string{"-domain", "example.test", "-user", "alice"}, "name:password"},
		{"tls without cert", []string{"-domain", "example.test", "-user", "a:b", "-tls", "127.0.0.1:0"}, "-cert"},
		{"bad auth", []string{"-domain", "example.test", "-user", "a:b", "-auth", "maybe", "-listen", "127.0.0.1:0"}, "-auth"},
		{"bad algorithm", []string{"-domain", "example.test", "-user", "a:b", "-algorithms", "SHA-1", "-listen", "127.0.0.1:0"}, "-algorithms"},
		{"two stores", []string{"-domain", "example.test", "-user", "a:b", "-db", "x.db", "-pg", "postgres://x"}, "exclusive"},
		{"bad db", []string{"-domain", "example.test", "-user", "a:b", "-listen", "127.0.0.1:0", "-db", "/nonexistent/dir/x.db"}, "-db"},
		{"wildcard without advertise", []string{"-domain", "example.test", "-user", "a:b", "-listen", "0.0.0.0:0"}, "-advertise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, tt.args, io.Discard, io.Discard)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// lines delivers what run prints, line by line.
func lines(t *testing.T) (io.Writer, <-chan string) {
	r, w := io.Pipe()
	ch := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	t.Cleanup(func() { _ = w.Close() })
	return w, ch
}

// waitLine returns the first line with prefix, failing after 10 s.
func waitLine(t *testing.T, ch <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			require.True(t, ok, "output ended before %q", prefix)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			require.FailNow(t, "no line "+prefix)
		}
	}
}

// TestRun starts the program on the loopback with users from a file,
// registers two of our UAs with digest and has one call the other by
// alias through it, with a capture file written.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.txt")
	require.NoError(t, os.WriteFile(usersFile, []byte("# test users\nalice:a-secret\nbob:b-secret:+15551234,tel:+15551234\n"), 0o600))
	pcap := filepath.Join(dir, "sip.pcap")
	out, ch := lines(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-domain", "example.test", "-listen", "127.0.0.1:0", "-users", usersFile, "-pcap", pcap,
			"-metrics", "127.0.0.1:0"}, out, io.Discard)
	}()
	defer cancel()
	m := waitLine(t, ch, "metrics http://")
	mres, err := http.Get(strings.TrimPrefix(m, "metrics "))
	require.NoError(t, err)
	body, err := io.ReadAll(mres.Body)
	mres.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, mres.StatusCode)
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_inuse_bytes ", "process_resident_memory_bytes ", "process_open_fds "} {
		require.Contains(t, string(body), "\n"+name, "-metrics serves %s", name)
	}
	l := waitLine(t, ch, "listening udp ")
	addr := netip.MustParseAddrPort(strings.TrimPrefix(l, "listening udp "))
	waitLine(t, ch, "ready ")

	res := transport.StaticResolver{"example.test": {{Network: transport.UDP, Addr: addr}}}
	newPhone := func(user, pass string, onCall func(context.Context, *ua.IncomingCall)) *ua.UA {
		cfg := ua.Config{
			Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
			Resolver: res,
			Lines:    []ua.LineConfig{{AOR: "sip:" + user + "@example.test", Password: pass, Registrar: "sip:example.test"}},
			OnCall:   onCall,
		}
		cfg.Media.DisableMedia = true
		u, err := ua.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = u.Close() })
		return u
	}
	answered := make(chan string, 1)
	alice := newPhone("alice", "a-secret", nil)
	waitLine(t, ch, "registered aor=sip:alice@example.test contacts=1")
	bob := newPhone("bob", "b-secret", func(_ context.Context, ic *ua.IncomingCall) {
		if _, err := ic.Answer([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")); err == nil {
			answered <- ic.Request().URI.String()
		}
	})
	waitLine(t, ch, "registered aor=sip:bob@example.test contacts=1")

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	c, err := alice.Dial(dctx, "sip:+15551234@example.test", ua.DialOptions{SDP: []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n")})
	require.NoError(t, err)
	select {
	case uri := <-answered:
		require.Contains(t, uri, "127.0.0.1", "the INVITE reached bob's contact")
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not answer")
	}
	require.NoError(t, c.Hangup(dctx))
	// The phones unregister while the proxy is still there.
	require.NoError(t, alice.Close())
	require.NoError(t, bob.Close())
	waitLine(t, ch, "registered aor=sip:bob@example.test contacts=0")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	st, err := os.Stat(pcap)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(24+100), "the capture holds packets")
}

// TestRunStreams: a phone registered over WebSocket or TLS is called by a
// UDP phone through the proxy: the INVITE, the ACK and the BYE reach it
// over its own transport (the trace says so).
func TestRunStreams(t *testing.T) {
	certFile, keyFile, serverTLS, clientTLS := testCert(t)
	tests := []struct {
		n    transport.Network
		args []string
	}{
		{transport.WS, []string{"-ws", "127.0.0.1:0"}},
		{transport.TLS, []string{"-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile}},
	}
	for _, tt := range tests {
		t.Run(string(tt.n), func(t *testing.T) {
			testRunStream(t, tt.n, tt.args, serverTLS, clientTLS)
		})
	}
}

func testRunStream(t *testing.T, n transport.Network, args []string, serverTLS, clientTLS *tls.Config) {
	out, ch := lines(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	trace := &testenv.SyncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-domain", "example.test", "-listen", "127.0.0.1:0", "-trace",
			"-user", "alice:a-secret", "-user", "bob:b-secret"}, args...), out, trace)
	}()
	udp := netip.MustParseAddrPort(strings.TrimPrefix(waitLine(t, ch, "listening udp "), "listening udp "))
	prefix := "listening " + string(n) + " "
	stream := netip.MustParseAddrPort(strings.TrimPrefix(waitLine(t, ch, prefix), prefix))
	waitLine(t, ch, "ready ")

	phone := func(user, pass string, n transport.Network, target netip.AddrPort, onCall func(context.Context, *ua.IncomingCall)) *ua.UA {
		cfg := ua.Config{
			Listen:   []ua.ListenConfig{{Network: n, Addr: "127.0.0.1:0"}},
			Resolver: transport.StaticResolver{"example.test": {{Network: n, Addr: target}}},
			Lines: []ua.LineConfig{{AOR: "sip:" + user + "@example.test", Password: pass,
				Registrar: "sip:example.test", Transport: n}},
			OnCall: onCall, Transport: ua.TransportConfig{TLS: serverTLS, ClientTLS: clientTLS},
		}
		cfg.Media.DisableMedia = true
		u, err := ua.New(cfg)
		require.NoError(t, err)
		return u
	}
	sdp := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	calls := make(chan *ua.Call, 1)
	alice := phone("alice", "a-secret", n, stream, func(_ context.Context, ic *ua.IncomingCall) {
		if c, err := ic.Answer(sdp); err == nil {
			calls <- c
		}
	})
	defer func() {
		if t.Failed() {
			t.Logf("alice: %v\ntrace:\n%s", alice.Lines()[0].Err(), trace.String())
		}
	}()
	waitLine(t, ch, "registered aor=sip:alice@example.test contacts=1")
	bob := phone("bob", "b-secret", transport.UDP, udp, nil)
	waitLine(t, ch, "registered aor=sip:bob@example.test contacts=1")

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	c, err := bob.Dial(dctx, "sip:alice@example.test", ua.DialOptions{SDP: sdp})
	require.NoError(t, err)
	var in *ua.Call
	select {
	case in = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("alice did not answer")
	}
	require.NoError(t, c.Hangup(dctx))
	select {
	case <-in.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("bob's BYE did not reach alice over %s", n)
	}
	require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)
	for _, m := range []string{"INVITE", "ACK", "BYE"} {
		// The ACK for a 2xx is forwarded on a goroutine of its own, so
		// it may be traced after the call has ended at both phones.
		require.Eventually(t, func() bool {
			return trace.HasLine("direction=out transport="+string(n), "first_line=\""+m+" sip:alice")
		}, 10*time.Second, 10*time.Millisecond, "%s not sent over %s", m, n)
	}
	require.NoError(t, alice.Close())
	require.NoError(t, bob.Close())
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// testCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files, and returns them with a server configuration holding them and
// a client configuration that trusts them. It names 127.0.0.1 and
// example.test, the domain the phones check it against.
func testCert(t *testing.T) (certFile, keyFile string, server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dialtone proxy test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"example.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
