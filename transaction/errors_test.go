package transaction_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// TestTimeoutErrorText: the message names the peer, the transport and the
// time waited; without a peer it names the timer as before.
func TestTimeoutErrorText(t *testing.T) {
	to := netip.MustParseAddrPort("127.0.0.1:5099")
	for _, tc := range []struct {
		err  transaction.TimeoutError
		want string
	}{
		{transaction.TimeoutError{Timer: "B", Network: transport.UDP, Addr: to, Waited: 32 * time.Second},
			"no response from 127.0.0.1:5099 over UDP in 32 s"},
		{transaction.TimeoutError{Timer: "F", Network: transport.TLS, Addr: to, Waited: 6400 * time.Millisecond},
			"no response from 127.0.0.1:5099 over TLS in 6.4 s"},
		{transaction.TimeoutError{Timer: "F", Network: transport.UDP, Addr: to, Waited: 640 * time.Millisecond},
			"no response from 127.0.0.1:5099 over UDP in 640 ms"},
		{transaction.TimeoutError{Timer: "H", Network: transport.UDP, Addr: to, Waited: 32 * time.Second},
			"no ACK from 127.0.0.1:5099 over UDP in 32 s"},
		{transaction.TimeoutError{Timer: "CANCEL", Network: transport.WS, Addr: to, Waited: 32 * time.Second},
			"no final response after CANCEL from 127.0.0.1:5099 over WS in 32 s"},
		{transaction.TimeoutError{Timer: "B", Addr: to}, "no response from 127.0.0.1:5099"},
		{transaction.TimeoutError{Timer: "B"}, "transaction: timer B expired"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := &tc.err
			require.EqualError(t, err, tc.want)
			require.ErrorIs(t, err, transaction.ErrTimeout)
		})
	}
}

// TestTimeoutErrorFields: a client transaction that times out says where
// its request went, over what and for how long, with its timer.
func TestTimeoutErrorFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method sip.Method
		target func() transport.Target
		t1     time.Duration
		timer  string
		text   string
	}{
		{"OPTIONS over UDP", sip.OPTIONS, udp, 0, "F", "no response from 10.0.0.2:5060 over UDP in 32 s"},
		{"INVITE over TCP", sip.INVITE, tcp, 0, "B", "no response from 10.0.0.2:5060 over TCP in 32 s"},
		{"short T1", sip.INVITE, udp, 100 * time.Millisecond, "B", "no response from 10.0.0.2:5060 over UDP in 6.4 s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{}, nil, func(c, _ *transaction.Config) { c.Timers.T1 = tc.t1 })
				p.w.blackhole[serverAddr] = true
				tx, err := p.client.Request(t.Context(), newReq(tc.method), tc.target())
				require.NoError(t, err)
				require.Empty(t, collect(tx))
				err = tx.Err()
				require.EqualError(t, err, tc.text)
				require.ErrorIs(t, err, transaction.ErrTimeout)
				var te *transaction.TimeoutError
				require.ErrorAs(t, err, &te)
				require.Equal(t, tc.timer, te.Timer)
				require.Equal(t, tc.method, te.Method)
				require.Equal(t, serverAddr, te.Addr)
				require.Equal(t, tc.target().Network, te.Network)
				require.Equal(t, 64*(transaction.Timers{T1: tc.t1}).A(), te.Waited)
			})
		})
	}
}

// TestPortUnreachableEndsTransaction: over a real loopback socket, a
// request to a port nothing listens on ends with the transport's typed
// error as soon as the ICMP port unreachable is read (Linux), not at
// Timer B or F.
func TestPortUnreachableEndsTransaction(t *testing.T) {
	if !icmpErrorsRead {
		t.Skip("ICMP errors are read on Linux only")
	}
	tp, err := transport.New(transport.Config{})
	require.NoError(t, err)
	defer tp.Close()
	l, err := transaction.New(tp, transaction.Config{})
	require.NoError(t, err)
	defer l.Close()
	_, err = tp.Listen(t.Context(), transport.UDP, "127.0.0.1:0")
	require.NoError(t, err)

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	dst := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	require.NoError(t, pc.Close())

	for _, m := range []sip.Method{sip.OPTIONS, sip.INVITE} {
		t.Run(string(m), func(t *testing.T) {
			// The deadline fails the test long before Timer B or F.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req := newReq(m)
			req.URI.Host, req.URI.Port = "127.0.0.1", int(dst.Port())
			tx, err := l.Request(ctx, req, transport.Target{Network: transport.UDP, Addr: dst})
			require.NoError(t, err)
			_, err = tx.Final(ctx)
			require.ErrorIs(t, err, transaction.ErrTransport)
			require.ErrorIs(t, err, transport.ErrPortUnreachable)
			require.ErrorIs(t, err, transport.ErrUnreachable)
			var ue *transport.UnreachableError
			require.ErrorAs(t, err, &ue)
			require.Equal(t, dst, ue.Addr)
			require.ErrorContains(t, err, "nothing listens on "+dst.String()+" over UDP")
		})
	}
}

// TestTransportErrorText: a transport error that names its target is the
// whole message; others keep the layer's prefix.
func TestTransportErrorText(t *testing.T) {
	dst := netip.MustParseAddrPort("127.0.0.1:5099")
	for _, tc := range []struct {
		cause error
		want  string
	}{
		{&transport.UnreachableError{Network: transport.UDP, Addr: dst, Err: transport.ErrPortUnreachable},
			"nothing listens on 127.0.0.1:5099 over UDP (ICMP port unreachable)"},
		{&transport.SourceError{Network: transport.UDP, Local: netip.MustParseAddrPort("127.0.0.1:5060"), Addr: netip.MustParseAddrPort("192.0.2.1:5060")},
			"cannot reach 192.0.2.1:5060 from a socket bound to 127.0.0.1"},
		{transport.ErrClosed, "transaction: transport failure: transport: closed"},
		{nil, "transaction: transport failure"},
	} {
		err := &transaction.TransportError{Err: tc.cause}
		require.EqualError(t, err, tc.want)
		require.ErrorIs(t, err, transaction.ErrTransport)
	}
}
