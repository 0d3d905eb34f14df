package memnet

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// NATType is the behaviour of a [NAT], in the terms of RFC 4787 §4.1
// (mapping) and §5 (filtering).
type NATType uint8

const (
	// EndpointIndependent ("full cone"): one mapping per inside address and
	// port, whatever the destination (RFC 4787 §4.1 endpoint-independent
	// mapping); any outside host may send to it (§5 endpoint-independent
	// filtering).
	EndpointIndependent NATType = iota + 1
	// AddressDependent ("restricted cone"): endpoint-independent mapping;
	// only IP addresses the inside host has sent to may reply, from any
	// port (§5 address-dependent filtering).
	AddressDependent
	// PortRestricted ("port-restricted cone"): endpoint-independent
	// mapping; only the exact addresses and ports the inside host has sent
	// to may reply (§5 address and port-dependent filtering).
	PortRestricted
	// AddressPortDependent ("symmetric"): a new mapping, and so a new public
	// port, for every destination address and port (§4.1
	// address-and-port-dependent mapping), with address and port-dependent
	// filtering.
	AddressPortDependent
	// Symmetric is another name for AddressPortDependent.
	Symmetric = AddressPortDependent
)

// String returns the RFC 4787 name of the type.
func (t NATType) String() string {
	switch t {
	case EndpointIndependent:
		return "endpoint-independent"
	case AddressDependent:
		return "address-dependent"
	case PortRestricted:
		return "port-restricted"
	case AddressPortDependent:
		return "address-and-port-dependent"
	}
	return fmt.Sprintf("NATType(%d)", uint8(t))
}

// natFirstPort is where a NAT starts allocating public ports; allocation is
// sequential so runs are repeatable.
const natFirstPort = 20000

// NAT translates traffic between the hosts in an inside prefix and the rest
// of the network, as a home router or carrier-grade NAT does. It is created
// by [Network.AddNAT].
//
// Datagrams from an inside address to an outside address (any address not
// in the prefix, including the NAT's own public address, which gives
// hairpinning) leave with the source rewritten to public:port. Datagrams
// to public:port are admitted according to the NAT type and forwarded to
// the inside address and port of the mapping. Datagrams between inside
// hosts are not translated. A datagram to the public address for which
// there is no mapping is dropped; there is no port forwarding.
//
// Stream connections dialed from inside get a mapping (and so a public
// source port) per connection, released when the dialer closes it; the
// mapping timeout does not apply to them. Stream dials to the public
// address are refused.
//
// NATs nest: the public address of one NAT may lie inside the prefix of
// another.
type NAT struct {
	n       *Network
	inside  netip.Prefix
	public  netip.Addr
	typ     NATType
	timeout time.Duration
	tables  [2]natTable // per proto
}

type natTable struct {
	byKey  map[natKey]*mapping
	byPort map[uint16]*mapping
	next   uint16
}

type natKey struct {
	inside netip.AddrPort
	remote netip.AddrPort // zero unless the mapping is address-and-port-dependent
}

type mapping struct {
	key     natKey
	port    uint16
	lastOut time.Time
	addrs   map[netip.Addr]struct{}     // destination IPs sent to
	peers   map[netip.AddrPort]struct{} // destination addresses sent to
}

// Mapping describes one NAT binding, for tests that inspect a NAT.
type Mapping struct {
	// Network is "udp" or "tcp".
	Network string
	// Inside is the private address and port of the inside host.
	Inside netip.AddrPort
	// Public is the address and port outside hosts see.
	Public netip.AddrPort
	// Remote is the destination the mapping is bound to, for
	// AddressPortDependent NATs; zero otherwise.
	Remote netip.AddrPort
}

// AddNAT puts the hosts in inside behind a NAT of type typ whose public
// address is public. It fails with [ErrInvalidNAT] if the prefix, address or
// type is invalid or public is inside the prefix, and with [ErrNATOverlap]
// if another NAT has the same public address or the same prefix.
func (n *Network) AddNAT(inside netip.Prefix, public netip.Addr, typ NATType) (*NAT, error) {
	inside = inside.Masked()
	public = public.Unmap().WithZone("")
	if !inside.IsValid() || !public.IsValid() || public.IsUnspecified() ||
		typ < EndpointIndependent || typ > AddressPortDependent || inside.Contains(public) ||
		inside.Addr().Is4() != public.Is4() {
		return nil, fmt.Errorf("%w: %v → %v (%v)", ErrInvalidNAT, inside, public, typ)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.nats {
		if t.public == public || t.inside == inside {
			return nil, fmt.Errorf("%w: %v → %v", ErrNATOverlap, inside, public)
		}
	}
	t := &NAT{n: n, inside: inside, public: public, typ: typ}
	for i := range t.tables {
		t.tables[i] = natTable{byKey: map[natKey]*mapping{}, byPort: map[uint16]*mapping{}, next: natFirstPort}
	}
	n.nats = append(n.nats, t)
	return t, nil
}

// Type returns the NAT's type.
func (t *NAT) Type() NATType { return t.typ }

// Public returns the NAT's public address.
func (t *NAT) Public() netip.Addr { return t.public }

// Inside returns the prefix of the hosts behind the NAT.
func (t *NAT) Inside() netip.Prefix { return t.inside }

// SetMappingTimeout makes datagram mappings expire after d without outbound
// traffic (RFC 4787 §4.3: only outbound datagrams refresh them); 0, the
// initial value, means they never expire. An expired mapping drops inbound
// datagrams, and the next outbound one gets a new mapping and usually a new
// public port. RFC 4787 REQ-5 asks real NATs for at least 2 minutes.
func (t *NAT) SetMappingTimeout(d time.Duration) {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	t.timeout = max(d, 0)
}

// Flush drops every datagram mapping, as a NAT reboot would. Stream
// mappings stay until their connections close.
func (t *NAT) Flush() {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	tb := &t.tables[protoUDP]
	clear(tb.byKey)
	clear(tb.byPort)
}

// Mappings returns the NAT's current mappings, datagram ones first, each
// group ordered by public port. Expired datagram mappings are left out.
func (t *NAT) Mappings() []Mapping {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	now := time.Now()
	var out []Mapping
	for p, name := range []string{"udp", "tcp"} {
		tb := &t.tables[p]
		var ms []Mapping
		for _, m := range tb.byPort {
			if proto(p) == protoUDP && t.expired(m, now) {
				continue
			}
			ms = append(ms, Mapping{Network: name, Inside: m.key.inside, Remote: m.key.remote, Public: netip.AddrPortFrom(t.public, m.port)})
		}
		slices.SortFunc(ms, func(a, b Mapping) int { return int(a.Public.Port()) - int(b.Public.Port()) })
		out = append(out, ms...)
	}
	return out
}

func (t *NAT) expired(m *mapping, now time.Time) bool {
	return t.timeout > 0 && now.Sub(m.lastOut) >= t.timeout
}

// outbound maps inside src talking to dst and returns the public source. It
// returns false if no port is free. t.n.mu is held.
func (t *NAT) outbound(p proto, src, dst netip.AddrPort, now time.Time) (*mapping, bool) {
	tb := &t.tables[p]
	key := natKey{inside: src}
	if t.typ == AddressPortDependent || p == protoTCP {
		key.remote = dst
	}
	m := tb.byKey[key]
	if m != nil && p == protoUDP && t.expired(m, now) {
		tb.remove(m)
		m = nil
	}
	if m == nil {
		port, ok := tb.allocate(t, now)
		if !ok {
			return nil, false
		}
		m = &mapping{key: key, port: port, addrs: map[netip.Addr]struct{}{}, peers: map[netip.AddrPort]struct{}{}}
		tb.byKey[key] = m
		tb.byPort[port] = m
	}
	m.lastOut = now
	m.addrs[dst.Addr()] = struct{}{}
	m.peers[dst] = struct{}{}
	return m, true
}

// inbound admits a datagram from src to public port, returning the inside
// destination. t.n.mu is held.
func (t *NAT) inbound(p proto, port uint16, src netip.AddrPort, now time.Time) (netip.AddrPort, bool) {
	tb := &t.tables[p]
	m := tb.byPort[port]
	if m == nil {
		return netip.AddrPort{}, false
	}
	if p == protoUDP && t.expired(m, now) {
		tb.remove(m)
		return netip.AddrPort{}, false
	}
	switch t.typ {
	case AddressDependent:
		if _, ok := m.addrs[src.Addr()]; !ok {
			return netip.AddrPort{}, false
		}
	case PortRestricted, AddressPortDependent:
		if _, ok := m.peers[src]; !ok {
			return netip.AddrPort{}, false
		}
	}
	return m.key.inside, true
}

func (tb *natTable) remove(m *mapping) {
	if tb.byKey[m.key] == m {
		delete(tb.byKey, m.key)
	}
	if tb.byPort[m.port] == m {
		delete(tb.byPort, m.port)
	}
}

// allocate returns the next free public port, reclaiming expired mappings
// it meets.
func (tb *natTable) allocate(t *NAT, now time.Time) (uint16, bool) {
	for range 65536 - natFirstPort {
		port := tb.next
		if tb.next == 65535 {
			tb.next = natFirstPort
		} else {
			tb.next++
		}
		m, used := tb.byPort[port]
		if used && tb == &t.tables[protoUDP] && t.expired(m, now) {
			tb.remove(m)
			used = false
		}
		if !used {
			return port, true
		}
	}
	return 0, false
}

// natOutbound applies every NAT on the way out of src toward dst and
// returns the source the destination will see. n.mu is held.
// If refs is not nil, the mappings used are appended to it.
func (n *Network) natOutbound(p proto, src, dst netip.AddrPort, now time.Time, refs *[]natRef) (netip.AddrPort, bool) {
	var used []bool
	for range n.nats {
		idx := -1
		for i, t := range n.nats {
			if (used == nil || !used[i]) && t.inside.Contains(src.Addr()) && !t.inside.Contains(dst.Addr()) {
				idx = i
				break
			}
		}
		if idx < 0 {
			break
		}
		m, ok := n.nats[idx].outbound(p, src, dst, now)
		if !ok {
			return netip.AddrPort{}, false
		}
		if refs != nil {
			*refs = append(*refs, natRef{t: n.nats[idx], m: m})
		}
		if used == nil {
			used = make([]bool, len(n.nats))
		}
		used[idx] = true
		src = netip.AddrPortFrom(n.nats[idx].public, m.port) // an enclosing NAT may apply next
	}
	return src, true
}

// natInbound follows NATs on the way in to dst and returns the inside
// destination, or false if a NAT drops the datagram. n.mu is held.
func (n *Network) natInbound(p proto, dst, src netip.AddrPort, now time.Time) (netip.AddrPort, bool) {
	for range len(n.nats) + 1 {
		t := n.natByPublic(dst.Addr())
		if t == nil {
			return dst, true
		}
		inside, ok := t.inbound(p, dst.Port(), src, now)
		if !ok {
			return netip.AddrPort{}, false
		}
		dst = inside
	}
	return dst, true
}

func (n *Network) natByPublic(a netip.Addr) *NAT {
	for _, t := range n.nats {
		if t.public == a {
			return t
		}
	}
	return nil
}

// natRef names a mapping of a stream connection, to release it on close.
type natRef struct {
	t *NAT
	m *mapping
}

// releaseNAT removes stream mappings. n.mu is held.
func releaseNAT(refs []natRef) {
	for _, r := range refs {
		r.t.tables[protoTCP].remove(r.m)
	}
}
