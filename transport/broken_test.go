package transport

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// Broken stream connections over real loopback sockets (issue 21 §2): a
// peer reset in the middle of a message, a proxy that closes our
// connection. A half-open connection (the peer stops answering) is
// TestKeepaliveAndDeadFlow's and TestIdleTimeout's. Goroutines are
// checked by goleak (TestMain), descriptors by openFDs.

// fdSettle bounds the wait for the descriptors of a dead connection to be
// closed.
const fdSettle = 10 * time.Second

// openFDs counts this process's open descriptors (/proc/self/fd).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("needs /proc/self/fd: %v", err)
	}
	return len(ents)
}

// rawDial opens a raw client connection to ap over n (TCP or TLS) and
// returns it with its TCP socket, for SetLinger.
func rawDial(t *testing.T, n Network, ap netip.AddrPort, cliTLS *tls.Config) (net.Conn, *net.TCPConn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", ap.String(), recvWait)
	require.NoError(t, err)
	tc := c.(*net.TCPConn)
	if n == TLS {
		cfg := cliTLS.Clone()
		cfg.ServerName = ap.Addr().String()
		tlc := tls.Client(c, cfg)
		require.NoError(t, tlc.Handshake())
		return tlc, tc
	}
	return c, tc
}

// TestResetMidMessage: a peer writes half a request, then resets the
// connection (SO_LINGER 0, then close: an RST, and for TLS no
// close_notify). The layer drops what it had of the message, reports the
// flow's end, frees the connection's descriptor and goroutines, and takes
// the next connection's request.
func TestResetMidMessage(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	for _, n := range []Network{TCP, TLS} {
		t.Run(string(n), func(t *testing.T) {
			srv, rec := newTestLayer(t, Config{TLS: srvTLS})
			ap := listen(t, srv, n, "127.0.0.1:0")
			base := openFDs(t)

			wire := "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/" + n.ViaTransport() + " 192.0.2.1;branch=z9hG4bKreset1\r\n" +
				"From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: reset1\r\nCSeq: 1 OPTIONS\r\n" +
				"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
			c, tc := rawDial(t, n, ap, cliTLS)
			_, err := c.Write([]byte(wire[:len(wire)/2]))
			require.NoError(t, err)
			require.NoError(t, tc.SetLinger(0))
			require.NoError(t, tc.Close()) // the TCP socket: no close_notify
			fe := rec.nextFlow(t)
			require.Equal(t, n, fe.f.Network)
			require.Error(t, fe.err)
			require.Eventually(t, func() bool { return openFDs(t) <= base }, fdSettle, 10*time.Millisecond,
				"the reset connection's descriptor is closed")
			_, ok := rec.tryNext()
			require.False(t, ok, "half a message is not delivered")

			c2, _ := rawDial(t, n, ap, cliTLS)
			defer c2.Close()
			_, err = c2.Write([]byte(wire))
			require.NoError(t, err)
			in := rec.next(t)
			require.Equal(t, sip.OPTIONS, in.Msg.(*sip.Request).Method)
			require.NotEqual(t, fe.f.Remote, in.Flow.Remote, "a new connection")
		})
	}
}

// TestProxyClosesConnection: the far end (a proxy closing idle
// connections, politely with FIN or with an RST) closes the connection
// our layer dialed. The layer reports the flow's end and frees its
// descriptor; the next request to the same target opens a new
// connection and gets there.
func TestProxyClosesConnection(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	for _, n := range []Network{TCP, TLS} {
		for _, reset := range []bool{false, true} {
			name := string(n) + "/fin"
			if reset {
				name = string(n) + "/rst"
			}
			t.Run(name, func(t *testing.T) {
				cli, rec := newTestLayer(t, Config{ClientTLS: cliTLS})
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				defer ln.Close()
				ap := addrPortOf(ln.Addr())
				base := openFDs(t)
				tgt := Target{Network: n, Addr: ap}

				accept := func() (net.Conn, *net.TCPConn, *bufio.Reader) {
					t.Helper()
					require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(recvWait)))
					c, err := ln.Accept()
					require.NoError(t, err)
					tc := c.(*net.TCPConn)
					if n == TLS {
						c = tls.Server(c, srvTLS)
					}
					require.NoError(t, c.SetReadDeadline(time.Now().Add(recvWait)))
					return c, tc, bufio.NewReader(c)
				}
				readRequest := func(r *bufio.Reader) string {
					t.Helper()
					var head strings.Builder
					for {
						l, err := r.ReadString('\n')
						require.NoError(t, err)
						head.WriteString(l)
						if l == "\r\n" {
							return head.String()
						}
					}
				}

				// The first request dials.
				type sent struct {
					f   Flow
					err error
				}
				done := make(chan sent, 1)
				go func() {
					f, err := cli.SendRequest(t.Context(), options(t, ap.String(), 0), tgt)
					done <- sent{f, err}
				}()
				c1, tc1, r1 := accept()
				require.True(t, strings.HasPrefix(readRequest(r1), "OPTIONS "))
				s1 := <-done
				require.NoError(t, s1.err)

				// The proxy closes it.
				if reset {
					require.NoError(t, tc1.SetLinger(0))
					require.NoError(t, tc1.Close())
				} else {
					require.NoError(t, c1.Close())
				}
				fe := rec.nextFlow(t)
				require.Equal(t, s1.f.Conn, fe.f.Conn, "the end of the dialed flow")
				require.Eventually(t, func() bool { return openFDs(t) <= base }, fdSettle, 10*time.Millisecond,
					"both ends' descriptors closed")

				// The next request opens a new connection.
				go func() {
					f, err := cli.SendRequest(t.Context(), options(t, ap.String(), 0), tgt)
					done <- sent{f, err}
				}()
				c2, _, r2 := accept()
				defer c2.Close()
				require.True(t, strings.HasPrefix(readRequest(r2), "OPTIONS "))
				s2 := <-done
				require.NoError(t, s2.err)
				require.NotEqual(t, s1.f.Conn, s2.f.Conn)
				require.NotEqual(t, s1.f.Local, s2.f.Local, "a new connection")
			})
		}
	}
}
