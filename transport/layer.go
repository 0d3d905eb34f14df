package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Layer owns the listeners and connections of a SIP element: it reads
// messages and hands them to the Handler bound with Serve, and sends
// requests and responses as the transaction layer asks (it implements
// transaction.Transport). Create it with New, bind it with Serve, then Listen; stop it
// with Close.
type Layer struct {
	cfg    Config
	h      Handler         // set once by Serve, before any reader goroutine exists
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the layer

	mu     sync.Mutex
	closed bool
	udp    []*udpSock
	lns    []*streamListener
	conns  map[uint64]*conn
	pool   map[poolKey]*conn
	routes map[netip.Addr]netip.Addr // destination → local address, for wildcard UDP sockets

	closeOnce sync.Once
	nextID    atomic.Uint64
	nconns    atomic.Int64
	idle      chan *conn // idle reader goroutines take new connections here (readers.go)

	readersStarted atomic.Uint64 // reader goroutines started (readers.go)
	readersIdle    atomic.Int64  // reader goroutines waiting for a connection
	bufs           sync.Pool     // *[]byte scratch for serialization
	st             counters
}

// poolKey finds a connection by network and remote address (RFC 5923-style
// reuse: the peer's source address, and its advertised sent-by for
// alias connections).
type poolKey struct {
	network Network
	addr    netip.AddrPort
}

// maxRoutes bounds the cache of local addresses chosen per destination.
const maxRoutes = 1024

// New returns a layer configured by cfg; it listens on nothing until
// Listen is called.
func New(cfg Config) (*Layer, error) {
	cfg = cfg.withDefaults()
	if cfg.MaxConns < 0 || cfg.MaxConnsPerListener < 0 {
		return nil, fmt.Errorf("transport: negative connection limit")
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Layer{
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[uint64]*conn),
		pool:   make(map[poolKey]*conn),
		routes: make(map[netip.Addr]netip.Addr),
		idle:   make(chan *conn),
	}
	l.bufs.New = func() any {
		b := make([]byte, 0, 2048)
		return &b
	}
	return l, nil
}

// Serve binds h as the handler of every message the layer reads and every
// flow failure it reports. It must be called once, before Listen and
// before the first send opens a connection, so that no message is read
// before someone is there to take it: a second call fails with
// ErrAlreadyServing, a call after a listener or connection exists with
// ErrServeTooLate. Until Serve, what the layer reads is dropped.
//
// The transaction layer calls Serve itself (transaction.New); a program
// that uses the transport alone calls it with its own Handler.
func (l *Layer) Serve(h Handler) error {
	if h == nil {
		return ErrNilHandler
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.h != nil:
		return ErrAlreadyServing
	case len(l.udp) > 0 || len(l.lns) > 0 || len(l.conns) > 0:
		return ErrServeTooLate
	}
	l.h = h
	return nil
}

// Listen opens a listener of the given network on addr ("host:port"; port
// 0 picks one; IPv6 in brackets) and returns the bound address. TLS and WSS
// need Config.TLS. ctx bounds the setup only.
func (l *Layer) Listen(ctx context.Context, network Network, addr string) (net.Addr, error) {
	if l.isClosed() {
		return nil, ErrClosed
	}
	switch network {
	case UDP:
		return l.listenUDP(ctx, addr)
	case TCP, TLS, WS, WSS:
		if network.Secure() && l.cfg.TLS == nil {
			return nil, ErrNoTLSConfig
		}
		return l.listenStream(ctx, network, addr)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownNetwork, network)
}

// Close closes every listener and connection and returns once every
// goroutine of the layer has ended. It is idempotent. Flow errors are not
// reported for connections Close ends.
func (l *Layer) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		udp, lns := l.udp, l.lns
		conns := make([]*conn, 0, len(l.conns))
		for _, c := range l.conns {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		l.cancel()
		for _, s := range udp {
			_ = s.pc.Close()
		}
		for _, sl := range lns {
			_ = sl.ln.Close()
		}
		for _, c := range conns {
			c.close(ErrClosed)
		}
	})
	l.wg.Wait()
	return nil
}

func (l *Layer) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// start registers a goroutine unless the layer is closed; the caller runs
// it and calls l.wg.Done when it ends.
func (l *Layer) start() bool { return l.track(nil) }

// track is the layer's one "count a goroutine unless closed": under l.mu,
// false when the layer is closed; otherwise it runs add (which records
// what the goroutine serves in the layer's tables, nil when nothing) and
// counts the goroutine in l.wg, so that Close, which sets closed under the
// same lock, either sees the entry and waits for its goroutine or the
// caller sees closed and starts none. internal/lifecycle.Group cannot do
// this: the check and the tables must change under the one mutex.
func (l *Layer) track(add func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if add != nil {
		add()
	}
	l.wg.Add(1)
	return true
}

// deliver stamps a request's Via (a datagram's was stamped when it was
// parsed, parseDatagram) and hands the message to the handler; c is the
// stream connection it came on, nil for a datagram.
func (l *Layer) deliver(m sip.Message, f Flow, at time.Time, c *conn) {
	if req, ok := m.(*sip.Request); ok && c != nil {
		stampReceived(req, f.Remote)
		l.noteAlias(c, req)
	}
	l.st.messagesIn.Add(1)
	if h := l.h; h != nil {
		h.HandleMessage(Incoming{Msg: m, Flow: f, At: at})
	}
}

func (l *Layer) trace(d Direction, f Flow, b []byte, at time.Time) {
	if t := l.cfg.Tracer; t != nil {
		t.Trace(TraceEvent{Time: at, Direction: d, Flow: f, Data: b})
	}
}

func (l *Layer) getBuf() *[]byte { return l.bufs.Get().(*[]byte) }

func (l *Layer) putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // do not keep huge buffers
	}
	*b = (*b)[:0]
	l.bufs.Put(b)
}

func (l *Layer) warn(msg string, f Flow, err error) {
	lg := l.cfg.Logger
	if !lg.Enabled(l.ctx, slog.LevelWarn) {
		return
	}
	lg.LogAttrs(l.ctx, slog.LevelWarn, msg,
		slog.String("transport", string(f.Network)),
		slog.String("raddr", f.Remote.String()),
		slog.String("laddr", f.Local.String()),
		slog.Any("err", err))
}

func (l *Layer) debug(msg string, f Flow, err error) {
	lg := l.cfg.Logger
	if !lg.Enabled(l.ctx, slog.LevelDebug) {
		return
	}
	lg.LogAttrs(l.ctx, slog.LevelDebug, msg,
		slog.String("transport", string(f.Network)),
		slog.String("raddr", f.Remote.String()),
		slog.String("laddr", f.Local.String()),
		slog.Any("err", err))
}

// SendRequest sends req to t . It fills the top Via (transport,
// sent-by of the listener or connection it leaves from, rport; the branch
// is kept) and returns the flow used. A UDP request larger than
// MaxUDPRequest goes over TCP unless t.Pinned (RFC 3261 §18.1.1). Stream
// targets reuse a connection to t.Addr when one is open (one the peer
// opened included, RFC 5923) and dial one otherwise. Failures to connect
// or write wrap ErrUnreachable. ctx bounds connection setup and the write.
func (l *Layer) SendRequest(ctx context.Context, req *sip.Request, t Target) (Flow, error) {
	if l.isClosed() {
		return Flow{}, ErrClosed
	}
	dst := unmapAP(t.Addr)
	if !dst.IsValid() {
		return Flow{}, fmt.Errorf("%w: invalid target address", ErrUnreachable)
	}
	n := t.Network
	switch n {
	case UDP:
		s := l.udpFor(dst)
		if s == nil {
			return Flow{}, fmt.Errorf("%w: udp for %v", ErrNoListener, dst)
		}
		stampVia(req, UDP, l.udpSentBy(s, dst))
		bp := l.getBuf()
		b := req.AppendTo((*bp)[:0])
		*bp = b
		if len(b) > MaxUDPRequest && !t.Pinned {
			l.putBuf(bp)
			l.st.udpToTCP.Add(1)
			n = TCP
			break
		}
		f := Flow{Network: UDP, Local: s.local, Remote: dst}
		err := l.writeUDP(s, b, dst, f)
		l.putBuf(bp)
		return f, err
	case TCP, TLS, WS, WSS:
	default:
		return Flow{}, fmt.Errorf("%w: %q", ErrUnknownNetwork, n)
	}
	c, err := l.getConn(ctx, n, dst, t.ServerName)
	if err != nil {
		return Flow{}, err
	}
	stampVia(req, n, l.streamSentBy(c))
	return c.flow(), l.sendConn(ctx, c, req)
}

// SendResponse sends res for a request that arrived on f , per RFC
// 3261 §18.2.2 and RFC 3581 §4: on a stream, over the request's connection
// while it is open, else over a connection to the top Via's received
// address (or sent-by host) and sent-by port (not for WS, whose clients do
// not accept connections, RFC 7118 §5); on UDP, from the socket the request
// arrived on to the maddr, else received and rport, else received and the
// sent-by port, else the sent-by address.
func (l *Layer) SendResponse(ctx context.Context, res *sip.Response, f Flow) error {
	if l.isClosed() {
		return ErrClosed
	}
	v, err := res.TopVia()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoVia, err)
	}
	if f.Network == UDP {
		dst := unreliableDest(&v, unmapAP(f.Remote))
		if !dst.IsValid() {
			return fmt.Errorf("%w: no address for the response", ErrUnreachable)
		}
		s := l.udpByLocal(f.Local, dst)
		if s == nil {
			return fmt.Errorf("%w: udp for %v", ErrNoListener, dst)
		}
		return l.sendUDP(s, res, dst)
	}
	if c := l.connByID(f.Conn); c != nil {
		err := l.sendConn(ctx, c, res)
		if err == nil || f.Network == WS || f.Network == WSS {
			return err
		}
	}
	if f.Network == WS || f.Network == WSS {
		return fmt.Errorf("%w: websocket connection %d is gone", ErrUnreachable, f.Conn)
	}
	dst := reliableDest(&v, f.Network, unmapAP(f.Remote))
	if !dst.IsValid() {
		return fmt.Errorf("%w: no address for the response", ErrUnreachable)
	}
	c, err := l.getConn(ctx, f.Network, dst, "")
	if err != nil {
		return err
	}
	return l.sendConn(ctx, c, res)
}

// SendOn sends m unchanged on flow f : retransmissions, ACK for
// non-2xx responses. On UDP it goes from f.Local to f.Remote; on a stream
// over connection f.Conn, or, when that is gone, over any open connection
// to f.Remote. A response whose connection is gone is routed as
// SendResponse does.
func (l *Layer) SendOn(ctx context.Context, m sip.Message, f Flow) error {
	if l.isClosed() {
		return ErrClosed
	}
	if f.Network == UDP {
		dst := unmapAP(f.Remote)
		s := l.udpByLocal(f.Local, dst)
		if s == nil {
			return fmt.Errorf("%w: udp for %v", ErrNoListener, dst)
		}
		return l.sendUDP(s, m, dst)
	}
	c := l.connByID(f.Conn)
	if c == nil {
		c = l.pooled(f.Network, unmapAP(f.Remote))
	}
	if c == nil {
		if res, ok := m.(*sip.Response); ok {
			return l.SendResponse(ctx, res, f)
		}
		return fmt.Errorf("%w: connection %d is gone", ErrUnreachable, f.Conn)
	}
	return l.sendConn(ctx, c, m)
}

// KeepAlive starts (on) or stops RFC 5626 §4.4.1 keepalives on a stream
// flow: a CRLF ping (a WebSocket ping on WS and WSS) every
// KeepaliveInterval; a pong that does not come within DeadFlowTimeout
// closes the flow and reports ErrDeadFlow to Handler.HandleFlowError.
func (l *Layer) KeepAlive(f Flow, on bool) error {
	if f.Network == UDP {
		return ErrKeepaliveUnsupported
	}
	c := l.connByID(f.Conn)
	if c == nil {
		return fmt.Errorf("%w: connection %d is gone", ErrUnreachable, f.Conn)
	}
	c.setKeepalive(on)
	return nil
}

func (l *Layer) sendUDP(s *udpSock, m sip.Message, dst netip.AddrPort) error {
	bp := l.getBuf()
	b := m.AppendTo((*bp)[:0])
	*bp = b
	err := l.writeUDP(s, b, dst, Flow{Network: UDP, Local: s.local, Remote: dst})
	l.putBuf(bp)
	return err
}

func (l *Layer) sendConn(ctx context.Context, c *conn, m sip.Message) error {
	bp := l.getBuf()
	b := m.AppendTo((*bp)[:0])
	*bp = b
	err := c.write(ctx, b)
	if err == nil {
		l.st.messagesOut.Add(1)
		l.trace(Out, c.flow(), b, time.Now())
	}
	l.putBuf(bp)
	return err
}

// getConn returns an open connection to dst on network n, dialing one when
// none is pooled. A WS target with a secure WebSocket connection to dst
// and no plain one rides that connection: RFC 7118 §10.3 defines the URI
// transport value "ws" alone (secure is the sips scheme's), so a proxy's
// Record-Route for its WSS socket says transport=ws (Kamailio does), and
// dialing plain WebSocket to a TLS port would fail.
func (l *Layer) getConn(ctx context.Context, n Network, dst netip.AddrPort, serverName string) (*conn, error) {
	if c := l.pooled(n, dst); c != nil {
		return c, nil
	}
	if n == WS {
		if c := l.pooled(WSS, dst); c != nil {
			return c, nil
		}
	}
	return l.dial(ctx, n, dst, serverName)
}

func (l *Layer) pooled(n Network, dst netip.AddrPort) *conn {
	l.mu.Lock()
	c := l.pool[poolKey{n, dst}]
	l.mu.Unlock()
	if c == nil || c.isClosed() {
		return nil
	}
	return c
}

func (l *Layer) connByID(id uint64) *conn {
	if id == 0 {
		return nil
	}
	l.mu.Lock()
	c := l.conns[id]
	l.mu.Unlock()
	if c == nil || c.isClosed() {
		return nil
	}
	return c
}

// register adds a connection to the tables and counts its reader
// goroutine; false when the layer is closed.
func (l *Layer) register(c *conn) bool {
	return l.track(func() {
		l.conns[c.id] = c
		k := poolKey{c.network, c.remote}
		l.pool[k] = c
		c.keys = append(c.keys, k)
	})
}

func (l *Layer) unregister(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c.id)
	for _, k := range c.keys {
		if l.pool[k] == c {
			delete(l.pool, k)
		}
	}
	c.keys = nil
}

// noteAlias makes a connection the peer opened reachable under the
// sent-by of its requests' Via when the Via carries the alias parameter
// (RFC 5923 §5) and the sent-by is an IP address.
func (l *Layer) noteAlias(c *conn, req *sip.Request) {
	v, err := req.TopVia()
	if err != nil || !v.Params.Has("alias") {
		return
	}
	a, ok := parseHostIP(v.Host)
	if !ok {
		return
	}
	port := uint16(v.Port)
	if port == 0 {
		port = defaultPort(c.network)
	}
	k := poolKey{c.network, netip.AddrPortFrom(a, port)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.isClosed() || l.pool[k] == c {
		return
	}
	l.pool[k] = c
	c.keys = append(c.keys, k)
}

// streamSentBy is the sent-by for a request leaving on c: the address of
// a listener of the same network and family (so that responses on a new
// connection find us, §18.2.2), with the connection's local IP when that
// listener is bound to a wildcard address; else the connection's own local
// address.
func (l *Layer) streamSentBy(c *conn) netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sl := range l.lns {
		if sl.network != c.network || sl.addr.Addr().Is4() != c.local.Addr().Is4() {
			continue
		}
		if sl.addr.Addr().IsUnspecified() {
			return netip.AddrPortFrom(c.local.Addr(), sl.addr.Port())
		}
		return sl.addr
	}
	return c.local
}

// Stats counts what the layer did since New.
type Stats struct {
	// MessagesIn and MessagesOut count messages handed to the handler and
	// sent.
	MessagesIn, MessagesOut uint64
	// MalformedDatagrams counts UDP datagrams that did not parse (dropped,
	// answered 400 when possible).
	MalformedDatagrams uint64
	// MalformedStream counts stream connections closed because a message
	// did not parse or frame (answered 400 when possible).
	MalformedStream uint64
	// BadRequestsSent counts 400 responses the layer built itself for
	// requests that did not parse.
	BadRequestsSent uint64
	// ConnsAccepted and ConnsDialed count stream connections opened.
	ConnsAccepted, ConnsDialed uint64
	// ConnsRefused counts accepted connections closed at once because of
	// MaxConns or MaxConnsPerListener, and WebSocket handshakes refused.
	ConnsRefused uint64
	// MessageTimeouts, IdleCloses and DeadFlows count connections closed
	// by HeaderTimeout, IdleTimeout and DeadFlowTimeout.
	MessageTimeouts, IdleCloses, DeadFlows uint64
	// PingsAnswered and PingsSent count RFC 5626 CRLF keepalives.
	PingsAnswered, PingsSent uint64
	// UDPToTCP counts requests moved from UDP to TCP by size.
	UDPToTCP uint64
	// WriteErrors counts failed sends.
	WriteErrors uint64
	// DatagramsDropped counts the failed UDP sends that this host dropped
	// (ErrDatagramDropped: a firewall rule, a full send buffer); they are
	// among WriteErrors too.
	DatagramsDropped uint64
	// PortUnreachable counts ICMP port unreachable errors read from UDP
	// sockets (Linux), each reported to Handler.HandleFlowError.
	PortUnreachable uint64
}

type counters struct {
	messagesIn, messagesOut             atomic.Uint64
	malformedDatagrams, malformedStream atomic.Uint64
	badRequestsSent                     atomic.Uint64
	connsAccepted, connsDialed          atomic.Uint64
	connsRefused                        atomic.Uint64
	messageTimeouts, idleCloses         atomic.Uint64
	deadFlows                           atomic.Uint64
	pingsAnswered, pingsSent            atomic.Uint64
	udpToTCP, writeErrors               atomic.Uint64
	portUnreachable                     atomic.Uint64
	datagramsDropped                    atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (l *Layer) Stats() Stats {
	s := &l.st
	return Stats{
		MessagesIn:         s.messagesIn.Load(),
		MessagesOut:        s.messagesOut.Load(),
		MalformedDatagrams: s.malformedDatagrams.Load(),
		MalformedStream:    s.malformedStream.Load(),
		BadRequestsSent:    s.badRequestsSent.Load(),
		ConnsAccepted:      s.connsAccepted.Load(),
		ConnsDialed:        s.connsDialed.Load(),
		ConnsRefused:       s.connsRefused.Load(),
		MessageTimeouts:    s.messageTimeouts.Load(),
		IdleCloses:         s.idleCloses.Load(),
		DeadFlows:          s.deadFlows.Load(),
		PingsAnswered:      s.pingsAnswered.Load(),
		PingsSent:          s.pingsSent.Load(),
		UDPToTCP:           s.udpToTCP.Load(),
		WriteErrors:        s.writeErrors.Load(),
		PortUnreachable:    s.portUnreachable.Load(),
		DatagramsDropped:   s.datagramsDropped.Load(),
	}
}

// unmapAP turns an IPv4-mapped IPv6 address into IPv4 and drops zones from
// nothing else.
func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// addrPortOf converts a net.Addr from a socket to an AddrPort.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return unmapAP(a.AddrPort())
	case *net.TCPAddr:
		return unmapAP(a.AddrPort())
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return unmapAP(ap)
}

// isClosedErr reports errors that mean the socket was closed under us.
func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
