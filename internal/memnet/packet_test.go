package memnet_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

func TestListenPacketAddresses(t *testing.T) {
	tests := []struct {
		network, address string
		wantIP           string // "" when an error is expected
		wantPort         uint16 // 0: ephemeral
	}{
		{"udp", "127.0.0.1:5060", "127.0.0.1", 5060},
		{"udp", "127.0.0.1:0", "127.0.0.1", 0},
		{"udp", "[::1]:5060", "::1", 5060},
		{"udp", "192.0.2.10:5060", "192.0.2.10", 5060},
		{"udp", "[::ffff:192.0.2.10]:5060", "192.0.2.10", 5060},
		{"udp", "localhost:5060", "127.0.0.1", 5060},
		{"udp6", "localhost:5060", "::1", 5060},
		{"udp", ":5060", "::", 5060},
		{"udp4", ":5060", "0.0.0.0", 5060},
		{"udp4", "192.0.2.1:5060", "192.0.2.1", 5060},
		{"udp4", "[2001:db8::1]:5060", "", 0},
		{"udp6", "192.0.2.1:5060", "", 0},
		{"udp", "sip.example.com:5060", "", 0},
		{"udp", "127.0.0.1", "", 0},
		{"udp", "127.0.0.1:99999", "", 0},
		{"tcp", "127.0.0.1:5060", "", 0},
		{"sctp", "127.0.0.1:5060", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address, func(t *testing.T) {
			n := memnet.New(memnet.Config{})
			defer n.Close()
			c, err := n.ListenPacket(context.Background(), tt.network, tt.address)
			if tt.wantIP == "" {
				require.Error(t, err)
				var oe *net.OpError
				require.ErrorAs(t, err, &oe)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			ua, ok := c.LocalAddr().(*net.UDPAddr)
			require.True(t, ok, "LocalAddr is %T", c.LocalAddr())
			got := ua.AddrPort()
			require.Equal(t, netip.MustParseAddr(tt.wantIP), got.Addr())
			if tt.wantPort != 0 {
				require.Equal(t, tt.wantPort, got.Port())
			} else {
				require.GreaterOrEqual(t, got.Port(), uint16(49152))
			}
		})
	}
}

func TestBindConflicts(t *testing.T) {
	tests := []struct {
		first, second string
		conflict      bool
	}{
		{"127.0.0.1:5060", "127.0.0.1:5060", true},
		{"127.0.0.1:5060", "127.0.0.2:5060", false},
		{"127.0.0.1:5060", "127.0.0.1:5061", false},
		{"0.0.0.0:5060", "127.0.0.1:5060", true},
		{"127.0.0.1:5060", "0.0.0.0:5060", true},
		{"[::]:5060", "127.0.0.1:5060", true},
		{"0.0.0.0:5060", "[::1]:5060", false},
		{"[::1]:5060", "127.0.0.1:5060", false},
	}
	for _, tt := range tests {
		t.Run(tt.first+" then "+tt.second, func(t *testing.T) {
			n := memnet.New(memnet.Config{})
			defer n.Close()
			ctx := context.Background()
			a, err := n.ListenPacket(ctx, "udp", tt.first)
			require.NoError(t, err)
			b, err := n.ListenPacket(ctx, "udp", tt.second)
			if tt.conflict {
				require.ErrorIs(t, err, syscall.EADDRINUSE)
			} else {
				require.NoError(t, err)
				b.Close()
			}
			// Once the first socket is closed the address is free again.
			require.NoError(t, a.Close())
			b, err = n.ListenPacket(ctx, "udp", tt.second)
			require.NoError(t, err)
			b.Close()
		})
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"ipv4 loopback", "127.0.0.1:5060", "127.0.0.1:0"},
		{"ipv6 loopback", "[::1]:5060", "[::1]:0"},
		{"documentation addresses", "192.0.2.10:5060", "198.51.100.7:5080"},
		{"ipv6 global", "[2001:db8::10]:5060", "[2001:db8::20]:5060"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				a, b := listenUDP(t, n, tt.a), listenUDP(t, n, tt.b)
				send(t, b, "INVITE", addrPort(a))
				msg, from, ok := recv(t, a)
				require.True(t, ok)
				require.Equal(t, "INVITE", msg)
				require.Equal(t, addrPort(b), from)

				// ReadFrom returns *net.UDPAddr, usable for WriteTo.
				buf := make([]byte, 100)
				_, err := a.WriteTo([]byte("100 Trying"), net.UDPAddrFromAddrPort(from))
				require.NoError(t, err)
				nr, addr, err := b.ReadFrom(buf)
				require.NoError(t, err)
				require.Equal(t, "100 Trying", string(buf[:nr]))
				ua, ok := addr.(*net.UDPAddr)
				require.True(t, ok)
				require.Equal(t, addrPort(a), ua.AddrPort())
				require.Equal(t, memnet.Stats{Sent: 2, Delivered: 2}, n.Stats())
			})
		})
	}
}

func TestTruncation(t *testing.T) {
	n := memnet.New(memnet.Config{})
	defer n.Close()
	a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:0")
	send(t, a, "0123456789", addrPort(b))
	buf := make([]byte, 4)
	nr, _, err := b.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, "0123", string(buf[:nr]))
}

func TestWildcardAndHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		wild := listenUDP(t, n, ":5060")
		exact := listenUDP(t, n, "192.0.2.1:5070")
		client := listenUDP(t, n.Host(netip.MustParseAddr("198.51.100.1")), ":0")
		require.Equal(t, netip.MustParseAddr("198.51.100.1"), addrPort(client).Addr())

		for _, tt := range []struct {
			dst  string
			want *memnet.PacketConn
		}{
			{"192.0.2.1:5070", exact},
			{"192.0.2.1:5060", wild},
			{"192.0.2.2:5060", wild},
			{"127.0.0.1:5060", wild},
		} {
			send(t, client, tt.dst, netip.MustParseAddrPort(tt.dst))
			msg, from, ok := recv(t, tt.want)
			require.True(t, ok, tt.dst)
			require.Equal(t, tt.dst, msg)
			require.Equal(t, addrPort(client), from)
		}

		// A wildcard socket sends from loopback.
		send(t, wild, "reply", addrPort(client))
		_, from, ok := recv(t, client)
		require.True(t, ok)
		require.Equal(t, netip.MustParseAddrPort("127.0.0.1:5060"), from)

		// A host cannot bind an address it does not own.
		_, err := n.Host(netip.MustParseAddr("198.51.100.1")).ListenPacket(context.Background(), "udp", "198.51.100.2:5060")
		require.ErrorIs(t, err, syscall.EADDRNOTAVAIL)
	})
}

func TestConnectedUDP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		ctx := context.Background()
		server := listenUDP(t, n, "192.0.2.1:5060")
		other := listenUDP(t, n, "192.0.2.1:5070")

		// Dialing succeeds without a listener, as with real UDP.
		nobody, err := n.DialContext(ctx, "udp", "192.0.2.9:5060")
		require.NoError(t, err)
		_, err = nobody.Write([]byte("lost"))
		require.NoError(t, err)
		require.NoError(t, nobody.Close())
		require.Equal(t, uint64(1), n.Stats().Unreachable)

		conn, err := n.Host(netip.MustParseAddr("198.51.100.1")).DialContext(ctx, "udp", "192.0.2.1:5060")
		require.NoError(t, err)
		defer conn.Close()
		require.Equal(t, "192.0.2.1:5060", conn.RemoteAddr().String())
		require.Equal(t, netip.MustParseAddr("198.51.100.1"), addrPort(conn).Addr())

		_, err = conn.Write([]byte("REGISTER"))
		require.NoError(t, err)
		msg, from, ok := recv(t, server)
		require.True(t, ok)
		require.Equal(t, "REGISTER", msg)
		require.Equal(t, addrPort(conn), from)

		// Only the connected peer gets through.
		send(t, other, "spoof", from)
		send(t, server, "200 OK", from)
		buf := make([]byte, 64)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
		nr, err := conn.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "200 OK", string(buf[:nr]))

		pc := conn.(*memnet.PacketConn)
		_, err = pc.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(addrPort(other)))
		require.ErrorIs(t, err, net.ErrWriteToConnected)
		_, err = server.Write([]byte("x"))
		require.ErrorIs(t, err, syscall.EDESTADDRREQ)
		require.Nil(t, server.RemoteAddr())
	})
}

func TestErrorsAfterClose(t *testing.T) {
	n := memnet.New(memnet.Config{})
	c := listenUDP(t, n, "127.0.0.1:0")
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), net.ErrClosed)
	_, _, err := c.ReadFrom(make([]byte, 10))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = c.WriteTo([]byte("x"), c.LocalAddr())
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, c.SetDeadline(time.Now()), net.ErrClosed)

	require.NoError(t, n.Close())
	require.NoError(t, n.Close())
	_, err = n.ListenPacket(context.Background(), "udp", "127.0.0.1:0")
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = n.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.ErrorIs(t, err, net.ErrClosed)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = memnet.New(memnet.Config{}).ListenPacket(ctx, "udp", "127.0.0.1:0")
	require.ErrorIs(t, err, context.Canceled)
}

func TestFamilyMismatch(t *testing.T) {
	n := memnet.New(memnet.Config{})
	defer n.Close()
	c := listenUDP(t, n, "127.0.0.1:0")
	_, err := c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("[::1]:5060"))
	require.ErrorIs(t, err, syscall.EAFNOSUPPORT)
	_, err = c.WriteTo([]byte("x"), nil)
	var ae *net.AddrError
	require.ErrorAs(t, err, &ae)
}

func TestQueueLen(t *testing.T) {
	const queue, extra = 8, 5
	n := memnet.New(memnet.Config{QueueLen: queue})
	defer n.Close()
	a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:0")
	for range queue + extra {
		send(t, a, "x", addrPort(b))
	}
	st := n.Stats()
	require.Equal(t, uint64(queue), st.Delivered)
	require.Equal(t, uint64(extra), st.QueueFull)
	// Reading frees room.
	_, _, err := b.ReadFrom(make([]byte, 1))
	require.NoError(t, err)
	send(t, a, "x", addrPort(b))
	require.Equal(t, uint64(queue+1), n.Stats().Delivered)
}

func TestMTU(t *testing.T) {
	for _, tt := range []struct {
		mtu, size int
		delivered bool
	}{
		{0, 65535, true},
		{0, 65536, false},
		{1500, 1500, true},
		{1500, 1501, false},
		{1500, 0, true},
	} {
		n := memnet.New(memnet.Config{MTU: tt.mtu})
		a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:0")
		nw, err := a.WriteToUDPAddrPort(make([]byte, tt.size), addrPort(b))
		require.NoError(t, err, "a dropped datagram still counts as written")
		require.Equal(t, tt.size, nw)
		st := n.Stats()
		if tt.delivered {
			require.Equal(t, memnet.Stats{Sent: 1, Delivered: 1}, st, "mtu %d size %d", tt.mtu, tt.size)
		} else {
			require.Equal(t, memnet.Stats{Sent: 1, TooBig: 1}, st, "mtu %d size %d", tt.mtu, tt.size)
		}
		n.Close()
	}
}

func TestLinkConditions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{Latency: 10 * time.Millisecond})
		defer n.Close()
		a := listenUDP(t, n, "10.0.0.1:5060")
		b := listenUDP(t, n, "10.0.1.1:5060")
		c := listenUDP(t, n, "10.0.2.1:5060")
		n.SetLink(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.0.1.0/24"),
			memnet.Conditions{Latency: 200 * time.Millisecond})
		n.SetLink(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.0.2.0/24"),
			memnet.Conditions{Loss: 1})

		for _, tt := range []struct {
			from, to *memnet.PacketConn
			delay    time.Duration // < 0: lost
		}{
			{a, b, 200 * time.Millisecond},
			{b, a, 10 * time.Millisecond}, // links are directional
			{a, c, -1},
			{c, a, 10 * time.Millisecond},
		} {
			start := time.Now()
			send(t, tt.from, "x", addrPort(tt.to))
			_, _, ok := recv(t, tt.to)
			if tt.delay < 0 {
				require.False(t, ok)
				continue
			}
			require.True(t, ok)
			require.Equal(t, tt.delay, time.Since(start))
		}

		n.ClearLinks()
		start := time.Now()
		send(t, a, "x", addrPort(b))
		_, _, ok := recv(t, b)
		require.True(t, ok)
		require.Equal(t, 10*time.Millisecond, time.Since(start))

		n.SetConditions(memnet.Conditions{Latency: 500 * time.Millisecond})
		start = time.Now()
		send(t, a, "x", addrPort(b))
		_, _, ok = recv(t, b)
		require.True(t, ok)
		require.Equal(t, 500*time.Millisecond, time.Since(start))
	})
}

func TestCloseUnblocksReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		c := listenUDP(t, n, "127.0.0.1:0")
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				_, _, err := c.ReadFrom(make([]byte, 10))
				errs <- err
			}()
		}
		synctest.Wait()
		require.Empty(t, errs)
		require.NoError(t, n.Close()) // closes the socket too
		for range 3 {
			err := <-errs
			require.ErrorIs(t, err, net.ErrClosed)
			var oe *net.OpError
			require.True(t, errors.As(err, &oe))
			require.Equal(t, "read", oe.Op)
		}
	})
}
