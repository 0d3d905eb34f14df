package transport

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
)

const badHeaderRequest = "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: bad1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\nContact: <sip:a@192.0.2.1;>>\r\n\r\n"

// TestFaultyPeers runs a misbehaving peer next to a well-behaved one: the
// layer answers what it can, drops the bad peer and loses none of the good
// peer's messages.
func TestFaultyPeers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		network  Network
		bad      string
		closeMid bool
		want400  bool
	}{
		{"closes mid-message", TCP, "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;bra", true, false},
		{"garbage", TCP, "\x16\x03\x01 this is not SIP at all\r\n\r\n", false, false},
		{"malformed header gets 400", TCP, badHeaderRequest, false, true},
		{"10 MB Content-Length", TCP, "MESSAGE sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK2\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\nContent-Length: 10485760\r\n\r\nxxxx", false, false},
		{"garbage datagram", UDP, "\x00\x01garbage\r\n\r\n", false, false},
		{"malformed datagram gets 400", UDP, strings.ReplaceAll(badHeaderRequest, "TCP", "UDP"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newTestLayer(t, Config{})
			good, _ := newTestLayer(t, Config{})
			ap := listen(t, srv, tc.network, "127.0.0.1:0")
			if tc.network == UDP {
				listen(t, good, UDP, "127.0.0.1:0")
			}
			const n = 50
			var wg sync.WaitGroup
			wg.Go(func() {
				for range n {
					_, err := good.SendRequest(context.Background(), options(t, ap.String(), 0), Target{Network: tc.network, Addr: ap})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
			bad, err := net.Dial(string(tc.network), ap.String())
			require.NoError(t, err)
			defer bad.Close()
			_, err = bad.Write([]byte(tc.bad))
			require.NoError(t, err)
			if tc.closeMid {
				require.NoError(t, bad.Close())
			}
			if tc.want400 {
				require.NoError(t, bad.SetReadDeadline(time.Now().Add(10*time.Second)))
				buf := make([]byte, 4096)
				k, err := bad.Read(buf)
				require.NoError(t, err)
				m, err := sip.Parse(buf[:k])
				require.NoError(t, err)
				require.Equal(t, 400, m.(*sip.Response).StatusCode)
			}
			if tc.network != UDP && !tc.closeMid {
				// The layer closes the connection.
				require.NoError(t, bad.SetReadDeadline(time.Now().Add(10*time.Second)))
				_, err := bufio.NewReader(bad).ReadString(0)
				require.Error(t, err)
				require.NotErrorIs(t, err, context.DeadlineExceeded)
			}
			wg.Wait()
			for range n {
				in := rec.next(t)
				require.Equal(t, sip.OPTIONS, in.Msg.(*sip.Request).Method)
			}
			if tc.network == UDP {
				// The garbage datagram may be read after the good ones.
				require.Eventually(t, func() bool { return srv.Stats().MalformedDatagrams > 0 }, 10*time.Second, time.Millisecond)
			}
			st := srv.Stats()
			if tc.network == UDP {
				require.EqualValues(t, 1, st.MalformedDatagrams)
			} else if !tc.closeMid {
				require.EqualValues(t, 1, st.MalformedStream)
			}
			if tc.want400 {
				require.EqualValues(t, 1, st.BadRequestsSent)
			}
		})
	}
}

// TestConnectionFlood opens 10,000 connections against MaxConns: those
// beyond the limit are closed at once, and the good peer's flow keeps
// working.
func TestConnectionFlood(t *testing.T) {
	mn := memnet.New(memnet.Config{Backlog: 16384})
	defer mn.Close()
	const maxConns = 64
	srv, rec := newTestLayer(t, Config{Net: mn, MaxConns: maxConns, MaxConnsPerListener: maxConns})
	good, _ := newTestLayer(t, Config{Net: mn})
	ap := listen(t, srv, TCP, "10.0.0.1:5060")
	_, err := good.SendRequest(t.Context(), options(t, ap.String(), 0), Target{Network: TCP, Addr: ap})
	require.NoError(t, err)
	rec.next(t)

	attacker := mn.Host(netip.MustParseAddr("10.0.0.66"))
	const flood = 10000
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range flood {
		c, err := attacker.DialContext(t.Context(), "tcp", ap.String())
		if err != nil {
			continue // refused: backlog full
		}
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool {
		return srv.Stats().ConnsRefused >= uint64(len(conns)-(maxConns-1))
	}, 10*time.Second, 5*time.Millisecond)
	require.LessOrEqual(t, srv.nconns.Load(), int64(maxConns))
	for range 20 {
		_, err := good.SendRequest(t.Context(), options(t, ap.String(), 0), Target{Network: TCP, Addr: ap})
		require.NoError(t, err)
	}
	for range 20 {
		rec.next(t)
	}
}
