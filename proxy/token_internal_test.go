package proxy

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
)

// A flow token names the flow it was made for and nothing else: its
// round trip gives the target back; a token changed in any character,
// cut short, or made under another key is refused.
func TestFlowTokenRoundTrip(t *testing.T) {
	s := &Server{tokenKey: []byte("key one")}
	other := &Server{tokenKey: []byte("key two")}
	for _, target := range []transport.Target{
		{Network: transport.UDP, Addr: netip.MustParseAddrPort("192.0.2.7:5060")},
		{Network: transport.TLS, Addr: netip.MustParseAddrPort("[2001:db8::1]:5061")},
		{Network: transport.WSS, Addr: netip.MustParseAddrPort("198.51.100.1:443")},
	} {
		tok := s.flowToken(target)
		require.Len(t, tok, 39)
		got, ok := s.parseFlowToken(tok)
		require.True(t, ok, tok)
		require.Equal(t, target, got)
		require.Equal(t, tok, s.flowToken(target), "the same target, the same token")
		_, ok = other.parseFlowToken(tok)
		require.False(t, ok, "another key's token")
		for i := range tok {
			b := []byte(tok)
			b[i] ^= 1
			if b[i] == '_' || b[i] == '-' || (b[i] >= '0' && b[i] <= '9') || (b[i]|0x20 >= 'a' && b[i]|0x20 <= 'z') {
				_, ok = s.parseFlowToken(string(b))
				require.False(t, ok, "token %s changed at %d", tok, i)
			}
		}
		_, ok = s.parseFlowToken(tok[:len(tok)-1])
		require.False(t, ok, "a cut token")
		_, ok = s.parseFlowToken(tok + "AA")
		require.False(t, ok, "a longer token")
	}
}
