package memnet_test

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

var (
	insidePrefix = netip.MustParsePrefix("10.0.0.0/24")
	publicIP     = netip.MustParseAddr("203.0.113.1")
)

func TestNATTypes(t *testing.T) {
	tests := []struct {
		typ memnet.NATType
		// Which outside endpoints may reply to the mapping created by a
		// datagram to server 192.0.2.1:5060.
		fromServer, fromServerOtherPort, fromOtherHost bool
		// Whether a second destination reuses the public port.
		samePortForNewDestination bool
	}{
		{memnet.EndpointIndependent, true, true, true, true},
		{memnet.AddressDependent, true, true, false, true},
		{memnet.PortRestricted, true, false, false, true},
		{memnet.AddressPortDependent, true, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				nat, err := n.AddNAT(insidePrefix, publicIP, tt.typ)
				require.NoError(t, err)
				require.Equal(t, tt.typ, nat.Type())

				client := listenUDP(t, n.Host(netip.MustParseAddr("10.0.0.2")), ":5060")
				server := listenUDP(t, n, "192.0.2.1:5060")
				serverOtherPort := listenUDP(t, n, "192.0.2.1:5070")
				otherHost := listenUDP(t, n, "192.0.2.2:5060")

				send(t, client, "REGISTER", addrPort(server))
				_, mapped, ok := recv(t, server)
				require.True(t, ok)
				require.Equal(t, publicIP, mapped.Addr(), "source is translated")

				for _, r := range []struct {
					from *memnet.PacketConn
					want bool
				}{
					{server, tt.fromServer},
					{serverOtherPort, tt.fromServerOtherPort},
					{otherHost, tt.fromOtherHost},
				} {
					before := n.Stats().Filtered
					send(t, r.from, "reply", mapped)
					msg, from, ok := recv(t, client)
					require.Equal(t, r.want, ok, "reply from %v", addrPort(r.from))
					if ok {
						require.Equal(t, "reply", msg)
						require.Equal(t, addrPort(r.from), from, "inside sees the real source")
					} else {
						require.Equal(t, before+1, n.Stats().Filtered)
					}
				}

				send(t, client, "OPTIONS", addrPort(otherHost))
				_, mapped2, ok := recv(t, otherHost)
				require.True(t, ok)
				require.Equal(t, tt.samePortForNewDestination, mapped == mapped2)

				// Nothing unsolicited gets in on an unmapped port.
				unused := netip.AddrPortFrom(publicIP, mapped2.Port()+100)
				send(t, server, "scan", unused)
				_, _, ok = recv(t, client)
				require.False(t, ok)

				// Inside to inside is not translated.
				peer := listenUDP(t, n.Host(netip.MustParseAddr("10.0.0.3")), ":5060")
				send(t, client, "local", addrPort(peer))
				_, from, ok := recv(t, peer)
				require.True(t, ok)
				require.Equal(t, addrPort(client), from)

				wantMappings := 1
				if !tt.samePortForNewDestination {
					wantMappings = 2
				}
				require.Len(t, nat.Mappings(), wantMappings)
			})
		})
	}
}

func TestNATMappingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		nat, err := n.AddNAT(insidePrefix, publicIP, memnet.EndpointIndependent)
		require.NoError(t, err)
		nat.SetMappingTimeout(30 * time.Second)
		client := listenUDP(t, n.Host(netip.MustParseAddr("10.0.0.2")), ":5060")
		server := listenUDP(t, n, "192.0.2.1:5060")

		send(t, client, "REGISTER", addrPort(server))
		_, mapped, ok := recv(t, server)
		require.True(t, ok)

		time.Sleep(20 * time.Second)
		send(t, server, "inbound does not refresh", mapped)
		_, _, ok = recv(t, client)
		require.True(t, ok)

		time.Sleep(10 * time.Second) // 30 s since the last outbound datagram
		send(t, server, "too late", mapped)
		_, _, ok = recv(t, client)
		require.False(t, ok)
		require.Empty(t, nat.Mappings())

		// A keepalive would have kept it; now a new mapping is made.
		send(t, client, "REGISTER", addrPort(server))
		_, mapped2, ok := recv(t, server)
		require.True(t, ok)
		require.NotEqual(t, mapped, mapped2)
		for range 5 {
			time.Sleep(25 * time.Second)
			send(t, client, "\r\n\r\n", addrPort(server)) // RFC 5626 keepalive
			_, _, ok = recv(t, server)
			require.True(t, ok)
		}
		send(t, server, "still mapped", mapped2)
		_, _, ok = recv(t, client)
		require.True(t, ok)

		nat.Flush()
		send(t, server, "after reboot", mapped2)
		_, _, ok = recv(t, client)
		require.False(t, ok)
	})
}

func TestNATHairpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, err := n.AddNAT(insidePrefix, publicIP, memnet.EndpointIndependent)
		require.NoError(t, err)
		a := listenUDP(t, n.Host(netip.MustParseAddr("10.0.0.2")), ":5060")
		b := listenUDP(t, n.Host(netip.MustParseAddr("10.0.0.3")), ":5060")
		stun := listenUDP(t, n, "192.0.2.1:3478")

		send(t, b, "binding", addrPort(stun))
		_, bPublic, ok := recv(t, stun)
		require.True(t, ok)
		send(t, a, "hairpin", bPublic)
		msg, from, ok := recv(t, b)
		require.True(t, ok)
		require.Equal(t, "hairpin", msg)
		require.Equal(t, publicIP, from.Addr(), "hairpinned datagrams carry the public source")
	})
}

func TestNestedNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		// A home NAT behind a carrier-grade NAT (RFC 6598 shared space).
		_, err := n.AddNAT(netip.MustParsePrefix("192.168.1.0/24"), netip.MustParseAddr("100.64.0.5"), memnet.PortRestricted)
		require.NoError(t, err)
		_, err = n.AddNAT(netip.MustParsePrefix("100.64.0.0/10"), publicIP, memnet.EndpointIndependent)
		require.NoError(t, err)
		phone := listenUDP(t, n.Host(netip.MustParseAddr("192.168.1.10")), ":5060")
		server := listenUDP(t, n, "192.0.2.1:5060")

		send(t, phone, "REGISTER", addrPort(server))
		_, mapped, ok := recv(t, server)
		require.True(t, ok)
		require.Equal(t, publicIP, mapped.Addr())
		send(t, server, "200 OK", mapped)
		_, from, ok := recv(t, phone)
		require.True(t, ok)
		require.Equal(t, addrPort(server), from)
	})
}

func TestNATStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		ctx := context.Background()
		nat, err := n.AddNAT(insidePrefix, publicIP, memnet.AddressPortDependent)
		require.NoError(t, err)
		ln, err := n.Listen(ctx, "tcp", "192.0.2.1:5060")
		require.NoError(t, err)
		defer ln.Close()
		client := n.Host(netip.MustParseAddr("10.0.0.2"))

		c, err := client.DialContext(ctx, "tcp", "192.0.2.1:5060")
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)
		require.Equal(t, netip.MustParseAddr("10.0.0.2"), addrPort(c).Addr())
		remote := s.RemoteAddr().(*net.TCPAddr).AddrPort()
		require.Equal(t, publicIP, remote.Addr())
		require.Equal(t, []memnet.Mapping{{Network: "tcp", Inside: addrPort(c), Remote: netip.MustParseAddrPort("192.0.2.1:5060"), Public: remote}}, nat.Mappings())

		require.NoError(t, c.Close())
		require.NoError(t, s.Close())
		require.Empty(t, nat.Mappings(), "closing releases the mapping")

		// No port forwarding: dialing the public address is refused.
		_, err = n.DialContext(ctx, "tcp", remote.String())
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
	})
}

func TestAddNATErrors(t *testing.T) {
	tests := []struct {
		name   string
		inside netip.Prefix
		public netip.Addr
		typ    memnet.NATType
		want   error
	}{
		{"invalid prefix", netip.Prefix{}, publicIP, memnet.Symmetric, memnet.ErrInvalidNAT},
		{"invalid public", insidePrefix, netip.Addr{}, memnet.Symmetric, memnet.ErrInvalidNAT},
		{"public inside", insidePrefix, netip.MustParseAddr("10.0.0.1"), memnet.Symmetric, memnet.ErrInvalidNAT},
		{"bad type", insidePrefix, publicIP, 0, memnet.ErrInvalidNAT},
		{"mixed families", insidePrefix, netip.MustParseAddr("2001:db8::1"), memnet.Symmetric, memnet.ErrInvalidNAT},
		{"same public", netip.MustParsePrefix("10.1.0.0/16"), publicIP, memnet.Symmetric, memnet.ErrNATOverlap},
		{"same prefix", insidePrefix, netip.MustParseAddr("203.0.113.2"), memnet.Symmetric, memnet.ErrNATOverlap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := memnet.New(memnet.Config{})
			defer n.Close()
			_, err := n.AddNAT(insidePrefix, publicIP, memnet.EndpointIndependent)
			require.NoError(t, err)
			_, err = n.AddNAT(tt.inside, tt.public, tt.typ)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
