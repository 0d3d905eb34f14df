package transport

import (
	"net/netip"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/sip"
)

// TestTransportsLoopback sends a request and its response over each
// transport on IPv4 and IPv6 loopback and checks the Via stamping on both
// sides.
func TestTransportsLoopback(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	for _, n := range []Network{UDP, TCP, TLS, WS, WSS} {
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(string(n)+"/"+host, func(t *testing.T) {
				if host == "::1" {
					testenv.NeedIPv6Loopback(t)
				}
				bind := netip.AddrPortFrom(netip.MustParseAddr(host), 0).String()
				srv, srvRec := newTestLayer(t, Config{TLS: srvTLS})
				cli, cliRec := newTestLayer(t, Config{ClientTLS: cliTLS})
				srvAddr := listen(t, srv, n, bind)
				if n == UDP {
					listen(t, cli, UDP, bind)
				}
				req := options(t, srvAddr.String(), 0)
				vq := mustVia(t, req)
				branch := vq.Branch()
				f, err := cli.SendRequest(t.Context(), req, Target{Network: n, Addr: srvAddr})
				require.NoError(t, err)
				require.Equal(t, n, f.Network)
				require.Equal(t, srvAddr, f.Remote)

				in := srvRec.next(t)
				got := in.Msg.(*sip.Request)
				require.Equal(t, sip.OPTIONS, got.Method)
				v := mustVia(t, got)
				require.Equal(t, n.ViaTransport(), v.Transport)
				require.Equal(t, branch, v.Branch())
				rp, ok := v.RPort()
				require.True(t, ok)
				require.Equal(t, int(in.Flow.Remote.Port()), rp, "rport filled with the source port")
				require.Equal(t, in.Flow.Remote.Addr().String(), v.Received())
				require.Equal(t, n, in.Flow.Network)
				if n == UDP {
					require.Equal(t, f.Local, in.Flow.Remote, "UDP requests leave from the listener")
				} else {
					require.Equal(t, f.Local, in.Flow.Remote)
					require.NotZero(t, in.Flow.Conn)
				}

				res := sip.NewResponse(got, sip.StatusOK, "")
				require.NoError(t, srv.SendResponse(t.Context(), res, in.Flow))
				back := cliRec.next(t)
				r, ok := back.Msg.(*sip.Response)
				require.True(t, ok)
				require.Equal(t, sip.StatusOK, r.StatusCode)
				vr := mustVia(t, r)
				require.Equal(t, branch, vr.Branch())
				if n != UDP {
					require.Equal(t, f.Conn, back.Flow.Conn, "the response came on the request's connection")
				}
			})
		}
	}
}

func mustVia(t testing.TB, m sip.Message) sip.Via {
	t.Helper()
	v, err := m.TopVia()
	require.NoError(t, err)
	return v
}

// TestUDPSizeSwitch checks §18.1.1: large UDP requests go over TCP unless
// pinned.
func TestUDPSizeSwitch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   int
		pinned bool
		want   Network
	}{
		{"small", 100, false, UDP},
		{"large", MaxUDPRequest + 100, false, TCP},
		{"large pinned", MaxUDPRequest + 100, true, UDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rec, ap := listenUDPAndTCP(t)
			cli, _ := newTestLayer(t, Config{})
			listen(t, cli, UDP, "127.0.0.1:0")
			req := options(t, ap.String(), tc.body)
			f, err := cli.SendRequest(t.Context(), req, Target{Network: UDP, Addr: ap, Pinned: tc.pinned})
			require.NoError(t, err)
			require.Equal(t, tc.want, f.Network)
			in := rec.next(t)
			require.Equal(t, tc.want, in.Flow.Network)
			require.Equal(t, tc.want.ViaTransport(), mustVia(t, in.Msg).Transport)
			require.Len(t, in.Msg.Body(), tc.body)
		})
	}
}

// listenUDPAndTCP returns a layer listening on UDP and TCP at one port.
// The port is UDP's ephemeral pick; a TCP socket of another test may hold
// the same number, so it tries again with a new layer when TCP cannot bind.
func listenUDPAndTCP(t *testing.T) (*Layer, *recorder, netip.AddrPort) {
	t.Helper()
	for range 20 {
		srv, rec := newTestLayer(t, Config{})
		ap := listen(t, srv, UDP, "127.0.0.1:0")
		_, err := srv.Listen(t.Context(), TCP, ap.String())
		if err == nil {
			return srv, rec, ap
		}
		require.ErrorIs(t, err, syscall.EADDRINUSE)
		require.NoError(t, srv.Close())
	}
	t.Fatal("no port free on both UDP and TCP")
	return nil, nil, netip.AddrPort{}
}

// TestConnectionReuse: a connection the peer opened carries requests back
// to it (RFC 5923), also under its Via alias; the client reuses its pooled
// connection for a second request.
func TestConnectionReuse(t *testing.T) {
	for _, n := range []Network{TCP, WS} {
		t.Run(string(n), func(t *testing.T) {
			srv, srvRec := newTestLayer(t, Config{})
			cli, cliRec := newTestLayer(t, Config{})
			ap := listen(t, srv, n, "127.0.0.1:0")
			f1, err := cli.SendRequest(t.Context(), options(t, ap.String(), 0), Target{Network: n, Addr: ap})
			require.NoError(t, err)
			in := srvRec.next(t)
			f2, err := cli.SendRequest(t.Context(), options(t, ap.String(), 0), Target{Network: n, Addr: ap})
			require.NoError(t, err)
			require.Equal(t, f1.Conn, f2.Conn, "client pooled its connection")
			srvRec.next(t)

			// Server to client over the client's connection.
			back, err := srv.SendRequest(t.Context(), options(t, in.Flow.Remote.String(), 0), Target{Network: n, Addr: in.Flow.Remote})
			require.NoError(t, err)
			require.Equal(t, in.Flow.Conn, back.Conn)
			got := cliRec.next(t)
			require.Equal(t, f1.Conn, got.Flow.Conn)
			require.Zero(t, srv.Stats().ConnsDialed)
			require.EqualValues(t, 1, cli.Stats().ConnsDialed)
		})
	}
	t.Run("alias", func(t *testing.T) {
		srv, srvRec := newTestLayer(t, Config{})
		cli, cliRec := newTestLayer(t, Config{})
		ap := listen(t, srv, TCP, "127.0.0.1:0")
		cliAP := listen(t, cli, TCP, "127.0.0.1:0")
		req := options(t, ap.String(), 0)
		v := mustVia(t, req)
		v.Params = v.Params.Set("alias", "")
		req.SetTopVia(v)
		_, err := cli.SendRequest(t.Context(), req, Target{Network: TCP, Addr: ap})
		require.NoError(t, err)
		in := srvRec.next(t)
		vin := mustVia(t, in.Msg)
		require.Equal(t, cliAP.String(), vin.SentBy())
		back, err := srv.SendRequest(t.Context(), options(t, cliAP.String(), 0), Target{Network: TCP, Addr: cliAP})
		require.NoError(t, err)
		require.Equal(t, in.Flow.Conn, back.Conn, "alias: the sent-by reaches the peer's connection")
		cliRec.next(t)
		require.Zero(t, srv.Stats().ConnsDialed)
	})
}

// TestReliableResponseNewConnection: when the request's connection is gone
// the response goes over a new connection to received and the sent-by
// port (§18.2.2).
func TestReliableResponseNewConnection(t *testing.T) {
	srv, srvRec := newTestLayer(t, Config{})
	cli, cliRec := newTestLayer(t, Config{})
	ap := listen(t, srv, TCP, "127.0.0.1:0")
	cliAP := listen(t, cli, TCP, "127.0.0.1:0")
	f, err := cli.SendRequest(t.Context(), options(t, ap.String(), 0), Target{Network: TCP, Addr: ap})
	require.NoError(t, err)
	in := srvRec.next(t)
	require.Equal(t, strconv.Itoa(int(cliAP.Port())), strconv.Itoa(mustVia(t, in.Msg).Port))
	// The client drops its connection; the server notices.
	cli.connByID(f.Conn).close(nil)
	fe := <-srvRec.flows
	require.Equal(t, in.Flow.Conn, fe.f.Conn)
	<-cliRec.flows
	res := sip.NewResponse(in.Msg.(*sip.Request), sip.StatusOK, "")
	require.NoError(t, srv.SendResponse(t.Context(), res, in.Flow))
	got := cliRec.next(t)
	require.Equal(t, sip.StatusOK, got.Msg.(*sip.Response).StatusCode)
	require.NotEqual(t, f.Conn, got.Flow.Conn)
	require.EqualValues(t, 1, srv.Stats().ConnsDialed)
}
