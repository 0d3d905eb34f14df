package transport

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dialtone/dialtone/sip"
)

// Resolver turns a SIP URI into the places to send a request to, as RFC
// 3263 §4 describes. *DNSResolver does it over DNS; StaticResolver from a
// table, for tests and examples. The UA tries the targets in order,
// moving to the next when a transaction fails with a transport error or
// a timeout (RFC 3263 §4.3).
type Resolver interface {
	// Resolve returns the ordered list of targets to try for a SIP URI
	// (RFC 3263 §4): transport selection (NAPTR, then SRV _sip._udp,
	// _sip._tcp, _sips._tcp, then A/AAAA), port defaults (5060, 5061 for
	// TLS and sips), numeric IP shortcuts, maddr, the transport parameter,
	// and TLS only for sips. It never returns an empty list without an
	// error; the error is a *ResolveError that matches ErrNoTargets, and
	// ErrNoSuchHost when the host does not exist.
	Resolve(ctx context.Context, u sip.URI) ([]Target, error)
}

// resolvePortFor returns the port a URI without one uses on network n:
// 5060, 5061 for TLS (RFC 3261 §19.1.2), and for WebSocket, which RFC 7118
// leaves to the WebSocket URI, 80 and 443 (RFC 6455 §3).
func resolvePortFor(n Network) uint16 {
	switch n {
	case TLS:
		return 5061
	case WS:
		return 80
	case WSS:
		return 443
	}
	return 5060
}

// resolvePlan is what the URI alone says about its targets (RFC 3263 §4).
type resolvePlan struct {
	host       string     // TARGET: maddr or host, without brackets
	ip         netip.Addr // valid when host is a numeric address
	port       uint16     // explicit port, 0 when absent
	network    Network    // from the transport parameter; "" when absent
	secure     bool       // sips
	serverName string     // for TLS and WebSocket targets
}

// resolvePlanFor reads the URI's scheme, host, maddr, port and transport
// parameter.
func resolvePlanFor(u sip.URI) (resolvePlan, error) {
	var p resolvePlan
	if !u.IsSIP() {
		return p, &ResolveError{Name: u.String(), Err: ErrUnsupportedURI}
	}
	p.secure = u.Scheme == "sips"
	host := u.Hostname()
	p.host = host
	if m, ok := u.Params.Get("maddr"); ok && m != "" { // §4: maddr is the TARGET
		p.host = strings.TrimSuffix(strings.TrimPrefix(m, "["), "]")
	}
	if p.host == "" {
		return p, &ResolveError{Name: u.String(), Err: ErrUnsupportedURI}
	}
	if u.Port < 0 || u.Port > 65535 {
		return p, &ResolveError{Name: p.host, Err: ErrUnsupportedURI}
	}
	p.port = uint16(u.Port)
	if t, ok := u.Params.Get("transport"); ok {
		switch strings.ToLower(t) {
		case "udp":
			p.network = UDP
		case "tcp":
			p.network = TCP
		case "tls":
			p.network = TLS
		case "ws":
			p.network = WS
		case "wss":
			p.network = WSS
		default:
			return p, &ResolveError{Name: p.host, Err: ErrUnsupportedURI}
		}
		if p.secure {
			switch p.network {
			case UDP:
				return p, &ResolveError{Name: p.host, Err: ErrUnsupportedURI}
			case TCP:
				p.network = TLS
			case WS:
				p.network = WSS
			}
		}
	}
	if ip, err := netip.ParseAddr(p.host); err == nil {
		p.ip = ip
	}
	// The name a TLS certificate must match is the URI's domain (RFC 5922
	// §4), not the SRV target.
	if _, err := netip.ParseAddr(host); err != nil && host != "" {
		p.serverName = strings.ToLower(strings.TrimSuffix(host, "."))
	} else if !p.ip.IsValid() {
		p.serverName = strings.ToLower(strings.TrimSuffix(p.host, "."))
	}
	return p, nil
}

// allowed filters networks by the scheme: sips URIs only use TLS and WSS.
// A sip URI allows every network: networks itself comes back, capped so an
// append by the caller copies instead of writing into it.
func (p *resolvePlan) allowed(networks []Network) []Network {
	if !p.secure {
		return networks[:len(networks):len(networks)]
	}
	var out []Network
	for _, n := range networks {
		if !p.secure || n.Secure() {
			out = append(out, n)
		}
	}
	return out
}

// defaultNetwork is the transport when nothing chose one: UDP for sip and
// TLS for sips (RFC 3263 §4.1), or the most preferred supported one.
func (p *resolvePlan) defaultNetwork(networks []Network) Network {
	if p.network != "" {
		return p.network
	}
	want := UDP
	if p.secure {
		want = TLS
	}
	allowed := p.allowed(networks)
	if len(allowed) == 0 || slices.Contains(allowed, want) {
		return want
	}
	return allowed[0]
}

// target builds a Target, with the server name where the network needs it.
func (p *resolvePlan) target(n Network, a netip.Addr, port uint16) Target {
	t := Target{Network: n, Addr: netip.AddrPortFrom(a, port)}
	if n == TLS || n == WS || n == WSS {
		t.ServerName = p.serverName
	}
	return t
}

// numericTarget is the target of a URI whose TARGET is an IP address: no
// DNS at all (RFC 3263 §4.1, §4.2).
func (p *resolvePlan) numericTarget(networks []Network) Target {
	n := p.defaultNetwork(networks)
	port := p.port
	if port == 0 {
		port = resolvePortFor(n)
	}
	return p.target(n, p.ip, port)
}

// StaticResolver resolves from a fixed table of host names to targets, for
// tests and examples. Numeric hosts resolve as DNSResolver resolves them,
// without the table. For names, sips and the transport parameter filter
// the listed targets and an explicit port in the URI replaces theirs.
// Keys are lower-case host names (or maddr values) without brackets; a
// name not in the table fails with ErrNoSuchHost.
type StaticResolver map[string][]Target

// Resolve implements Resolver.
func (s StaticResolver) Resolve(_ context.Context, u sip.URI) ([]Target, error) {
	p, err := resolvePlanFor(u)
	if err != nil {
		return nil, err
	}
	if p.ip.IsValid() {
		return []Target{p.numericTarget(staticNetworks[:])}, nil
	}
	list, ok := s[p.host]
	if !ok {
		list, ok = s[strings.ToLower(strings.TrimSuffix(p.host, "."))]
	}
	var out []Target
	for _, t := range list {
		if (p.network != "" && t.Network != p.network) || (p.secure && !t.Network.Secure()) {
			continue
		}
		if p.port != 0 {
			t.Addr = netip.AddrPortFrom(t.Addr.Addr(), p.port)
		}
		if t.ServerName == "" {
			t.ServerName = p.target(t.Network, netip.Addr{}, 0).ServerName
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		if !ok {
			return nil, &ResolveError{Name: p.host, Err: noSuchHost(p.host)}
		}
		return nil, &ResolveError{Name: p.host, Err: ErrNoTargets}
	}
	return out, nil
}

// ResolverRand is the random source that orders SRV records of equal
// priority by weight (RFC 2782). Uint64N returns a uniform number in
// [0, n). *math/rand/v2.Rand satisfies it; DNSResolver serializes its
// calls, so the source need not be safe for concurrent use.
type ResolverRand interface {
	Uint64N(n uint64) uint64
}

// resolveCryptoRand is the default ResolverRand.
type resolveCryptoRand struct{}

func (resolveCryptoRand) Uint64N(n uint64) uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	// The modulo bias is below n/2^64: nothing for sums of 16-bit weights.
	return binary.LittleEndian.Uint64(b[:]) % n
}

// Defaults of DNSResolverConfig.
const (
	DefaultResolvConf         = "/etc/resolv.conf"
	DefaultDNSQueryTimeout    = 2 * time.Second
	DefaultDNSMaxCacheEntries = 1024
	DefaultDNSMaxQueries      = 32
)

// DNSResolverConfig configures a DNSResolver. The zero value asks the
// nameservers of /etc/resolv.conf, with the defaults named below.
type DNSResolverConfig struct {
	// Servers are the DNS servers to ask, in order, as "host:port"
	// ("192.0.2.53:53", "[2001:db8::53]:53"). Empty: the nameservers of
	// ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf(5) file read when Servers is empty.
	// Empty: DefaultResolvConf. When it cannot be read or lists no
	// server, Fallback answers instead.
	ResolvConf string
	// Fallback answers SRV, A and AAAA queries when there is no DNS
	// server to ask directly. It cannot ask for NAPTR records, so
	// resolution starts at SRV (RFC 3263 §4.1 with no NAPTR records), and
	// its answers are not cached (it gives no TTL). Nil:
	// net.DefaultResolver.
	Fallback *net.Resolver
	// Networks are the transports the client supports, in order of
	// preference: NAPTR records for other transports are skipped, and
	// without NAPTR records these are the SRV services queried (RFC 3263
	// §4.1). A transport parameter in the URI overrides them. Empty: UDP,
	// TCP, TLS.
	Networks []Network
	// QueryTimeout bounds one DNS query to one server. Zero:
	// DefaultDNSQueryTimeout.
	QueryTimeout time.Duration
	// MaxCacheEntries bounds the answer cache, one entry per name and
	// record type, each kept for its TTL (negative answers for the SOA
	// minimum, RFC 2308 §5). When full, expired entries go first, then
	// those that expire soonest. Zero: DefaultDNSMaxCacheEntries; negative:
	// no cache.
	MaxCacheEntries int
	// MaxQueries bounds the DNS queries one Resolve call sends, cached
	// answers not counted: a NAPTR record leads to an SRV query, each SRV
	// target to A and AAAA queries. Zero: DefaultDNSMaxQueries.
	MaxQueries int
	// Rand orders SRV records of equal priority by weight (RFC 2782).
	// Nil: crypto/rand. Tests pass a seeded source.
	Rand ResolverRand
	// PreferIPv6 puts a host's AAAA addresses before its A addresses.
	PreferIPv6 bool
}

// DNSResolver implements Resolver with RFC 3263 over DNS: NAPTR, SRV, A
// and AAAA queries to the configured servers, with a TTL cache. It is safe
// for concurrent use and starts no goroutine, so it has nothing to close.
type DNSResolver struct {
	servers    []string
	fallback   *net.Resolver
	networks   []Network
	timeout    time.Duration
	maxQueries int
	preferV6   bool

	randMu sync.Mutex
	rand   ResolverRand

	cache resolveCache
}

// NewDNSResolver returns a resolver with cfg, defaults filled in. It reads
// cfg.ResolvConf when cfg.Servers is empty.
func NewDNSResolver(cfg DNSResolverConfig) (*DNSResolver, error) {
	if cfg.QueryTimeout < 0 || cfg.MaxQueries < 0 {
		return nil, errors.New("transport: negative DNSResolverConfig limit")
	}
	for _, n := range cfg.Networks {
		switch n {
		case UDP, TCP, TLS, WS, WSS:
		default:
			return nil, fmt.Errorf("transport: DNSResolverConfig: unknown network %q", n)
		}
	}
	r := &DNSResolver{
		servers:    slices.Clone(cfg.Servers),
		fallback:   cfg.Fallback,
		networks:   slices.Clone(cfg.Networks),
		timeout:    cmp.Or(cfg.QueryTimeout, DefaultDNSQueryTimeout),
		maxQueries: cmp.Or(cfg.MaxQueries, DefaultDNSMaxQueries),
		preferV6:   cfg.PreferIPv6,
		rand:       cfg.Rand,
	}
	for _, s := range r.servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("transport: DNSResolverConfig: server %q: %w", s, err)
		}
	}
	if len(r.servers) == 0 {
		if cc, err := dns.ClientConfigFromFile(cmp.Or(cfg.ResolvConf, DefaultResolvConf)); err == nil {
			for _, s := range cc.Servers {
				r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
			}
		}
	}
	if r.fallback == nil {
		r.fallback = net.DefaultResolver
	}
	if len(r.networks) == 0 {
		r.networks = []Network{UDP, TCP, TLS}
	}
	if r.rand == nil {
		r.rand = resolveCryptoRand{}
	}
	r.cache.max = cmp.Or(cfg.MaxCacheEntries, DefaultDNSMaxCacheEntries)
	return r, nil
}

// resolveState is one Resolve call's query budget, first failure, and
// the names DNS said do not exist when asked for their addresses.
type resolveState struct {
	queries int
	err     error
	nx      []string // fully qualified, lower case
}

func (st *resolveState) fail(err error) {
	if st.err == nil {
		st.err = err
	}
}

// Resolve implements Resolver (RFC 3263 §4.1 transport, §4.2 port and
// address). The context bounds the whole resolution; each query is also
// bounded by QueryTimeout.
func (r *DNSResolver) Resolve(ctx context.Context, u sip.URI) ([]Target, error) {
	p, err := resolvePlanFor(u)
	if err != nil {
		return nil, err
	}
	if p.ip.IsValid() {
		return []Target{p.numericTarget(r.networks)}, nil
	}
	st := &resolveState{}
	var out []Target
	switch {
	case p.port != 0:
		// §4.1, §4.2: an explicit port means A/AAAA only.
		out = r.hostTargets(ctx, st, &p, out, p.host, p.port, p.defaultNetwork(r.networks))
	case p.network != "":
		// §4.2: the transport is known; SRV for it, then A/AAAA.
		out = r.srvTargets(ctx, st, &p, out, resolveSRVName(p.network, p.host), p.network)
		if len(out) == 0 {
			out = r.hostTargets(ctx, st, &p, out, p.host, resolvePortFor(p.network), p.network)
		}
	default:
		out = r.naptrTargets(ctx, st, &p, out)
		if len(out) == 0 {
			// §4.1: no NAPTR records, SRV for each supported transport.
			for _, n := range p.allowed(r.networks) {
				out = r.srvTargets(ctx, st, &p, out, resolveSRVName(n, p.host), n)
			}
		}
		if len(out) == 0 {
			// §4.2: no SRV records, A/AAAA with the default transport.
			n := p.defaultNetwork(r.networks)
			out = r.hostTargets(ctx, st, &p, out, p.host, resolvePortFor(n), n)
		}
	}
	if len(out) == 0 {
		err := st.err
		if err == nil && slices.Contains(st.nx, dns.Fqdn(strings.ToLower(p.host))) {
			err = noSuchHost(p.host)
		}
		return nil, &ResolveError{Name: p.host, Err: err}
	}
	return out, nil
}

// resolveNAPTRService maps a NAPTR service field to a network (RFC 3263
// §4.1; SIP+D2W and SIPS+D2W from RFC 7118, in the IANA table of SIP NAPTR
// services).
func resolveNAPTRService(s string) (Network, bool) {
	switch strings.ToUpper(s) {
	case "SIP+D2U":
		return UDP, true
	case "SIP+D2T":
		return TCP, true
	case "SIPS+D2T":
		return TLS, true
	case "SIP+D2W":
		return WS, true
	case "SIPS+D2W":
		return WSS, true
	}
	return "", false
}

// resolveSRVName is the SRV owner name for a transport (RFC 3263 §4.1).
func resolveSRVName(n Network, host string) string {
	prefix := "_sip._udp."
	switch n {
	case TCP:
		prefix = "_sip._tcp."
	case TLS:
		prefix = "_sips._tcp."
	case WS:
		prefix = "_sip._ws."
	case WSS:
		prefix = "_sips._ws."
	}
	return prefix + host
}

// naptrTargets follows the domain's NAPTR records of supported services,
// in order and preference (RFC 3403 §4.1, RFC 3263 §4.1), each to its SRV
// records ("s" flag) or its address records ("a" flag).
func (r *DNSResolver) naptrTargets(ctx context.Context, st *resolveState, p *resolvePlan, out []Target) []Target {
	rrs := r.query(ctx, st, p.host, dns.TypeNAPTR)
	type rec struct {
		rr *dns.NAPTR
		n  Network
	}
	var recs []rec
	allowed := p.allowed(r.networks)
	for _, rr := range rrs {
		nr, ok := rr.(*dns.NAPTR)
		if !ok {
			continue
		}
		n, ok := resolveNAPTRService(nr.Service)
		if !ok || !slices.Contains(allowed, n) {
			continue
		}
		if f := strings.ToLower(nr.Flags); f != "s" && f != "a" {
			continue
		}
		if nr.Replacement == "" || nr.Replacement == "." {
			continue
		}
		recs = append(recs, rec{nr, n})
	}
	slices.SortStableFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.rr.Order, b.rr.Order), cmp.Compare(a.rr.Preference, b.rr.Preference))
	})
	for _, rc := range recs {
		if strings.EqualFold(rc.rr.Flags, "s") {
			out = r.srvTargets(ctx, st, p, out, rc.rr.Replacement, rc.n)
		} else {
			out = r.hostTargets(ctx, st, p, out, rc.rr.Replacement, resolvePortFor(rc.n), rc.n)
		}
	}
	return out
}

// srvTargets appends the targets of the SRV records at name, in RFC 2782
// order, for network n.
func (r *DNSResolver) srvTargets(ctx context.Context, st *resolveState, p *resolvePlan, out []Target, name string, n Network) []Target {
	rrs := r.query(ctx, st, name, dns.TypeSRV)
	var srvs []*dns.SRV
	for _, rr := range rrs {
		if s, ok := rr.(*dns.SRV); ok {
			srvs = append(srvs, s)
		}
	}
	for _, s := range r.orderSRV(srvs) {
		out = r.hostTargets(ctx, st, p, out, s.Target, s.Port, n)
	}
	return out
}

// orderSRV sorts SRV records by priority and, within a priority, by the
// weighted random selection of RFC 2782 ("Usage rules"). A lone record
// with target "." means the service is not offered.
func (r *DNSResolver) orderSRV(srvs []*dns.SRV) []*dns.SRV {
	srvs = slices.DeleteFunc(slices.Clone(srvs), func(s *dns.SRV) bool { return s.Target == "." || s.Target == "" })
	slices.SortStableFunc(srvs, func(a, b *dns.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	out := make([]*dns.SRV, 0, len(srvs))
	r.randMu.Lock()
	defer r.randMu.Unlock()
	for len(srvs) > 0 {
		end := 1
		for end < len(srvs) && srvs[end].Priority == srvs[0].Priority {
			end++
		}
		group := srvs[:end]
		// Weight 0 first, the rest in their order.
		slices.SortStableFunc(group, func(a, b *dns.SRV) int {
			return cmp.Compare(min(a.Weight, 1), min(b.Weight, 1))
		})
		for len(group) > 0 {
			var sum uint64
			for _, s := range group {
				sum += uint64(s.Weight)
			}
			pick := r.rand.Uint64N(sum + 1)
			i, run := 0, uint64(0)
			for ; i < len(group)-1; i++ {
				run += uint64(group[i].Weight)
				if run >= pick {
					break
				}
			}
			out = append(out, group[i])
			group = slices.Delete(group, i, i+1)
		}
		srvs = srvs[end:]
	}
	return out
}

// hostTargets appends a target per address of host, on port and network
// n, skipping duplicates.
func (r *DNSResolver) hostTargets(ctx context.Context, st *resolveState, p *resolvePlan, out []Target, host string, port uint16, n Network) []Target {
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		order := [2]uint16{dns.TypeA, dns.TypeAAAA}
		if r.preferV6 {
			order = [2]uint16{dns.TypeAAAA, dns.TypeA}
		}
		for _, qt := range order {
			for _, rr := range r.query(ctx, st, host, qt) {
				switch a := rr.(type) {
				case *dns.A:
					if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
						addrs = append(addrs, ip)
					}
				case *dns.AAAA:
					if ip, ok := netip.AddrFromSlice(a.AAAA.To16()); ok {
						addrs = append(addrs, ip)
					}
				}
			}
		}
	}
	for _, a := range addrs {
		t := p.target(n, a, port)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// query returns the answer records of type qtype for name, from the cache
// or from the servers. Failures are recorded in st and give no records,
// so resolution goes on with the next step, as RFC 3263 §4.1 does for
// missing records.
func (r *DNSResolver) query(ctx context.Context, st *resolveState, name string, qtype uint16) []dns.RR {
	name = dns.Fqdn(strings.ToLower(name))
	key := resolveCacheKey{name: name, qtype: qtype}
	noteNX := func(nx bool) {
		if nx && (qtype == dns.TypeA || qtype == dns.TypeAAAA) && !slices.Contains(st.nx, name) {
			st.nx = append(st.nx, name)
		}
	}
	if rrs, nx, ok := r.cache.get(key, time.Now()); ok {
		noteNX(nx)
		return rrs
	}
	if err := ctx.Err(); err != nil {
		st.fail(err)
		return nil
	}
	if st.queries >= r.maxQueries {
		st.fail(fmt.Errorf("transport: more than %d DNS queries for one URI", r.maxQueries))
		return nil
	}
	st.queries++
	if len(r.servers) == 0 {
		rrs, nx, err := r.queryFallback(ctx, name, qtype)
		if err != nil {
			st.fail(err)
		}
		noteNX(nx)
		return rrs
	}
	rrs, ttl, nx, err := r.exchange(ctx, name, qtype)
	if err != nil {
		st.fail(err)
		return nil
	}
	noteNX(nx)
	if ttl > 0 {
		r.cache.put(key, rrs, nx, time.Now().Add(time.Duration(ttl)*time.Second))
	}
	return rrs
}

// exchange asks the servers in turn until one answers, and returns the
// answer's records of type qtype, how long they may be cached, and
// whether the name does not exist (NXDOMAIN). NXDOMAIN and an empty
// answer are not errors.
func (r *DNSResolver) exchange(ctx context.Context, name string, qtype uint16) ([]dns.RR, uint32, bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false) // the DNS Flag Day 2020 size: no fragments
	var lastErr error
	for _, server := range r.servers {
		resp, err := r.exchangeOne(ctx, m, server, "udp")
		if err == nil && resp.Truncated {
			resp, err = r.exchangeOne(ctx, m, server, "tcp")
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, false, ctx.Err()
			}
			lastErr = fmt.Errorf("transport: DNS %s %s via %s: %w", dns.TypeToString[qtype], name, server, err)
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
		default:
			lastErr = fmt.Errorf("transport: DNS %s %s via %s: %s", dns.TypeToString[qtype], name, server, dns.RcodeToString[resp.Rcode])
			continue
		}
		var rrs []dns.RR
		ttl := uint32(0)
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype != qtype {
				continue // CNAMEs and others the server added
			}
			if len(rrs) == 0 || rr.Header().Ttl < ttl {
				ttl = rr.Header().Ttl
			}
			rrs = append(rrs, rr)
		}
		if len(rrs) == 0 {
			// Negative caching: the SOA's TTL, at most its minimum (RFC
			// 2308 §5).
			for _, rr := range resp.Ns {
				if soa, ok := rr.(*dns.SOA); ok {
					ttl = min(soa.Hdr.Ttl, soa.Minttl)
				}
			}
		}
		return rrs, ttl, resp.Rcode == dns.RcodeNameError, nil
	}
	return nil, 0, false, lastErr
}

// exchangeOne sends one query to one server and waits at most
// QueryTimeout, or until ctx ends.
func (r *DNSResolver) exchangeOne(ctx context.Context, m *dns.Msg, server, network string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := dns.Client{Net: network, Timeout: r.timeout}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	// The client only reads the context's deadline: cancel the read when
	// the context ends early.
	stop := context.AfterFunc(ctx, func() { _ = co.SetDeadline(time.Now()) })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}

// queryFallback asks the system resolver: SRV and addresses, no NAPTR.
// It reports "no such host" as no records and nx.
func (r *DNSResolver) queryFallback(ctx context.Context, name string, qtype uint16) (rrs []dns.RR, nx bool, err error) {
	host := strings.TrimSuffix(name, ".")
	switch qtype {
	case dns.TypeSRV:
		_, srvs, err := r.fallback.LookupSRV(ctx, "", "", host)
		if err != nil {
			return resolveFallbackErr(err)
		}
		for _, s := range srvs {
			rrs = append(rrs, &dns.SRV{
				Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
				Priority: s.Priority, Weight: s.Weight, Port: s.Port, Target: s.Target,
			})
		}
	case dns.TypeA, dns.TypeAAAA:
		network := "ip4"
		if qtype == dns.TypeAAAA {
			network = "ip6"
		}
		ips, err := r.fallback.LookupNetIP(ctx, network, host)
		if err != nil {
			return resolveFallbackErr(err)
		}
		for _, ip := range ips {
			hdr := dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET}
			if qtype == dns.TypeA && ip.Unmap().Is4() {
				rrs = append(rrs, &dns.A{Hdr: hdr, A: net.IP(ip.Unmap().AsSlice())})
			} else if qtype == dns.TypeAAAA && ip.Is6() && !ip.Is4In6() {
				rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: net.IP(ip.AsSlice())})
			}
		}
	}
	return rrs, false, nil
}

// resolveFallbackErr turns "no such host" into no records and nx: that
// is no records, not a failure.
func resolveFallbackErr(err error) ([]dns.RR, bool, error) {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return nil, true, nil
	}
	return nil, false, err
}

// resolveCache holds answers until their TTL ends, at most max entries.
type resolveCache struct {
	mu  sync.Mutex
	max int
	m   map[resolveCacheKey]resolveCacheEntry
}

type resolveCacheKey struct {
	name  string
	qtype uint16
}

type resolveCacheEntry struct {
	rrs     []dns.RR
	nx      bool // NXDOMAIN
	expires time.Time
}

func (c *resolveCache) get(k resolveCacheKey, now time.Time) (rrs []dns.RR, nx, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false, false
	}
	if !now.Before(e.expires) {
		delete(c.m, k)
		return nil, false, false
	}
	return e.rrs, e.nx, true
}

func (c *resolveCache) put(k resolveCacheKey, rrs []dns.RR, nx bool, expires time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[resolveCacheKey]resolveCacheEntry)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		evictExpiring(c.m, time.Now(), c.max, func(e resolveCacheEntry) time.Time { return e.expires })
	}
	c.m[k] = resolveCacheEntry{rrs: rrs, nx: nx, expires: expires}
}
