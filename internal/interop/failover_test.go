//go:build interop

package interop

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// Settings of the failover tests.
const (
	// foAfter is the lines' FailoverAfter: short, to keep the tests
	// short.
	foAfter = 2 * time.Second
	// foProbe is the lines' ProbeInterval.
	foProbe = 3 * time.Second
	// foFast bounds a failover that must not wait for Timer B or F (32
	// s): FailoverAfter and then some for a loaded machine. The times
	// measured are logged; the bound only tells a fast failover from a
	// Timer B one.
	foFast = foAfter + 5*time.Second
	// foTestTimeout bounds one failover test, processes included.
	foTestTimeout = 3 * peerTestTimeout
)

// foServers starts three Kamailio instances serving example.test and a
// dnsmasq whose NAPTR and SRV records give k1 priority 10, and k2 and k3
// priority 20 with weights 60 and 40 (RFC 2782: their order is drawn at
// each resolution).
func foServers(t *testing.T, ctx context.Context) ([3]*kamailio, *dnsServer) {
	t.Helper()
	var ks [3]*kamailio
	for i, name := range []string{"k1", "k2", "k3"} {
		ks[i] = startKamailio(t, ctx, kamailioOptions{domain: testDomain, busySwitch: true, name: name})
	}
	dns := startDNS(t, ctx, []srvRecord{
		{host: "k1." + testDomain, port: ks[0].port, priority: 10},
		{host: "k2." + testDomain, port: ks[1].port, priority: 20, weight: 60},
		{host: "k3." + testDomain, port: ks[2].port, priority: 20, weight: 40},
	})
	return ks, dns
}

// newAlice starts alice, whose UA knows the domain and the DNS server
// only.
func newAlice(t *testing.T, dns *dnsServer) (*peerUA, *hopLog) {
	t.Helper()
	r, err := transport.NewDNSResolver(transport.DNSResolverConfig{Servers: []string{dns.addr()}})
	require.NoError(t, err)
	return newFailoverUA(t, "alice", ua.Config{Resolver: r, Lines: []ua.LineConfig{{
		AOR: "sip:alice@" + testDomain, Password: "alicepw", Registrar: "sip:" + testDomain,
		Manual: true, Expires: 20 * time.Second, FailoverAfter: foAfter, ProbeInterval: foProbe,
	}}})
}

// serverPort is the port of the server alice's line works through.
func serverPort(t *testing.T, p *peerUA) int {
	t.Helper()
	srv, ok := p.line().Server()
	require.True(t, ok, "the line has a server")
	return int(srv.Addr.Port())
}

// TestFailoverKamailioDNS: our UA is given the domain and a DNS server
// (dnsmasq: NAPTR, SRV, A) that points to three Kamailio instances.
// It registers at the primary; (b) when the primary answers 503 with
// Retry-After, the next server takes the call at once; (a) when the
// primary is stopped (ICMP port unreachable) or hangs (silence), calls
// and registrations reach the next server within FailoverAfter; (c) when
// the hung primary comes back, the line moves back to it within one probe
// interval and registers there.
func TestFailoverKamailioDNS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), foTestTimeout)
	defer cancel()
	ks, dns := foServers(t, ctx)
	k1 := ks[0]
	bob := bobEverywhere(t, ctx, ks[:]...)
	isBackup := func(port int) bool { return port == ks[1].port || port == ks[2].port }

	t.Run("primary", func(t *testing.T) {
		alice, hops := newAlice(t, dns)
		require.NoError(t, alice.line().Register(ctx))
		require.Equal(t, k1.port, serverPort(t, alice))
		k1.waitBinding(t, ctx, "alice", true)
		require.NotEmpty(t, dns.logLines("query[NAPTR] "+testDomain), "resolved through NAPTR")
		require.NotEmpty(t, dns.logLines("query[SRV] _sip._udp."+testDomain), "then SRV")
		id := callBob(t, ctx, alice, bob)
		require.NotEmpty(t, hops.sentTo("INVITE", id, k1.port))
		require.Len(t, hops.sentTo("INVITE", id, 0), len(hops.sentTo("INVITE", id, k1.port)), "INVITEs to k1 only")
	})

	t.Run("(b) 503 Retry-After", func(t *testing.T) {
		k1.setBusy(t, ctx, true)
		defer k1.setBusy(t, ctx, false)
		alice, hops := newAlice(t, dns)
		id := callBob(t, ctx, alice, bob)
		toK1 := hops.sentTo("INVITE", id, k1.port)
		require.Len(t, toK1, 1, "one INVITE to k1, answered 503; the challenge answer skips it (Retry-After)")
		require.NotEmpty(t, k1.logLines("REQ INVITE", id))
		first := hops.sentTo("INVITE", id, 0)[0]
		var next time.Time
		for _, p := range []int{ks[1].port, ks[2].port} {
			if ts := hops.sentTo("INVITE", id, p); len(ts) > 0 && (next.IsZero() || ts[0].Before(next)) {
				next = ts[0]
			}
		}
		require.False(t, next.IsZero(), "the call went to k2 or k3")
		t.Logf("503 from k1: the INVITE reached the next server %v after the first", next.Sub(first))
		require.Less(t, next.Sub(first), foAfter, "at once, not after FailoverAfter")
	})

	t.Run("(a) primary stopped, silent; (c) back", func(t *testing.T) {
		alice, hops := newAlice(t, dns)
		require.NoError(t, alice.line().Register(ctx))
		require.Equal(t, k1.port, serverPort(t, alice))
		alice.waitEvent(t, ctx, ua.EventRegistered, "") // this registration's

		// Hung: k1 holds its socket and answers nothing.
		k1.freeze(t)
		frozeAt := time.Now()
		start := frozeAt
		id := callBob(t, ctx, alice, bob)
		first := hops.sentTo("INVITE", id, 0)[0]
		var moved time.Time
		for _, ts := range [][]time.Time{hops.sentTo("INVITE", id, ks[1].port), hops.sentTo("INVITE", id, ks[2].port)} {
			if len(ts) > 0 && (moved.IsZero() || ts[0].Before(moved)) {
				moved = ts[0]
			}
		}
		require.False(t, moved.IsZero(), "the call went to k2 or k3")
		t.Logf("silent k1: the INVITE reached the next server %v after the first (FailoverAfter %v); Dial took %v",
			moved.Sub(first), foAfter, time.Since(start))
		require.GreaterOrEqual(t, moved.Sub(first), foAfter)
		require.Less(t, moved.Sub(first), foFast)

		// The second call and the next registration skip k1 at once
		// (dead-target memory).
		start = time.Now()
		id2 := callBob(t, ctx, alice, bob)
		require.Empty(t, hops.sentTo("INVITE", id2, k1.port), "the dead k1 is skipped")
		t.Logf("second call with k1 dead: set up in %v", time.Since(start))
		// The line's own refresh (at half the 20 s granted) goes to k2
		// or k3 at once.
		alice.waitEvent(t, ctx, ua.EventRegistered, "")
		require.True(t, isBackup(serverPort(t, alice)), "refreshed at k2 or k3")
		for _, at := range hops.sentTo("REGISTER", "", k1.port) {
			require.True(t, at.Before(frozeAt), "a REGISTER went to the hung k1")
		}
		ks[1+btoi(serverPort(t, alice) == ks[2].port)].waitBinding(t, ctx, "alice", true)

		// Back: the next probe finds it, the line moves and registers
		// there.
		k1.thaw(t)
		back := time.Now()
		ev := waitMove(t, ctx, alice)
		for ev.Move.Reason != ua.MoveProbe {
			ev = waitMove(t, ctx, alice)
		}
		t.Logf("k1 back: the line moved back %v later (%s)", time.Since(back), ev.Move)
		require.Equal(t, k1.port, int(ev.Move.To.Addr.Port()))
		require.Less(t, time.Since(back), foProbe+foFast, "within one probe interval (and the probe's answer)")
		alice.waitEvent(t, ctx, ua.EventRegistered, "")
		require.Equal(t, k1.port, serverPort(t, alice))

		// Stopped: ICMP port unreachable ends the attempt at once.
		k1.stop()
		start = time.Now()
		require.NoError(t, alice.line().Register(ctx))
		took := time.Since(start)
		t.Logf("stopped k1: the registration reached the next server in %v", took)
		require.True(t, isBackup(serverPort(t, alice)))
		require.Less(t, took, foAfter, "no wait for FailoverAfter: the port is unreachable")
		id3 := callBob(t, ctx, alice, bob)
		require.Empty(t, hops.sentTo("INVITE", id3, k1.port))
	})
}

// TestFailoverKamailioDualRegistration (case d): a line registers with
// two Kamailio instances, the primary and the alternate proxy; both hold
// the binding (kamcmd ul.dump), a call to the line through either
// reaches it, and while the primary's registration fails, the line's
// first INVITE goes straight to the alternate.
func TestFailoverKamailioDualRegistration(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), foTestTimeout)
	defer cancel()
	k1 := startKamailio(t, ctx, kamailioOptions{domain: testDomain, busySwitch: true, name: "primary"})
	k2 := startKamailio(t, ctx, kamailioOptions{domain: testDomain, busySwitch: true, name: "alternate"})
	alice, hops := newFailoverUA(t, "alice", ua.Config{
		Resolver: transport.StaticResolver{testDomain: {{Network: transport.UDP, Addr: mustAddrPort(t, k1.hostPort())}}},
		Lines: []ua.LineConfig{{
			AOR: "sip:alice@" + testDomain, Password: "alicepw", Registrar: "sip:" + testDomain,
			AlternateProxy: k2.uri(""), DualRegistration: true, Manual: true,
			FailoverAfter: foAfter, ProbeInterval: -1,
		}},
	})
	bob := bobEverywhere(t, ctx, k1, k2)
	require.NoError(t, alice.line().Register(ctx))
	st, err := alice.line().AltState()
	require.NoError(t, err)
	require.Equal(t, ua.RegRegistered, st)
	for _, k := range []*kamailio{k1, k2} {
		k.waitBinding(t, ctx, "alice", true)
		out, err := k.kamcmd(ctx, "ul.dump")
		require.NoError(t, err)
		require.Contains(t, out, "AoR: alice", "ul.dump of %s", k.hostPort())
	}

	// bob calls alice through each proxy.
	for _, k := range []*kamailio{k1, k2} {
		c, err := bob.ua.Dial(ctx, k.uri("alice"), ua.DialOptions{SDP: testSDP(9)})
		require.NoError(t, err, "call through %s", k.hostPort())
		in := alice.nextCall(t, ctx)
		require.Equal(t, c.CallID(), in.CallID())
		require.NotEmpty(t, k.logLines("REQ INVITE", c.CallID()))
		require.NoError(t, c.Hangup(ctx))
	}

	// alice's calls go through the primary first.
	id := callBob(t, ctx, alice, bob)
	require.NotEmpty(t, hops.sentTo("INVITE", id, k1.port))
	require.Empty(t, hops.sentTo("INVITE", id, k2.port))

	// The primary refuses the registration: the next call goes straight
	// to the alternate.
	k1.setBusy(t, ctx, true)
	require.Error(t, alice.line().Register(ctx))
	k1.setBusy(t, ctx, false)
	id = callBob(t, ctx, alice, bob)
	require.Empty(t, hops.sentTo("INVITE", id, k1.port), "the primary is not tried")
	require.NotEmpty(t, hops.sentTo("INVITE", id, k2.port))
	require.Empty(t, k1.logLines("REQ INVITE", id))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDialFailoverDNS: examples/dial given the domain and the DNS server
// (-registrar sip:example.test -dns) registers past a primary that
// answers 503, prints the move, and moves back (printed too) once the
// primary serves again, removing its binding at the backup.
func TestDialFailoverDNS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), foTestTimeout)
	defer cancel()
	ks, dns := foServers(t, ctx)
	k1 := ks[0]
	k1.setBusy(t, ctx, true)
	d := startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-aor", "sip:alice@"+testDomain, "-pass", "alicepw", "-registrar", "sip:"+testDomain,
		"-dns", dns.addr(), "-failover-after", foAfter.String(), "-probe-interval", foProbe.String())
	defer func() { logTails(t, d.stdout, d.stderr) }()
	k1Target := net.JoinHostPort(loopback, strconv.Itoa(k1.port)) + "/UDP"
	d.waitOutput(t, ctx, " server moved line=sip:alice@"+testDomain+": "+k1Target+" -> ")
	d.waitOutput(t, ctx, " registered line=sip:alice@"+testDomain)
	require.Contains(t, readFile(t, d.stdout), "(failover: "+net.JoinHostPort(loopback, strconv.Itoa(k1.port))+" UDP 503 Retry-After 60)")
	k1.setBusy(t, ctx, false)
	d.waitOutput(t, ctx, " -> "+k1Target+" (probe: "+k1Target+" answered OPTIONS)")
	k1.waitBinding(t, ctx, "alice", true)
	// The binding at the backup it left is removed.
	ks[1].waitBinding(t, ctx, "alice", false)
	ks[2].waitBinding(t, ctx, "alice", false)
	d.finish(t)
}
