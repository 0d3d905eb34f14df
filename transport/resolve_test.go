package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// resolveTestServer is a DNS server on 127.0.0.1 (UDP and TCP on the same
// random port) that serves a fixed zone and counts the queries it gets.
type resolveTestServer struct {
	t       testing.TB
	addr    string
	servers []*dns.Server
	wg      sync.WaitGroup
	once    sync.Once

	zone  map[string][]dns.RR // "name TYPE" → records
	names map[string]bool     // owner names that exist
	soa   dns.RR

	mu      sync.Mutex
	queries map[string]int // "name TYPE" → queries received
	tcp     int            // queries received over TCP
}

// truncatedName is answered with TC set over UDP, so the client must retry
// over TCP.
const truncatedName = "big.example.test."

func newResolveTestServer(t testing.TB, records ...string) *resolveTestServer {
	t.Helper()
	// Registered first, so it runs after the server's Close. Not in a
	// benchmark, whose runner's goroutines it would take for leaks
	// (TestMain checks the whole run).
	if _, bench := t.(*testing.B); !bench {
		t.Cleanup(func() { goleak.VerifyNone(t) })
	}
	s := &resolveTestServer{
		t:       t,
		zone:    map[string][]dns.RR{},
		names:   map[string]bool{},
		queries: map[string]int{},
	}
	soa, err := dns.NewRR("example.test. 3600 IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300")
	require.NoError(t, err)
	s.soa = soa
	for _, r := range records {
		rr, err := dns.NewRR(r)
		require.NoError(t, err, r)
		h := rr.Header()
		key := strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype]
		s.zone[key] = append(s.zone[key], rr)
		s.names[strings.ToLower(h.Name)] = true
	}

	var pc net.PacketConn
	var ln net.Listener
	for range 20 { // find a port free for both UDP and TCP
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close()
	}
	require.NoError(t, err)
	s.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)},
		{Listener: ln, Handler: dns.HandlerFunc(s.serve)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		s.servers = append(s.servers, srv)
		s.wg.Go(func() { _ = srv.ActivateAndServe() })
		<-started
	}
	t.Cleanup(s.Close)
	return s
}

func (s *resolveTestServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	key := name + " " + dns.TypeToString[q.Qtype]
	_, overTCP := w.RemoteAddr().(*net.TCPAddr)
	s.mu.Lock()
	s.queries[key]++
	if overTCP {
		s.tcp++
	}
	s.mu.Unlock()
	switch {
	case name == truncatedName && !overTCP:
		m.Truncated = true
	case s.zone[key] != nil:
		m.Answer = s.zone[key]
	case s.names[name]:
		m.Ns = []dns.RR{s.soa}
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{s.soa}
	}
	_ = w.WriteMsg(m)
}

// count returns the queries received for name and type ("A", "SRV", …).
func (s *resolveTestServer) count(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[dns.Fqdn(strings.ToLower(name))+" "+qtype]
}

// total returns how many queries the server received.
func (s *resolveTestServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.queries {
		n += c
	}
	return n
}

// Close stops the servers and waits for their goroutines.
func (s *resolveTestServer) Close() {
	s.once.Do(func() {
		for _, srv := range s.servers {
			require.NoError(s.t, srv.Shutdown())
		}
		s.wg.Wait()
	})
}

func (s *resolveTestServer) resolver(t testing.TB, cfg transport.DNSResolverConfig) *transport.DNSResolver {
	t.Helper()
	cfg.Servers = []string{s.addr}
	r, err := transport.NewDNSResolver(cfg)
	require.NoError(t, err)
	return r
}

// scriptedRand returns the values it was given (modulo n) and records the
// n it was asked for.
type scriptedRand struct {
	vals []uint64
	ns   []uint64
}

func (s *scriptedRand) Uint64N(n uint64) uint64 {
	s.ns = append(s.ns, n)
	if len(s.vals) == 0 {
		return 0
	}
	v := s.vals[0] % n
	s.vals = s.vals[1:]
	return v
}

// splitMix is a seeded SplitMix64 generator.
type splitMix struct{ s uint64 }

func (r *splitMix) Uint64N(n uint64) uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z ^ (z >> 31)) % n
}

func mustURI(t *testing.T, s string) sip.URI {
	t.Helper()
	u, err := sip.ParseURI(s)
	require.NoError(t, err)
	return u
}

func tgt(n transport.Network, addr, serverName string) transport.Target {
	return transport.Target{Network: n, Addr: netip.MustParseAddrPort(addr), ServerName: serverName}
}

// resolveZone is the zone most tests share.
var resolveZone = []string{
	// NAPTR: TCP first, then UDP, then TLS; SCTP and a non-terminal
	// record are skipped.
	`example.test. 3600 IN NAPTR 10 20 "s" "SIP+D2U" "" _sip._udp.example.test.`,
	`example.test. 3600 IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp.example.test.`,
	`example.test. 3600 IN NAPTR 20 10 "s" "SIPS+D2T" "" _sips._tcp.example.test.`,
	`example.test. 3600 IN NAPTR 5 10 "s" "SIP+D2S" "" _sip._sctp.example.test.`,
	`example.test. 3600 IN NAPTR 5 10 "" "SIP+D2U" "" other.example.test.`,
	`_sip._udp.example.test. 3600 IN SRV 10 0 5060 sip1.example.test.`,
	`_sip._tcp.example.test. 3600 IN SRV 10 0 5062 sip1.example.test.`,
	`_sips._tcp.example.test. 3600 IN SRV 10 0 5063 sip2.example.test.`,
	`sip1.example.test. 3600 IN A 192.0.2.1`,
	`sip2.example.test. 3600 IN A 192.0.2.2`,
	`sip2.example.test. 3600 IN AAAA 2001:db8::2`,
	// No NAPTR: SRV for each transport.
	`srv.example.test. 3600 IN A 192.0.2.99`,
	`_sip._udp.srv.example.test. 3600 IN SRV 10 0 5070 sip1.example.test.`,
	`_sip._tcp.srv.example.test. 3600 IN SRV 10 0 5071 sip1.example.test.`,
	`_sips._tcp.srv.example.test. 3600 IN SRV 10 0 5072 sip2.example.test.`,
	// No NAPTR, no SRV: address records only.
	`host.example.test. 3600 IN A 192.0.2.10`,
	`host.example.test. 3600 IN AAAA 2001:db8::10`,
	`v6only.example.test. 3600 IN AAAA 2001:db8::6`,
	`short.example.test. 0 IN A 192.0.2.20`,
	// A service not offered (target "."), then a host-only fallback.
	`_sip._udp.none.example.test. 3600 IN SRV 0 0 0 .`,
	`none.example.test. 3600 IN A 192.0.2.30`,
	`big.example.test. 3600 IN A 192.0.2.40`,
	`empty.example.test. 3600 IN TXT "nothing for SIP"`,
	// WebSocket services (RFC 7118).
	`ws.example.test. 3600 IN NAPTR 10 10 "s" "SIPS+D2W" "" _sips._ws.ws.example.test.`,
	`ws.example.test. 3600 IN NAPTR 20 10 "s" "SIP+D2W" "" _sip._ws.ws.example.test.`,
	`_sips._ws.ws.example.test. 3600 IN SRV 0 0 443 sip2.example.test.`,
	`_sip._ws.ws.example.test. 3600 IN SRV 0 0 8080 sip1.example.test.`,
}

func TestDNSResolverResolve(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		cfg  transport.DNSResolverConfig
		want []transport.Target
		// queried must have been asked; notQueried must not.
		queried, notQueried []string
		wantTCP             bool
	}{
		{
			name:       "explicit port skips NAPTR and SRV",
			uri:        "sip:alice@host.example.test:5080",
			want:       []transport.Target{tgt(transport.UDP, "192.0.2.10:5080", ""), tgt(transport.UDP, "[2001:db8::10]:5080", "")},
			queried:    []string{"host.example.test A", "host.example.test AAAA"},
			notQueried: []string{"host.example.test NAPTR", "_sip._udp.host.example.test SRV"},
		},
		{
			name:       "transport parameter selects the SRV service",
			uri:        "sip:example.test;transport=tcp",
			want:       []transport.Target{tgt(transport.TCP, "192.0.2.1:5062", "")},
			queried:    []string{"_sip._tcp.example.test SRV"},
			notQueried: []string{"example.test NAPTR", "_sip._udp.example.test SRV"},
		},
		{
			name: "NAPTR to SRV to A in order and preference",
			uri:  "sip:bob@example.test",
			want: []transport.Target{
				tgt(transport.TCP, "192.0.2.1:5062", ""),
				tgt(transport.UDP, "192.0.2.1:5060", ""),
				tgt(transport.TLS, "192.0.2.2:5063", "example.test"),
				tgt(transport.TLS, "[2001:db8::2]:5063", "example.test"),
			},
			queried:    []string{"example.test NAPTR", "_sip._tcp.example.test SRV", "sip1.example.test A"},
			notQueried: []string{"_sip._sctp.example.test SRV", "other.example.test A"},
		},
		{
			name:       "NAPTR of unsupported transports are skipped",
			uri:        "sip:bob@example.test",
			cfg:        transport.DNSResolverConfig{Networks: []transport.Network{transport.UDP}},
			want:       []transport.Target{tgt(transport.UDP, "192.0.2.1:5060", "")},
			notQueried: []string{"_sip._tcp.example.test SRV"},
		},
		{
			name: "NAPTR for WebSocket when supported",
			uri:  "sip:ws.example.test",
			cfg:  transport.DNSResolverConfig{Networks: []transport.Network{transport.WS, transport.WSS}},
			want: []transport.Target{
				tgt(transport.WSS, "192.0.2.2:443", "ws.example.test"),
				tgt(transport.WSS, "[2001:db8::2]:443", "ws.example.test"),
				tgt(transport.WS, "192.0.2.1:8080", "ws.example.test"),
			},
		},
		{
			name: "sips gives TLS only",
			uri:  "sips:bob@example.test",
			want: []transport.Target{
				tgt(transport.TLS, "192.0.2.2:5063", "example.test"),
				tgt(transport.TLS, "[2001:db8::2]:5063", "example.test"),
			},
			notQueried: []string{"_sip._tcp.example.test SRV", "_sip._udp.example.test SRV"},
		},
		{
			name:    "sips with transport=tcp is TLS",
			uri:     "sips:example.test;transport=tcp",
			want:    []transport.Target{tgt(transport.TLS, "192.0.2.2:5063", "example.test"), tgt(transport.TLS, "[2001:db8::2]:5063", "example.test")},
			queried: []string{"_sips._tcp.example.test SRV"},
		},
		{
			name: "no NAPTR: SRV for each supported transport",
			uri:  "sip:srv.example.test",
			want: []transport.Target{
				tgt(transport.UDP, "192.0.2.1:5070", ""),
				tgt(transport.TCP, "192.0.2.1:5071", ""),
				tgt(transport.TLS, "192.0.2.2:5072", "srv.example.test"),
				tgt(transport.TLS, "[2001:db8::2]:5072", "srv.example.test"),
			},
			queried:    []string{"srv.example.test NAPTR"},
			notQueried: []string{"srv.example.test A"},
		},
		{
			name:       "sips without NAPTR queries _sips._tcp only",
			uri:        "sips:srv.example.test",
			want:       []transport.Target{tgt(transport.TLS, "192.0.2.2:5072", "srv.example.test"), tgt(transport.TLS, "[2001:db8::2]:5072", "srv.example.test")},
			notQueried: []string{"_sip._udp.srv.example.test SRV"},
		},
		{
			name:    "no NAPTR, no SRV: A and AAAA on the default port",
			uri:     "sip:host.example.test",
			want:    []transport.Target{tgt(transport.UDP, "192.0.2.10:5060", ""), tgt(transport.UDP, "[2001:db8::10]:5060", "")},
			queried: []string{"host.example.test NAPTR", "_sip._udp.host.example.test SRV", "_sip._tcp.host.example.test SRV", "_sips._tcp.host.example.test SRV"},
		},
		{
			name: "PreferIPv6 puts AAAA first",
			uri:  "sip:host.example.test:5060",
			cfg:  transport.DNSResolverConfig{PreferIPv6: true},
			want: []transport.Target{tgt(transport.UDP, "[2001:db8::10]:5060", ""), tgt(transport.UDP, "192.0.2.10:5060", "")},
		},
		{
			name: "IPv6 only host",
			uri:  "sips:v6only.example.test",
			want: []transport.Target{tgt(transport.TLS, "[2001:db8::6]:5061", "v6only.example.test")},
		},
		{
			name: "SRV target . means no such service",
			uri:  "sip:none.example.test;transport=udp",
			want: []transport.Target{tgt(transport.UDP, "192.0.2.30:5060", "")},
		},
		{
			name:    "truncated answer is asked again over TCP",
			uri:     "sip:big.example.test:5060",
			want:    []transport.Target{tgt(transport.UDP, "192.0.2.40:5060", "")},
			queried: []string{"big.example.test A"},
			wantTCP: true,
		},
		{
			name:       "maddr is the target",
			uri:        "sip:alice@example.test;maddr=host.example.test;transport=tcp",
			want:       []transport.Target{tgt(transport.TCP, "192.0.2.10:5060", ""), tgt(transport.TCP, "[2001:db8::10]:5060", "")},
			notQueried: []string{"_sip._tcp.example.test SRV"},
		},
		{
			name:       "maddr with TLS keeps the URI domain as server name",
			uri:        "sip:alice@example.test:5061;maddr=host.example.test;transport=tls",
			want:       []transport.Target{tgt(transport.TLS, "192.0.2.10:5061", "example.test"), tgt(transport.TLS, "[2001:db8::10]:5061", "example.test")},
			notQueried: []string{"example.test NAPTR"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newResolveTestServer(t, resolveZone...)
			r := srv.resolver(t, tc.cfg)
			got, err := r.Resolve(t.Context(), mustURI(t, tc.uri))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			for _, q := range tc.queried {
				name, typ, _ := strings.Cut(q, " ")
				require.Positive(t, srv.count(name, typ), "query %s", q)
			}
			for _, q := range tc.notQueried {
				name, typ, _ := strings.Cut(q, " ")
				require.Zero(t, srv.count(name, typ), "query %s", q)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			require.Equal(t, tc.wantTCP, srv.tcp > 0, "queries over TCP")
		})
	}
}

func TestDNSResolverNumericNeverQueries(t *testing.T) {
	srv := newResolveTestServer(t, resolveZone...)
	r := srv.resolver(t, transport.DNSResolverConfig{})
	tests := []struct {
		uri  string
		want transport.Target
	}{
		{"sip:alice@192.0.2.1", tgt(transport.UDP, "192.0.2.1:5060", "")},
		{"sip:alice@192.0.2.1:5070;transport=tcp", tgt(transport.TCP, "192.0.2.1:5070", "")},
		{"sips:alice@192.0.2.1", tgt(transport.TLS, "192.0.2.1:5061", "")},
		{"sip:[2001:db8::1]", tgt(transport.UDP, "[2001:db8::1]:5060", "")},
		{"sips:[2001:db8::1]:5071;transport=wss", tgt(transport.WSS, "[2001:db8::1]:5071", "")},
		{"sip:192.0.2.1;transport=tls", tgt(transport.TLS, "192.0.2.1:5061", "")},
		{"sip:192.0.2.1;transport=ws", tgt(transport.WS, "192.0.2.1:80", "")},
		{"sip:alice@example.test;maddr=192.0.2.7", tgt(transport.UDP, "192.0.2.7:5060", "")},
		{"sips:alice@example.test;maddr=192.0.2.7", tgt(transport.TLS, "192.0.2.7:5061", "example.test")},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			got, err := r.Resolve(t.Context(), mustURI(t, tc.uri))
			require.NoError(t, err)
			require.Equal(t, []transport.Target{tc.want}, got)
		})
	}
	require.Zero(t, srv.total())
}

func TestDNSResolverSRVOrder(t *testing.T) {
	srv := newResolveTestServer(t,
		`_sip._udp.w.example.test. 3600 IN SRV 10 60 5001 a.example.test.`,
		`_sip._udp.w.example.test. 3600 IN SRV 10 30 5002 a.example.test.`,
		`_sip._udp.w.example.test. 3600 IN SRV 10 10 5003 a.example.test.`,
		`_sip._udp.w.example.test. 3600 IN SRV 10 0 5004 a.example.test.`,
		`_sip._udp.w.example.test. 3600 IN SRV 5 0 5000 a.example.test.`,
		`_sip._udp.w.example.test. 3600 IN SRV 20 5 5005 a.example.test.`,
		`a.example.test. 3600 IN A 192.0.2.1`,
	)
	ports := func(ts []transport.Target) []uint16 {
		var p []uint16
		for _, t := range ts {
			p = append(p, t.Addr.Port())
		}
		return p
	}
	u := mustURI(t, "sip:w.example.test;transport=udp")

	t.Run("scripted", func(t *testing.T) {
		// Priority 5 first. In priority 10 the weight-0 record goes
		// first in the running sums: 0 (5004), 60 (5001), 90 (5002), 100
		// (5003). 95 picks 5003; then sums 0, 60, 90: 0 picks 5004; then
		// 60, 90: 61 picks 5002; 5001 is left. Then priority 20.
		rnd := &scriptedRand{vals: []uint64{0, 95, 0, 61, 0, 0}}
		r := srv.resolver(t, transport.DNSResolverConfig{Rand: rnd})
		got, err := r.Resolve(t.Context(), u)
		require.NoError(t, err)
		require.Equal(t, []uint16{5000, 5003, 5004, 5002, 5001, 5005}, ports(got))
		require.Equal(t, []uint64{1, 101, 91, 91, 61, 6}, rnd.ns)
	})

	t.Run("seeded weights", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{Rand: &splitMix{s: 42}})
		queries := srv.count("_sip._udp.w.example.test", "SRV")
		first := map[uint16]int{}
		const runs = 3000
		for range runs {
			got, err := r.Resolve(t.Context(), u)
			require.NoError(t, err)
			require.Len(t, got, 6)
			require.Equal(t, uint16(5000), got[0].Addr.Port())
			require.Equal(t, uint16(5005), got[5].Addr.Port())
			first[got[1].Addr.Port()]++
		}
		// Expected shares of the first place in priority 10: weight/101
		// for each record, 1/101 for the weight-0 one.
		for port, weight := range map[uint16]float64{5001: 60, 5002: 30, 5003: 10, 5004: 1} {
			share := float64(first[port]) / runs
			require.InDelta(t, weight/101, share, 0.035, "port %d: %v", port, first)
		}
		// One query per record type: the rest came from the cache.
		require.Equal(t, queries+1, srv.count("_sip._udp.w.example.test", "SRV"))
	})
}

func TestDNSResolverErrors(t *testing.T) {
	srv := newResolveTestServer(t, resolveZone...)
	r := srv.resolver(t, transport.DNSResolverConfig{})
	tests := []struct {
		name     string
		uri      string
		wantName string
		cause    error
	}{
		{"NXDOMAIN", "sip:nosuch.example.test", "nosuch.example.test", transport.ErrNoTargets},
		{"NXDOMAIN with port", "sip:nosuch.example.test:5060", "nosuch.example.test", transport.ErrNoTargets},
		{"name without records", "sips:empty.example.test", "empty.example.test", transport.ErrNoTargets},
		{"only unsupported services", "sip:ws.example.test", "ws.example.test", transport.ErrNoTargets},
		{"tel URI", "tel:+15551234567", "tel:+15551234567", transport.ErrUnsupportedURI},
		{"sctp", "sip:example.test;transport=sctp", "example.test", transport.ErrUnsupportedURI},
		{"sips over udp", "sips:example.test;transport=udp", "example.test", transport.ErrUnsupportedURI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(t.Context(), mustURI(t, tc.uri))
			require.Empty(t, got)
			require.ErrorIs(t, err, transport.ErrNoTargets)
			require.ErrorIs(t, err, tc.cause)
			var re *transport.ResolveError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.wantName, re.Name)
		})
	}

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := r.Resolve(ctx, mustURI(t, "sip:uncached.example.test"))
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, transport.ErrNoTargets)
	})

	t.Run("query budget", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{MaxQueries: 1, MaxCacheEntries: -1})
		_, err := r.Resolve(t.Context(), mustURI(t, "sip:host.example.test"))
		require.ErrorIs(t, err, transport.ErrNoTargets)
		require.ErrorContains(t, err, "more than 1 DNS queries")
	})
}

func TestDNSResolverCache(t *testing.T) {
	srv := newResolveTestServer(t, resolveZone...)
	resolveTwice := func(t *testing.T, r *transport.DNSResolver, uri string) (first, second int) {
		t.Helper()
		before := srv.total()
		want, err := r.Resolve(t.Context(), mustURI(t, uri))
		require.NoError(t, err)
		mid := srv.total()
		got, err := r.Resolve(t.Context(), mustURI(t, uri))
		require.NoError(t, err)
		require.Equal(t, want, got)
		return mid - before, srv.total() - mid
	}

	t.Run("hit", func(t *testing.T) {
		first, second := resolveTwice(t, srv.resolver(t, transport.DNSResolverConfig{}), "sip:bob@example.test")
		require.Positive(t, first)
		require.Zero(t, second)
	})
	t.Run("negative answers are cached", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{})
		_, err := r.Resolve(t.Context(), mustURI(t, "sip:nx.example.test"))
		require.ErrorIs(t, err, transport.ErrNoTargets)
		n := srv.total()
		_, err = r.Resolve(t.Context(), mustURI(t, "sip:nx.example.test"))
		require.ErrorIs(t, err, transport.ErrNoTargets)
		require.Equal(t, n, srv.total())
	})
	t.Run("TTL 0 is not cached", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{})
		_, second := resolveTwice(t, r, "sip:short.example.test:5060")
		require.Equal(t, 1, second) // A again; AAAA (NODATA, SOA) cached
	})
	t.Run("disabled", func(t *testing.T) {
		first, second := resolveTwice(t, srv.resolver(t, transport.DNSResolverConfig{MaxCacheEntries: -1}), "sip:host.example.test:5060")
		require.Equal(t, first, second)
	})
	t.Run("MaxCacheEntries evicts", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{MaxCacheEntries: 2})
		_, second := resolveTwice(t, r, "sip:host.example.test:5060") // A + AAAA: full
		require.Zero(t, second)
		_, second = resolveTwice(t, r, "sip:sip2.example.test:5060") // evicts host's
		require.Zero(t, second)
		n := srv.total()
		_, err := r.Resolve(t.Context(), mustURI(t, "sip:host.example.test:5060"))
		require.NoError(t, err)
		require.Equal(t, n+2, srv.total())
	})
}

func TestDNSResolverServerDown(t *testing.T) {
	srv := newResolveTestServer(t, resolveZone...)
	r := srv.resolver(t, transport.DNSResolverConfig{})
	_, err := r.Resolve(t.Context(), mustURI(t, "sip:host.example.test:5060"))
	require.NoError(t, err)

	srv.Close()
	// Cached answers still work.
	got, err := r.Resolve(t.Context(), mustURI(t, "sip:host.example.test:5060"))
	require.NoError(t, err)
	require.Len(t, got, 2)
	// New names fail with the server's failure as the cause.
	_, err = r.Resolve(t.Context(), mustURI(t, "sip:sip1.example.test:5060"))
	require.ErrorIs(t, err, transport.ErrNoTargets)
	var re *transport.ResolveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "sip1.example.test", re.Name)
	require.NotErrorIs(t, re.Err, transport.ErrNoTargets)
	require.ErrorContains(t, err, srv.addr)
}

func TestDNSResolverConfig(t *testing.T) {
	for _, cfg := range []transport.DNSResolverConfig{
		{QueryTimeout: -1},
		{MaxQueries: -1},
		{Servers: []string{"192.0.2.53"}},
		{Servers: []string{"127.0.0.1:53"}, Networks: []transport.Network{"sctp"}},
	} {
		_, err := transport.NewDNSResolver(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestDNSResolverFallback(t *testing.T) {
	// No resolv.conf: the system resolver answers; localhost needs no
	// traffic (hosts file, RFC 6761 §6.3).
	r, err := transport.NewDNSResolver(transport.DNSResolverConfig{ResolvConf: t.TempDir() + "/missing"})
	require.NoError(t, err)
	got, err := r.Resolve(t.Context(), mustURI(t, "sip:localhost:5099;transport=tcp"))
	require.NoError(t, err)
	require.Contains(t, got, tgt(transport.TCP, "127.0.0.1:5099", ""))
}

func TestStaticResolver(t *testing.T) {
	s := transport.StaticResolver{
		"pbx.example.test": {
			tgt(transport.UDP, "192.0.2.1:5060", ""),
			tgt(transport.TCP, "192.0.2.1:5060", ""),
			tgt(transport.TLS, "192.0.2.1:5061", ""),
			tgt(transport.WSS, "[2001:db8::1]:443", "wss.example.test"),
		},
	}
	tests := []struct {
		uri  string
		want []transport.Target
		err  error
	}{
		{"sip:pbx.example.test", []transport.Target{
			tgt(transport.UDP, "192.0.2.1:5060", ""),
			tgt(transport.TCP, "192.0.2.1:5060", ""),
			tgt(transport.TLS, "192.0.2.1:5061", "pbx.example.test"),
			tgt(transport.WSS, "[2001:db8::1]:443", "wss.example.test"),
		}, nil},
		{"sip:PBX.example.test;transport=tcp", []transport.Target{tgt(transport.TCP, "192.0.2.1:5060", "")}, nil},
		{"sip:pbx.example.test:5070;transport=udp", []transport.Target{tgt(transport.UDP, "192.0.2.1:5070", "")}, nil},
		{"sips:pbx.example.test", []transport.Target{tgt(transport.TLS, "192.0.2.1:5061", "pbx.example.test"), tgt(transport.WSS, "[2001:db8::1]:443", "wss.example.test")}, nil},
		{"sip:192.0.2.9", []transport.Target{tgt(transport.UDP, "192.0.2.9:5060", "")}, nil},
		{"sip:other.example.test", nil, transport.ErrNoTargets},
		{"sip:pbx.example.test;transport=ws", nil, transport.ErrNoTargets},
		{"tel:+15551234567", nil, transport.ErrUnsupportedURI},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			got, err := s.Resolve(t.Context(), mustURI(t, tc.uri))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorIs(t, err, transport.ErrNoTargets)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func ExampleStaticResolver() {
	r := transport.StaticResolver{
		"pbx.example.com": {
			{Network: transport.UDP, Addr: netip.MustParseAddrPort("192.0.2.10:5060")},
			{Network: transport.TLS, Addr: netip.MustParseAddrPort("192.0.2.10:5061")},
		},
	}
	for _, s := range []string{"sip:alice@pbx.example.com", "sips:alice@pbx.example.com", "sip:bob@[2001:db8::5]:5070;transport=tcp"} {
		u, _ := sip.ParseURI(s)
		targets, err := r.Resolve(context.Background(), u)
		if err != nil {
			fmt.Println(err)
			continue
		}
		for _, t := range targets {
			fmt.Println(s, "→", t.Network, t.Addr, "name:"+t.ServerName)
		}
	}
	u, _ := sip.ParseURI("sip:carol@unknown.example.com")
	_, err := r.Resolve(context.Background(), u)
	fmt.Println(errors.Is(err, transport.ErrNoTargets), err)
	// Output:
	// sip:alice@pbx.example.com → udp 192.0.2.10:5060 name:
	// sip:alice@pbx.example.com → tls 192.0.2.10:5061 name:pbx.example.com
	// sips:alice@pbx.example.com → tls 192.0.2.10:5061 name:pbx.example.com
	// sip:bob@[2001:db8::5]:5070;transport=tcp → tcp [2001:db8::5]:5070 name:
	// true cannot resolve "unknown.example.com": no such host
}

// TestResolveNoSuchHost: a host that does not exist says so, and is a
// *net.DNSError as the net package reports one; a name that exists
// without usable records does not.
func TestResolveNoSuchHost(t *testing.T) {
	srv := newResolveTestServer(t, resolveZone...)
	// The system resolver's path, asking the test server only.
	fallback := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.addr)
	}}
	resolvers := map[string]transport.Resolver{
		"dns":      srv.resolver(t, transport.DNSResolverConfig{}),
		"fallback": newFallbackResolver(t, fallback),
		"static":   transport.StaticResolver{"empty.example.test": nil},
	}
	for name, r := range resolvers {
		t.Run(name, func(t *testing.T) {
			for _, uri := range []string{"sip:nosuch.example.test", "sip:nosuch.example.test:5060", "sip:bob@NoSuch.example.test;transport=tcp"} {
				_, err := r.Resolve(t.Context(), mustURI(t, uri))
				require.ErrorIs(t, err, transport.ErrNoSuchHost, uri)
				require.ErrorIs(t, err, transport.ErrNoTargets, uri)
				var de *net.DNSError
				require.ErrorAs(t, err, &de, uri)
				require.True(t, de.IsNotFound)
				var re *transport.ResolveError
				require.ErrorAs(t, err, &re)
				require.EqualError(t, err, `cannot resolve "`+re.Name+`": no such host`)
			}
			if name == "fallback" {
				return // the system resolver cannot tell NODATA from NXDOMAIN here
			}
			_, err := r.Resolve(t.Context(), mustURI(t, "sip:empty.example.test"))
			require.ErrorIs(t, err, transport.ErrNoTargets)
			require.NotErrorIs(t, err, transport.ErrNoSuchHost)
			require.EqualError(t, err, `cannot resolve "empty.example.test": no SIP target (no usable records)`)
		})
	}
	t.Run("cached", func(t *testing.T) {
		r := srv.resolver(t, transport.DNSResolverConfig{})
		for range 2 {
			_, err := r.Resolve(t.Context(), mustURI(t, "sip:nosuch2.example.test:5060"))
			require.ErrorIs(t, err, transport.ErrNoSuchHost)
		}
		require.Equal(t, 1, srv.count("nosuch2.example.test.", "A"))
	})
}

func newFallbackResolver(t *testing.T, fallback *net.Resolver) *transport.DNSResolver {
	t.Helper()
	r, err := transport.NewDNSResolver(transport.DNSResolverConfig{ResolvConf: t.TempDir() + "/missing", Fallback: fallback})
	require.NoError(t, err)
	return r
}
