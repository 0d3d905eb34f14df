package memnet

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Network is an in-memory IP network. Any IPv4 or IPv6 address can be bound;
// there are no interfaces or routes, every address reaches every other
// except where a [NAT] is in the way. A Network is safe for concurrent use.
//
// A Network must be created and used either inside one synctest bubble or
// outside any bubble, because it owns a timer and channels.
type Network struct {
	mu     sync.Mutex
	closed bool
	// down is closed, readable without mu (see Conn.shut).
	down  atomic.Bool
	cfg   Config
	rng   *rand.Rand
	def   Conditions
	links []link
	stats Stats

	udp       map[uint16][]*PacketConn
	listeners map[uint16][]*Listener
	tcpLocal  map[netip.AddrPort]int // local addresses of dialed stream conns
	conns     map[*Conn]struct{}
	nextPort  [2]uint16 // next ephemeral port per proto
	nats      []*NAT

	// Datagrams in flight, ordered by arrival time then by send order.
	events  eventHeap
	seq     uint64
	held    map[pathKey]*event // reordered datagrams waiting for a successor
	timer   *time.Timer        // fires at the earliest event; nil until first needed
	timerAt time.Time
}

// New returns a Network configured by cfg (see [Config] for the defaults of
// zero fields).
func New(cfg Config) *Network {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	return &Network{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		def:       cfg.conditions().normalized(),
		udp:       map[uint16][]*PacketConn{},
		listeners: map[uint16][]*Listener{},
		tcpLocal:  map[netip.AddrPort]int{},
		conns:     map[*Conn]struct{}{},
		nextPort:  [2]uint16{ephemeralFirst, ephemeralFirst},
		held:      map[pathKey]*event{},
	}
}

// SetConditions replaces the network-wide default conditions for datagrams
// sent from now on. Probabilities are clamped to [0, 1] and negative
// durations to zero.
func (n *Network) SetConditions(c Conditions) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.def = c.normalized()
}

// SetLink overrides the conditions of datagrams (and the latency of stream
// bytes) whose source IP is in from and whose destination IP is in to. It is
// directional: call it twice for both directions. Source and destination
// are the addresses as the sender sees them, before any NAT translation.
// When several links match, the one set last wins.
func (n *Network) SetLink(from, to netip.Prefix, c Conditions) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links = append(n.links, link{from: from, to: to, cond: c.normalized()})
}

// ClearLinks removes every override set by SetLink.
func (n *Network) ClearLinks() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links = nil
}

// conditionsFor returns the conditions of the path src → dst. n.mu is held.
func (n *Network) conditionsFor(src, dst netip.Addr) Conditions {
	for _, l := range slices.Backward(n.links) {
		if l.from.Contains(src) && l.to.Contains(dst) {
			return l.cond
		}
	}
	return n.def
}

// latency returns the one-way stream latency from src to dst.
func (n *Network) latency(src, dst netip.Addr) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conditionsFor(src, dst).Latency
}

// Stats returns a snapshot of the counters.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Close closes every socket, listener and connection of the network, drops
// datagrams in flight, and makes further calls fail with net.ErrClosed. It is
// idempotent.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.down.Store(true)
	var pcs []*PacketConn
	for _, l := range n.udp {
		pcs = append(pcs, l...)
	}
	var ls []*Listener
	for _, l := range n.listeners {
		ls = append(ls, l...)
	}
	cs := make([]*Conn, 0, len(n.conns))
	for c := range n.conns {
		cs = append(cs, c)
	}
	if n.timer != nil {
		n.timer.Stop()
	}
	n.events = nil
	clear(n.held)
	n.mu.Unlock()

	for _, c := range pcs {
		c.Close()
	}
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.Close()
	}
	return nil
}

// ListenPacket binds a datagram socket. network is "udp", "udp4" or "udp6";
// address is "ip:port" with an IP literal or "localhost". Port 0 picks a free
// ephemeral port. An empty or unspecified IP binds every address of the
// family ("[::]" and "" are dual-stack); such a socket sends from the
// loopback address of the destination's family. ctx is only checked for
// cancellation: binding never blocks.
func (n *Network) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return n.listenPacket(ctx, nil, network, address)
}

// Listen binds a stream listener. network is "tcp", "tcp4" or "tcp6";
// addresses are as for [Network.ListenPacket].
func (n *Network) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return n.listen(ctx, nil, network, address)
}

// DialContext connects to address. For "udp", "udp4" and "udp6" it returns a
// connected datagram socket (a *[PacketConn]): like a real connected UDP
// socket it succeeds whether or not anybody listens, sends only to address,
// and receives only from it. For "tcp", "tcp4" and "tcp6" it returns a
// *[Conn], or an error wrapping syscall.ECONNREFUSED if no listener is bound
// at address or its backlog is full.
//
// The local address is the loopback address of the destination's family with
// an ephemeral port; use [Network.Host] to dial from another address.
// Connection setup takes no time (there is no simulated handshake); Latency
// applies to the bytes that follow. ctx is only checked for cancellation.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.dial(ctx, nil, network, address)
}

// Host returns a view of the network as one machine that owns addrs, for
// example a client behind a NAT. Its ListenPacket, Listen and DialContext
// bind addrs instead of wildcard and loopback addresses.
func (n *Network) Host(addrs ...netip.Addr) *Host {
	h := &Host{n: n}
	for _, a := range addrs {
		h.addrs = append(h.addrs, a.Unmap().WithZone(""))
	}
	return h
}

// Host is a machine on a [Network] with a fixed set of addresses. It has the
// same methods as the Network, which makes it a drop-in "dialer and
// listener" for code under test. The zero Host is not usable.
type Host struct {
	n     *Network
	addrs []netip.Addr
}

// Addrs returns the host's addresses.
func (h *Host) Addrs() []netip.Addr { return slices.Clone(h.addrs) }

// ListenPacket binds a datagram socket on the host. An empty or unspecified
// IP in address means the host's first address of the family.
func (h *Host) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return h.n.listenPacket(ctx, h, network, address)
}

// Listen binds a stream listener on the host, with addresses as for
// [Host.ListenPacket].
func (h *Host) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return h.n.listen(ctx, h, network, address)
}

// DialContext is [Network.DialContext] from the host's first address of the
// destination's family.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return h.n.dial(ctx, h, network, address)
}

// localIP picks the address to bind. want is the requested IP (maybe
// unspecified); dst, when valid, is a destination whose family decides.
func (h *Host) localIP(want netip.Addr, fam family, dst netip.Addr) (netip.Addr, error) {
	if !want.IsUnspecified() {
		if slices.Contains(h.addrs, want) {
			return want, nil
		}
		return netip.Addr{}, errno("bind", syscall.EADDRNOTAVAIL)
	}
	want4 := fam == family4 || (fam == familyAny && dst.IsValid() && dst.Is4())
	want6 := fam == family6 || (fam == familyAny && dst.IsValid() && dst.Is6())
	for _, a := range h.addrs {
		if (want4 && a.Is4()) || (want6 && a.Is6()) || (!want4 && !want6) {
			return a, nil
		}
	}
	return netip.Addr{}, errno("bind", syscall.EADDRNOTAVAIL)
}

func opErr(op, network string, src, dst net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Source: src, Addr: dst, Err: err}
}

// listenAddr checks a listen call for protocol want and returns the
// address to bind: the requested one, or for a host, its local address.
func listenAddr(ctx context.Context, h *Host, want proto, network, address string, toAddr func(netip.AddrPort) net.Addr) (ip netip.Addr, ap netip.AddrPort, err error) {
	p, fam, err := parseNetwork(network)
	if err == nil && p != want {
		err = net.UnknownNetworkError(network)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		ap, err = parseAddress(fam, address)
	}
	if err != nil {
		return ip, ap, opErr("listen", network, nil, nil, err)
	}
	ip = ap.Addr()
	if h != nil {
		if ip, err = h.localIP(ip, fam, netip.Addr{}); err != nil {
			return ip, ap, opErr("listen", network, nil, toAddr(ap), err)
		}
	}
	return ip, ap, nil
}

func (n *Network) listenPacket(ctx context.Context, h *Host, network, address string) (net.PacketConn, error) {
	ip, ap, err := listenAddr(ctx, h, protoUDP, network, address, func(ap netip.AddrPort) net.Addr { return udpAddr(ap) })
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	c, err := n.bindUDP(network, netip.AddrPortFrom(ip, ap.Port()), netip.AddrPort{})
	if err != nil {
		return nil, opErr("listen", network, nil, udpAddr(ap), err)
	}
	return c, nil
}

func (n *Network) listen(ctx context.Context, h *Host, network, address string) (net.Listener, error) {
	ip, ap, err := listenAddr(ctx, h, protoTCP, network, address, func(ap netip.AddrPort) net.Addr { return tcpAddr(ap) })
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, opErr("listen", network, nil, tcpAddr(ap), net.ErrClosed)
	}
	port := ap.Port()
	if port == 0 {
		if port, err = n.ephemeral(protoTCP, ip); err != nil {
			return nil, opErr("listen", network, nil, tcpAddr(ap), err)
		}
	} else if n.portBusy(protoTCP, ip, port) {
		return nil, opErr("listen", network, nil, tcpAddr(ap), errno("bind", syscall.EADDRINUSE))
	}
	l := &Listener{
		n:      n,
		net:    network,
		addr:   netip.AddrPortFrom(ip, port),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	n.listeners[port] = append(n.listeners[port], l)
	return l, nil
}

// bindUDP creates a socket at local (port 0: ephemeral). n.mu is held.
func (n *Network) bindUDP(network string, local, remote netip.AddrPort) (*PacketConn, error) {
	if n.closed {
		return nil, net.ErrClosed
	}
	port := local.Port()
	if port == 0 {
		var err error
		if port, err = n.ephemeral(protoUDP, local.Addr()); err != nil {
			return nil, err
		}
	} else if n.portBusy(protoUDP, local.Addr(), port) {
		return nil, errno("bind", syscall.EADDRINUSE)
	}
	c := &PacketConn{
		n:      n,
		net:    network,
		laddr:  netip.AddrPortFrom(local.Addr(), port),
		raddr:  remote,
		max:    n.cfg.QueueLen,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		rd:     newDeadline(),
		wd:     newDeadline(),
	}
	n.udp[port] = append(n.udp[port], c)
	return c, nil
}

// portBusy reports whether binding ip:port would overlap an existing
// binding. n.mu is held.
func (n *Network) portBusy(p proto, ip netip.Addr, port uint16) bool {
	if p == protoUDP {
		for _, c := range n.udp[port] {
			if conflicts(c.laddr.Addr(), ip) {
				return true
			}
		}
		return false
	}
	for _, l := range n.listeners[port] {
		if conflicts(l.addr.Addr(), ip) {
			return true
		}
	}
	return n.tcpLocal[netip.AddrPortFrom(ip, port)] > 0
}

// ephemeral picks a free port for ip, cycling through the dynamic range so
// that ports are not reused soon. n.mu is held.
func (n *Network) ephemeral(p proto, ip netip.Addr) (uint16, error) {
	for range ephemeralLast - ephemeralFirst + 1 {
		port := n.nextPort[p]
		if port == ephemeralLast {
			n.nextPort[p] = ephemeralFirst
		} else {
			n.nextPort[p]++
		}
		if !n.portBusy(p, ip, port) {
			return port, nil
		}
	}
	return 0, ErrNoPorts
}

func (n *Network) dial(ctx context.Context, h *Host, network, address string) (net.Conn, error) {
	p, fam, err := parseNetwork(network)
	if err != nil {
		return nil, opErr("dial", network, nil, nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr("dial", network, nil, nil, err)
	}
	dst, err := parseAddress(fam, address)
	if err != nil {
		return nil, opErr("dial", network, nil, nil, err)
	}
	if dst.Addr().IsUnspecified() { // like the net package: the local system
		dst = netip.AddrPortFrom(loopback(dst.Addr()), dst.Port())
	}
	var src netip.Addr
	if h != nil {
		if src, err = h.localIP(netip.IPv6Unspecified(), fam, dst.Addr()); err != nil {
			return nil, opErr("dial", network, nil, netAddr(p, dst), err)
		}
	} else {
		src = loopback(dst.Addr())
	}
	if src.Is4() != dst.Addr().Is4() {
		return nil, opErr("dial", network, nil, netAddr(p, dst), errno("connect", syscall.EAFNOSUPPORT))
	}
	if p == protoUDP {
		n.mu.Lock()
		defer n.mu.Unlock()
		c, err := n.bindUDP(network, netip.AddrPortFrom(src, 0), dst)
		if err != nil {
			return nil, opErr("dial", network, nil, udpAddr(dst), err)
		}
		return c, nil
	}
	return n.dialStream(network, src, dst)
}

// unbindUDP forgets c. n.mu is held.
func (n *Network) unbindUDP(c *PacketConn) {
	port := c.laddr.Port()
	n.udp[port] = slices.DeleteFunc(n.udp[port], func(x *PacketConn) bool { return x == c })
	if len(n.udp[port]) == 0 {
		delete(n.udp, port)
	}
}

// lookupUDP returns the socket that receives datagrams for dst: an exact
// binding first, then a wildcard one. n.mu is held.
func (n *Network) lookupUDP(dst netip.AddrPort) *PacketConn {
	var wild *PacketConn
	for _, c := range n.udp[dst.Port()] {
		if c.laddr.Addr() == dst.Addr() {
			return c
		}
		if covers(c.laddr.Addr(), dst.Addr()) && (wild == nil || wild.laddr.Addr().Is6()) {
			wild = c
		}
	}
	return wild
}

// pathKey identifies a one-way datagram path for reordering.
type pathKey struct{ src, dst netip.AddrPort }

// event is a datagram in flight.
type event struct {
	due     time.Time
	seq     uint64
	index   int
	payload []byte
	src     netip.AddrPort // source as the receiver will see it (after NAT)
	dst     netip.AddrPort // destination as addressed by the sender
	path    pathKey
	held    bool // waiting in Network.held for a successor
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *eventHeap) Push(x any) {
	e := x.(*event)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// sendDatagram applies the path's conditions to one datagram from c to dst
// and schedules its arrival. n.mu is held.
func (n *Network) sendDatagram(c *PacketConn, dst netip.AddrPort, b []byte) error {
	if n.closed {
		return net.ErrClosed
	}
	src := c.laddr
	if src.Addr().IsUnspecified() {
		src = netip.AddrPortFrom(loopback(dst.Addr()), src.Port())
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		return errno("sendto", syscall.EAFNOSUPPORT)
	}
	now := time.Now()
	if cond := n.conditionsFor(src.Addr(), dst.Addr()); cond.Refuse > 0 && n.rng.Float64() < cond.Refuse {
		n.stats.RefusedWrites++
		return errno("sendto", syscall.EPERM)
	}
	n.stats.Sent++
	// The NAT sees the datagram before the path can lose it.
	wireSrc, ok := n.natOutbound(protoUDP, src, dst, now, nil)
	if !ok {
		n.stats.Filtered++
		return nil
	}
	cond := n.conditionsFor(src.Addr(), dst.Addr())
	if len(b) > cond.MTU {
		n.stats.TooBig++
		return nil
	}
	if cond.Loss > 0 && n.rng.Float64() < cond.Loss {
		n.stats.Lost++
		return nil
	}
	dup := cond.Duplicate > 0 && n.rng.Float64() < cond.Duplicate
	reorder := cond.Reorder > 0 && n.rng.Float64() < cond.Reorder
	path := pathKey{src: src, dst: dst}
	ev := &event{
		due:     now.Add(cond.Latency + n.jitter(cond)),
		payload: append([]byte(nil), b...),
		src:     wireSrc,
		dst:     dst,
		path:    path,
	}
	held := n.held[path]
	if reorder && held == nil {
		ev.due = ev.due.Add(cond.ReorderHold)
		ev.held = true
		n.held[path] = ev
		n.stats.Reordered++
		n.schedule(ev)
	} else {
		n.schedule(ev)
		if held != nil { // release the held datagram right behind this one
			delete(n.held, path)
			held.held = false
			held.due = ev.due
			n.seq++
			held.seq = n.seq
			heap.Fix(&n.events, held.index)
		}
	}
	if dup {
		n.stats.Duplicated++
		cp := *ev
		cp.held = false
		cp.due = now.Add(cond.Latency + n.jitter(cond))
		n.schedule(&cp)
	}
	n.runDue(now)
	return nil
}

func (n *Network) jitter(c Conditions) time.Duration {
	if c.Jitter <= 0 {
		return 0
	}
	return time.Duration(n.rng.Int64N(int64(c.Jitter) + 1))
}

// schedule queues ev. n.mu is held; the caller runs runDue afterwards.
func (n *Network) schedule(ev *event) {
	n.seq++
	ev.seq = n.seq
	heap.Push(&n.events, ev)
}

// runDue delivers every datagram due at now and re-arms the timer for the
// next one. n.mu is held.
func (n *Network) runDue(now time.Time) {
	for len(n.events) > 0 && !n.events[0].due.After(now) {
		ev := heap.Pop(&n.events).(*event)
		if ev.held {
			delete(n.held, ev.path)
		}
		n.arrive(ev, now)
	}
	if len(n.events) == 0 {
		if n.timer != nil {
			n.timer.Stop()
		}
		n.timerAt = time.Time{}
		return
	}
	next := n.events[0].due
	if next.Equal(n.timerAt) {
		return
	}
	n.timerAt = next
	if n.timer == nil {
		n.timer = time.AfterFunc(next.Sub(now), n.onTimer)
	} else {
		n.timer.Reset(next.Sub(now))
	}
}

func (n *Network) onTimer() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.timerAt = time.Time{}
	n.runDue(time.Now())
}

// arrive hands a datagram to the receiving socket, through any NAT on the
// way in. n.mu is held.
func (n *Network) arrive(ev *event, now time.Time) {
	dst, ok := n.natInbound(protoUDP, ev.dst, ev.src, now)
	if !ok {
		n.stats.Filtered++
		return
	}
	c := n.lookupUDP(dst)
	if c == nil {
		n.stats.Unreachable++
		return
	}
	switch c.enqueue(datagram{b: ev.payload, src: ev.src}) {
	case enqueued:
		n.stats.Delivered++
	case queueFull:
		n.stats.QueueFull++
	default:
		n.stats.Unreachable++
	}
}
