package memnet_test

import (
	"context"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

// strAddr is a net.Addr that is neither *net.UDPAddr nor *net.TCPAddr.
type strAddr string

func (a strAddr) Network() string { return "udp" }
func (a strAddr) String() string  { return string(a) }

func TestWriteToAddressTypes(t *testing.T) {
	n := memnet.New(memnet.Config{})
	defer n.Close()
	a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:5060")
	for _, tt := range []struct {
		addr net.Addr
		ok   bool
	}{
		{net.UDPAddrFromAddrPort(addrPort(b)), true},
		{net.TCPAddrFromAddrPort(addrPort(b)), true},
		{strAddr("127.0.0.1:5060"), true},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 5060}, true},
		{strAddr("not an address"), false},
		{(*net.UDPAddr)(nil), false},
		{nil, false},
	} {
		before := n.Stats().Delivered
		_, err := a.WriteTo([]byte("x"), tt.addr)
		if !tt.ok {
			var ae *net.AddrError
			require.ErrorAs(t, err, &ae, "%v", tt.addr)
			continue
		}
		require.NoError(t, err, "%v", tt.addr)
		require.Equal(t, before+1, n.Stats().Delivered, "%v", tt.addr)
	}
}

func TestConditionsAreClamped(t *testing.T) {
	n := memnet.New(memnet.Config{Loss: math.NaN(), Duplicate: -1, Latency: -time.Second, MTU: -5})
	defer n.Close()
	a, b := listenUDP(t, n, "127.0.0.1:0"), listenUDP(t, n, "127.0.0.1:0")
	send(t, a, "x", addrPort(b))
	n.SetConditions(memnet.Conditions{Loss: 7})
	send(t, a, "x", addrPort(b))
	st := n.Stats()
	require.Equal(t, memnet.Stats{Sent: 2, Delivered: 1, Lost: 1}, st)
	require.Equal(t, uint64(1), st.Dropped())
}

func TestHost(t *testing.T) {
	ctx := context.Background()
	n := memnet.New(memnet.Config{})
	defer n.Close()
	v4, v6 := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("2001:db8::5")
	h := n.Host(v4, v6)
	require.Equal(t, []netip.Addr{v4, v6}, h.Addrs())

	for _, tt := range []struct{ network, address, want string }{
		{"tcp", ":5061", "192.0.2.5:5061"},
		{"tcp6", ":5061", "[2001:db8::5]:5061"},
		{"tcp", "[2001:db8::5]:5062", "[2001:db8::5]:5062"},
	} {
		ln, err := h.Listen(ctx, tt.network, tt.address)
		require.NoError(t, err)
		require.Equal(t, tt.want, ln.Addr().String())
		defer ln.Close()
	}
	c, err := h.DialContext(ctx, "tcp", "[2001:db8::5]:5062")
	require.NoError(t, err)
	require.Equal(t, v6, addrPort(c).Addr(), "dials from the address of the destination's family")
	c.Close()

	only4 := n.Host(netip.MustParseAddr("192.0.2.6"))
	_, err = only4.DialContext(ctx, "udp", "[2001:db8::5]:5062")
	require.Error(t, err)
	_, err = only4.ListenPacket(ctx, "udp6", ":0")
	require.Error(t, err)

	nat, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("198.51.100.1"), memnet.Symmetric)
	require.NoError(t, err)
	require.Equal(t, netip.MustParsePrefix("10.0.0.0/8"), nat.Inside())
	require.Equal(t, netip.MustParseAddr("198.51.100.1"), nat.Public())
	require.Equal(t, "address-and-port-dependent", memnet.Symmetric.String())
}
