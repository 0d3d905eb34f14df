package proxy_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// BenchmarkProxyCall measures whole calls (INVITE, 100, 180, 200, ACK,
// BYE, 200) through the stateful, record-routing proxy between two of our
// UAs, over loopback UDP on real sockets: its allocations per call are the
// three parties' together; a CPU profile focused on package proxy
// (-cpuprofile, pprof -focus) shows the proxy's own share. issue 19
// compares the proxy's CPU per call with Kamailio's (scripts/proxy-load.sh).
func BenchmarkProxyCall(b *testing.B) {
	tp, err := transport.New(transport.Config{})
	require.NoError(b, err)
	defer tp.Close()
	at := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), testenv.FreeUDPPorts(b, netip.MustParseAddr("127.0.0.1"), 1))
	self := at.String()
	srv, err := proxy.New(tp, proxy.Config{Domains: []string{domain}, Self: []string{self}, Users: users,
		Location: proxy.NewMemoryLocation(), Resolver: transport.StaticResolver{}})
	require.NoError(b, err)
	defer srv.Close()
	_, err = tp.Listen(context.Background(), transport.UDP, self)
	require.NoError(b, err)
	res := transport.StaticResolver{domain: {{Network: transport.UDP, Addr: at}}}
	mk := func(user string, onCall func(context.Context, *ua.IncomingCall)) *ua.UA {
		u, err := ua.New(ua.Config{
			Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
			Resolver: res, Media: ua.MediaConfig{DisableMedia: true}, OnCall: onCall,
			Lines: []ua.LineConfig{{AOR: "sip:" + user + "@" + domain, Password: users[user].Password,
				Registrar: "sip:" + domain}},
		})
		require.NoError(b, err)
		return u
	}
	bob := mk("bob", func(_ context.Context, ic *ua.IncomingCall) {
		_ = ic.Ring()
		_, _ = ic.Answer([]byte(testSDP))
	})
	defer bob.Close()
	alice := mk("alice", nil)
	defer alice.Close()
	for _, u := range []*ua.UA{alice, bob} {
		require.NoError(b, u.Lines()[0].Register(context.Background()))
	}
	line := alice.Lines()[0]
	sdp := []byte(testSDP)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := alice.Dial(b.Context(), "sip:bob@"+domain, ua.DialOptions{SDP: sdp, Line: line})
			if err != nil {
				b.Error(err)
				return
			}
			if err := c.Hangup(b.Context()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
