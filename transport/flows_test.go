package transport

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

// Connect opens (or reuses) the flow a client without a listener then
// sends on: the request leaves on the same connection, its Via sent-by the
// connection's local address.
func TestConnectReusedBySendRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := memnet.New(memnet.Config{})
		defer mn.Close()
		srv, srec := newTestLayer(t, Config{Net: mn})
		addr := listen(t, srv, TCP, "192.0.2.10:5060")
		cli, _ := newTestLayer(t, Config{Net: mn})
		require.False(t, cli.HasListener(TCP))
		_, err := cli.Connect(t.Context(), Target{Network: UDP, Addr: addr})
		require.ErrorIs(t, err, ErrKeepaliveUnsupported)

		f, err := cli.Connect(t.Context(), Target{Network: TCP, Addr: addr})
		require.NoError(t, err)
		require.True(t, cli.FlowOpen(f))
		again, err := cli.Connect(t.Context(), Target{Network: TCP, Addr: addr})
		require.NoError(t, err)
		require.Equal(t, f, again, "one connection")
		req := options(t, addr.String(), 0)
		sent, err := cli.SendRequest(t.Context(), req, Target{Network: TCP, Addr: addr})
		require.NoError(t, err)
		require.Equal(t, f, sent)
		synctest.Wait()
		in, ok := srec.tryNext()
		require.True(t, ok)
		v, err := in.Msg.TopVia()
		require.NoError(t, err)
		require.Equal(t, int(f.Local.Port()), v.Port)
	})
}

// Ping expects a pong within DeadFlowTimeout: a peer that never answers
// kills the flow (ErrDeadFlow to OnFlowClosed); one that answers keeps it.
func TestPingDeadFlow(t *testing.T) {
	for _, answer := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "silent"}[answer], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mn := memnet.New(memnet.Config{})
				defer mn.Close()
				ln, err := mn.Listen(t.Context(), "tcp", "192.0.2.10:5060")
				require.NoError(t, err)
				defer ln.Close()
				var wg sync.WaitGroup
				defer wg.Wait()
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					buf := make([]byte, 64)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						if answer && n > 0 {
							_, _ = c.Write([]byte("\r\n"))
						}
					}
				}()
				closed := make(chan error, 1)
				cli, _ := newTestLayer(t, Config{Net: mn, OnFlowClosed: func(_ Flow, err error) { closed <- err }})
				f, err := cli.Connect(t.Context(), Target{Network: TCP, Addr: netip.MustParseAddrPort("192.0.2.10:5060")})
				require.NoError(t, err)
				require.NoError(t, cli.Ping(f))
				time.Sleep(DefaultDeadFlowTimeout + time.Second)
				synctest.Wait()
				if answer {
					require.True(t, cli.FlowOpen(f))
					require.Zero(t, cli.Stats().DeadFlows)
					require.NoError(t, cli.Close())
					return
				}
				select {
				case err := <-closed:
					require.ErrorIs(t, err, ErrDeadFlow)
				default:
					t.Fatal("no flow closed")
				}
				require.False(t, cli.FlowOpen(f))
				require.ErrorIs(t, cli.Ping(f), ErrUnreachable)
			})
		})
	}
}

// STUN on a SIP UDP socket is told apart by its first byte and handed to
// OnSTUN; SendDatagram answers from the same socket.
func TestSTUNOnSIPSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := memnet.New(memnet.Config{})
		defer mn.Close()
		got := make(chan []byte, 1)
		var l *Layer
		l, rec := newTestLayer(t, Config{Net: mn, OnSTUN: func(f Flow, b []byte) {
			got <- b
			_ = l.SendDatagram(f, []byte{1, 1, 0, 0})
		}})
		addr := listen(t, l, UDP, "192.0.2.10:5060")
		pc, err := mn.ListenPacket(t.Context(), "udp", "192.0.2.1:4000")
		require.NoError(t, err)
		defer pc.Close()
		req := make([]byte, 20)
		req[1] = 1                                    // binding request
		copy(req[4:], []byte{0x21, 0x12, 0xa4, 0x42}) // the magic cookie
		_, err = pc.WriteTo(req, net.UDPAddrFromAddrPort(addr))
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, req, <-got)
		_, ok := rec.tryNext()
		require.False(t, ok, "not SIP")
		require.Zero(t, l.Stats().MalformedDatagrams)
		// A low first byte alone does not make STUN: junk without the
		// cookie, or whose length field disagrees, is a malformed datagram,
		// counted (issue 21: every malformed message counted).
		noCookie := make([]byte, 20)
		badLen := append([]byte(nil), req...)
		badLen[3] = 8
		for _, junk := range [][]byte{noCookie, badLen} {
			_, err = pc.WriteTo(junk, net.UDPAddrFromAddrPort(addr))
			require.NoError(t, err)
		}
		synctest.Wait()
		require.Len(t, got, 0, "junk is not handed to OnSTUN")
		require.Equal(t, uint64(2), l.Stats().MalformedDatagrams)
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(time.Second)))
		b := make([]byte, 16)
		n, _, err := pc.ReadFrom(b)
		require.NoError(t, err)
		require.Equal(t, []byte{1, 1, 0, 0}, b[:n])
		require.Error(t, l.SendDatagram(Flow{Network: TCP}, nil))
	})
}

// A transport=ws target (RFC 7118 §10.3: "ws" is the one URI value; a
// proxy's Record-Route for its WSS socket says it) rides the secure
// WebSocket connection already open to that address rather than dialing
// plain WebSocket to a TLS port; with no connection at all it dials WS.
func TestWSTargetRidesWSSConnection(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	tests := []struct {
		name    string
		openWSS bool
		want    Network
	}{
		{name: "WSS connection open: reused", openWSS: true, want: WSS},
		{name: "none open: plain WS dialed", openWSS: false, want: WS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, srec := newTestLayer(t, Config{TLS: srvTLS})
			wssAddr := listen(t, srv, WSS, "127.0.0.1:0")
			wsAddr := listen(t, srv, WS, "127.0.0.1:0")
			cli, _ := newTestLayer(t, Config{ClientTLS: cliTLS})
			dst := wsAddr
			if tc.openWSS {
				dst = wssAddr
				f, err := cli.Connect(t.Context(), Target{Network: WSS, Addr: wssAddr})
				require.NoError(t, err)
				sent, err := cli.SendRequest(t.Context(), options(t, wssAddr.String(), 0), Target{Network: WS, Addr: wssAddr})
				require.NoError(t, err)
				require.Equal(t, f, sent, "the WSS connection")
			} else {
				_, err := cli.SendRequest(t.Context(), options(t, wsAddr.String(), 0), Target{Network: WS, Addr: wsAddr})
				require.NoError(t, err)
			}
			in := srec.next(t)
			require.Equal(t, tc.want, in.Flow.Network)
			require.Equal(t, dst.Port(), in.Flow.Local.Port())
		})
	}
}
