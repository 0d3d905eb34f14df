package ua

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
)

func TestContactCache(t *testing.T) {
	tests := []struct {
		name, user, at string
		n              transport.Network
		want           string
	}{
		{"UDP", "alice", "192.0.2.1:5060", transport.UDP, "<sip:alice@192.0.2.1:5060>"},
		{"TCP", "alice", "192.0.2.1:5060", transport.TCP, "<sip:alice@192.0.2.1:5060;transport=tcp>"},
		{"mapped IPv4", "bob", "[::ffff:192.0.2.1]:5070", transport.UDP, "<sip:bob@192.0.2.1:5070>"},
		{"IPv6", "bob", "[2001:db8::1]:5060", transport.UDP, "<sip:bob@[2001:db8::1]:5060>"},
		{"no user", "", "192.0.2.1:5060", transport.UDP, "<sip:192.0.2.1:5060>"},
	}
	var c contactCache
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := netip.MustParseAddrPort(tt.at)
			a, err := c.at(tt.user, at, tt.n)
			require.NoError(t, err)
			require.Equal(t, tt.want, a.String())
			direct, err := makeContact(tt.user, hostPort(at.Addr().Unmap().String(), int(at.Port())), tt.n)
			require.NoError(t, err)
			require.Equal(t, direct, a, "same as formatting it afresh")
			again, err := c.at(tt.user, at, tt.n)
			require.NoError(t, err)
			require.Equal(t, a, again)
			require.Zero(t, testing.AllocsPerRun(20, func() { _, _ = c.at(tt.user, at, tt.n) }), "a hit allocates nothing")
		})
	}
	t.Run("bounded", func(t *testing.T) {
		var c contactCache
		at := netip.MustParseAddrPort("192.0.2.1:5060")
		for i := range contactCacheSize + 10 {
			a, err := c.at(fmt.Sprintf("u%d", i), at, transport.UDP)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("<sip:u%d@192.0.2.1:5060>", i), a.String())
		}
		require.Len(t, c.m, contactCacheSize)
	})
	t.Run("bad user is an error, not cached", func(t *testing.T) {
		var c contactCache
		_, err := c.at("a b", netip.MustParseAddrPort("192.0.2.1:5060"), transport.UDP)
		require.ErrorIs(t, err, ErrBadTarget)
		require.Empty(t, c.m)
	})
}
