package ua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/lifecycle"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// UA is a SIP user agent: listeners, lines, calls and the layers beneath.
// Create it with New and stop it with Close. Its methods are safe for
// concurrent use.
type UA struct {
	cfg      Config
	log      *slog.Logger
	tp       *transport.Layer
	tx       *transaction.Layer
	slow     transaction.Handler // requests whose handling may block, each on a goroutine
	resolver transport.Resolver
	capabilities
	t1, t2 time.Duration

	listeners []listener
	lines     []*Line

	// baseCtx lives until Close; INVITE transactions run under it so that
	// the caller's context only bounds the caller's wait.
	baseCtx context.Context
	stop    context.CancelFunc

	mu       sync.Mutex
	contacts contactCache // Contacts formatted from a local address
	calls    map[dialog.ID]*Call
	setup    map[*Call]struct{}         // outgoing calls without a dialog yet
	incoming map[*IncomingCall]struct{} // incoming calls without a final response
	subs     subTable                   // subscription dialogs, ours and to us (RFC 6665)
	stopping bool                       // Close started: no new calls
	draining bool                       // Drain called: 503 to new work (drain.go)
	idle     chan struct{}              // closed when the last call ends while Drain waits
	nCalls   atomic.Int64

	// g owns the UA's goroutines (INVITE readers, registration loops,
	// timer callbacks, short tasks); Close shuts it and waits.
	g       lifecycle.Group
	clock   *clock             // every protocol timer of the UA
	ports   *rtp.PortAllocator // nil with Media.DisableMedia
	mediaWG sync.WaitGroup     // DTMF forwarders: end when their session closes

	// The DTLS-SRTP certificate of every call (media_dtls.go), made once.
	dtlsOnce  sync.Once
	dtlsCert  tls.Certificate
	dtlsFP    srtp.Fingerprint
	dtlsErr   error
	closeOnce sync.Once
	closeErr  error

	stunc   stunClient  // STUN transactions on the SIP UDP sockets (stun.go)
	started atomic.Bool // lines are built: transport callbacks may look at them
	met     metrics     // Stats (metrics.go)
	// Failover (failover.go): the targets that failed, shared by every
	// line and call, and the stray dialogs being ended.
	dead      *transport.DeadTargets
	strayByes strayByes
	numeric   transport.NumericResolver // the resolver's way for IP hosts, or nil
	// seLast keeps the wire form of the last Session-Expires and Min-SE
	// values made (seWire), seNext says which entry goes next.
	seLast [seWireKept]atomic.Pointer[seValue]
	seNext atomic.Uint32
}

type listener struct {
	network transport.Network
	addr    netip.AddrPort
}

// New starts a user agent: it opens the listeners of cfg, starts the
// transport and transaction layers and registers the lines that have a
// registrar (without waiting for the outcome: see Line.Register and
// Config.OnEvent).
func New(cfg Config) (*UA, error) {
	cfg.fill()
	u := &UA{
		cfg:   cfg,
		log:   cfg.Logger,
		calls: make(map[dialog.ID]*Call),
		setup: make(map[*Call]struct{}),
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Transaction.Handler != nil || cfg.Transport.OnFlowClosed != nil || cfg.Transport.OnSTUN != nil {
		return nil, ErrHandlerSet
	}
	u.t1 = cfg.Transaction.Timers.T1
	if u.t1 <= 0 {
		u.t1 = transaction.DefaultT1
	}
	u.t2 = cfg.Transaction.Timers.T2
	if u.t2 <= 0 {
		u.t2 = transaction.DefaultT2
	}
	u.capabilities = newCapabilities(&u.cfg)
	u.resolver = cfg.Resolver
	if u.resolver == nil {
		r, err := transport.NewDNSResolver(transport.DNSResolverConfig{})
		if err != nil {
			return nil, fmt.Errorf("ua: resolver: %w", err)
		}
		u.resolver = r
	}
	if !cfg.Media.DisableMedia {
		pa, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: cfg.Media.PortMin, Max: cfg.Media.PortMax})
		if err != nil {
			return nil, fmt.Errorf("ua: media: %w", err)
		}
		u.ports = pa
	}
	u.baseCtx, u.stop = context.WithCancel(context.Background())
	u.clock = newClock(u)
	u.dead = cfg.DeadTargets
	if u.dead == nil {
		u.dead = transport.NewDeadTargets(transport.DeadTargetsConfig{})
	}
	u.numeric, _ = u.resolver.(transport.NumericResolver)

	tc := cfg.Transport
	tc.Tracer = withoutKeys(tc.Tracer)
	if tc.Logger == nil {
		tc.Logger = cfg.Logger
	}
	tc.OnFlowClosed, tc.OnSTUN = u.flowClosed, u.onSTUN
	tp, err := transport.New(tc)
	if err != nil {
		u.stop()
		return nil, err
	}
	u.tp = tp
	u.slow = transaction.Go(transaction.HandlerFunc(u.serveSIP))
	xc := cfg.Transaction
	xc.Handler = handler{u}
	if xc.Logger == nil {
		xc.Logger = cfg.Logger
	}
	txl, err := transaction.New(tp, xc)
	if err != nil {
		u.stop()
		_ = tp.Close()
		return nil, err
	}
	u.tx = txl

	for _, lc := range cfg.Listen {
		a, err := tp.Listen(context.Background(), lc.Network, lc.Addr)
		if err != nil {
			u.abort()
			return nil, fmt.Errorf("ua: listen %s %s: %w", lc.Network, lc.Addr, err)
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			u.abort()
			return nil, fmt.Errorf("ua: listen %s %s: %w", lc.Network, lc.Addr, err)
		}
		u.listeners = append(u.listeners, listener{network: lc.Network, addr: ap})
	}
	for _, lc := range cfg.Lines {
		l, err := newLine(u, lc)
		if err != nil {
			u.abort()
			return nil, err
		}
		if l.mwi, err = newMWI(l); err != nil {
			u.abort()
			return nil, err
		}
		u.lines = append(u.lines, l)
	}
	u.started.Store(true)
	for _, l := range u.lines {
		if l.registrar != nil && !l.cfg.Manual {
			l.start()
		}
	}
	for _, l := range u.lines {
		if l.mwi != nil {
			l.mwi.start()
		}
	}
	return u, nil
}

func (u *UA) abort() {
	u.stop()
	_ = u.tx.Close()
	_ = u.tp.Close()
}

// Addrs returns the bound addresses of the listeners, in Config.Listen
// order.
func (u *UA) Addrs() []net.Addr {
	out := make([]net.Addr, 0, len(u.listeners))
	for _, l := range u.listeners {
		if l.network.Reliable() {
			out = append(out, net.TCPAddrFromAddrPort(l.addr))
		} else {
			out = append(out, net.UDPAddrFromAddrPort(l.addr))
		}
	}
	return out
}

// Lines returns the lines, in Config.Lines order.
func (u *UA) Lines() []*Line { return u.lines }

// builtLines is u.lines for the transport's goroutines, which start
// before New has built the lines: none until started says they are
// (its atomic orders New's writes before the read).
func (u *UA) builtLines() []*Line {
	if !u.started.Load() {
		return nil
	}
	return u.lines
}

// Calls returns the number of calls alive.
func (u *UA) Calls() int { return int(u.nCalls.Load()) }

// goTrack runs f on a goroutine Close waits for; it reports false (and does
// not run f) once the UA is closed.
func (u *UA) goTrack(f func()) bool { return u.g.Go(f) }

// afterFunc runs f d from now on the UA's clock (see clock): it must not
// block, and it does not run once the UA is closed.
func (u *UA) afterFunc(d time.Duration, f func()) *clockTimer {
	return u.clock.after(d, f)
}

// resolveNumeric is resolve's allocation-free path for a next hop that is
// an IP address (the resolver's NumericResolver, when it has one): the one
// target resolve would return.
func (u *UA) resolveNumeric(hop sip.URI, network transport.Network) (transport.Target, bool) {
	if u.numeric == nil {
		return transport.Target{}, false
	}
	return u.numeric.ResolveNumeric(hop, network)
}

// resolve returns the targets of u, with the transport parameter of net
// added when u has none.
func (u *UA) resolve(ctx context.Context, uri sip.URI, network transport.Network) ([]transport.Target, error) {
	if network != "" && !uri.Params.Has("transport") {
		uri.Params = uri.Params.Set("transport", string(network))
	}
	return u.resolver.Resolve(ctx, uri)
}

// nextHop is the URI a request goes to: its first Route, else its
// Request-URI (RFC 3261 §8.1.2).
func nextHop(req *sip.Request) sip.URI {
	if routes, err := req.Routes(); err == nil && len(routes) > 0 {
		return routes[0].URI
	}
	return req.URI
}

// send starts a client transaction for req toward its next hop, trying the
// resolved targets in order while sending fails (RFC 3263 §4.3).
func (u *UA) send(ctx, txCtx context.Context, req *sip.Request, network transport.Network) (*transaction.ClientTx, error) {
	if t, ok := u.resolveNumeric(nextHop(req), network); ok {
		return u.tx.Request(txCtx, req, t)
	}
	targets, err := u.resolve(ctx, nextHop(req), network)
	if err != nil {
		return nil, err
	}
	for i, t := range targets {
		var r *sip.Request
		if i < len(targets)-1 {
			r = req.Clone() // the transaction owns what it sends
		} else {
			r = req
		}
		tx, err := u.tx.Request(txCtx, r, t)
		if err == nil {
			return tx, nil
		}
		if !errors.Is(err, transaction.ErrTransport) || i == len(targets)-1 {
			return nil, err
		}
	}
	return nil, transport.ErrNoTargets
}

// sendAck sends an ACK for a 2xx (it is not a transaction, RFC 3261
// §17.1.1.3) and returns the flow it left on.
func (u *UA) sendAck(ctx context.Context, ack *sip.Request, network transport.Network) (transport.Flow, error) {
	if t, ok := u.resolveNumeric(nextHop(ack), network); ok {
		return u.tp.SendRequest(ctx, ack, t)
	}
	targets, err := u.resolve(ctx, nextHop(ack), network)
	if err != nil {
		return transport.Flow{}, err
	}
	return u.tp.SendRequest(ctx, ack, targets[0])
}

// listenerFor returns the listener of network n (the first one if none).
func (u *UA) listenerFor(n transport.Network) (listener, bool) {
	for _, l := range u.listeners {
		if l.network == n {
			return l, true
		}
	}
	if n == "" && len(u.listeners) > 0 {
		return u.listeners[0], true
	}
	return listener{}, false
}

// contactAddr returns the host:port to put in a Contact for requests over
// network n toward peer (used when the listener is bound to a wildcard).
func (u *UA) contactAddr(ctx context.Context, n transport.Network, peer sip.URI) (string, error) {
	l, ok := u.listenerFor(n)
	if !ok {
		return "", fmt.Errorf("%w %s", ErrNoListener, n)
	}
	host := ""
	switch {
	case !l.addr.Addr().IsUnspecified():
		host = l.addr.Addr().Unmap().String()
	case u.cfg.ContactHost != "":
		host = u.cfg.ContactHost
	default:
		host = u.outboundIP(ctx, peer)
	}
	return hostPort(host, int(l.addr.Port())), nil
}

// outboundIP finds the local address the system would use toward peer.
func (u *UA) outboundIP(ctx context.Context, peer sip.URI) string {
	if ts, err := u.resolver.Resolve(ctx, peer); err == nil && len(ts) > 0 {
		var c net.Conn
		if u.cfg.Transport.Net != nil {
			c, err = u.cfg.Transport.Net.DialContext(ctx, "udp", ts[0].Addr.String())
		} else {
			var d net.Dialer
			c, err = d.DialContext(ctx, "udp", ts[0].Addr.String())
		}
		if err == nil {
			defer c.Close()
			if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
				return ap.Addr().Unmap().String()
			}
		}
	}
	return "127.0.0.1"
}

func hostPort(host string, port int) string {
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// contactFor builds our Contact for user over network n toward peer.
func (u *UA) contactFor(ctx context.Context, user string, n transport.Network, peer sip.URI) (sip.Address, error) {
	if l, ok := u.listenerFor(n); ok && !l.addr.Addr().IsUnspecified() {
		return u.contacts.at(user, l.addr, n)
	}
	hp, err := u.contactAddr(ctx, n, peer)
	if err != nil {
		return sip.Address{}, err
	}
	return makeContact(user, hp, n)
}

func makeContact(user, hostport string, n transport.Network) (sip.Address, error) {
	s := "sip:"
	if user != "" {
		s += user + "@"
	}
	s += hostport
	if n != "" && n != transport.UDP {
		s += ";transport=" + string(n)
	}
	uri, err := sip.ParseURI(s)
	if err != nil {
		return sip.Address{}, fmt.Errorf("%w: %s", ErrBadTarget, s)
	}
	return sip.Address{URI: uri}, nil
}

// uriNetwork returns the network a URI asks for: its transport parameter,
// tls for sips, else "" (let resolution decide).
func uriNetwork(uri sip.URI) transport.Network {
	if t, ok := uri.Params.Get("transport"); ok {
		switch n := transport.Network(lower(t)); n {
		case transport.UDP, transport.TCP, transport.TLS, transport.WS, transport.WSS:
			return n
		}
	}
	if uri.Scheme == "sips" {
		return transport.TLS
	}
	return ""
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parseTarget parses a target given as text: a SIP URI, with "sip:" added
// when there is no scheme.
func parseTarget(s string) (sip.URI, error) {
	uri, err := sip.ParseURI(s)
	if err != nil || (uri.Scheme != "sip" && uri.Scheme != "sips" && uri.Scheme != "tel") {
		uri, err = sip.ParseURI("sip:" + s)
	}
	if err != nil || !uri.IsSIP() || uri.Host == "" {
		return sip.URI{}, fmt.Errorf("%w: %q", ErrBadTarget, s)
	}
	return uri, nil
}

func (u *UA) addCommon(m sip.Message) {
	m.Set("User-Agent", u.cfg.UserAgent)
}

// serveSIP serves, on a goroutine of its own (u.slow), a request whose
// handling may block: it validates and dispatches it, and the transaction
// layer answers 500 (or 487) if it returns unanswered.
func (u *UA) serveSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if u.refuseInvalid(w, req) {
		return
	}
	u.dispatch(ctx, w, req, false)
}

// serveInline serves, on the transport reader that delivered the request,
// what cannot block — BYE, OPTIONS, requests for unknown dialogs, and
// initial INVITEs when Config.InlineOnCall says OnCall does not block, or
// the 400/416/420 that any of these gets when invalid — and reports false
// for the rest (re-INVITE, UPDATE, INFO, MESSAGE: host callbacks), which
// go to serveSIP on a goroutine of their own.
func (u *UA) serveInline(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) bool {
	// Decide before validating: a declined request is validated once, by
	// serveSIP.
	if req.Method == sip.SUBSCRIBE || req.Method == sip.NOTIFY || req.Method == sip.REFER {
		return false // OnSubscribe, OnNotify, OnRefer: host callbacks
	}
	to, _ := req.To()
	switch {
	case to.Tag() != "":
		if req.Method != sip.BYE && u.lookup(dialog.RequestID(req)) != nil {
			return false
		}
		if req.Method == sip.UPDATE {
			return false // maybe of an early dialog (updatein.go): answered as a call's
		}
	case req.Method == sip.INVITE:
		if !u.cfg.InlineOnCall {
			return false
		}
	case req.Method == sip.MESSAGE:
		return false
	}
	if !u.refuseInvalid(w, req) {
		u.dispatch(ctx, w, req, true)
	}
	return true
}

// dispatch serves a valid request; inline tells whether it runs on a
// transport reader.
func (u *UA) dispatch(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, inline bool) {
	if u.serveEvent(ctx, w, req) {
		return
	}
	to, _ := req.To()
	if to.Tag() != "" {
		u.inDialog(ctx, w, req)
		return
	}
	switch req.Method {
	case sip.INVITE, sip.OPTIONS, sip.MESSAGE:
		if res := u.drainRefusal(req); res != nil {
			u.respond(w, res)
			return
		}
	}
	switch req.Method {
	case sip.INVITE:
		u.incomingInvite(ctx, w, req, inline)
	case sip.OPTIONS:
		u.respond(w, u.optionsResponse(req))
	case sip.MESSAGE:
		u.incomingMessage(ctx, w, req, nil)
	default:
		// BYE, INFO, UPDATE outside a dialog.
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
	}
}

// refuseInvalid answers a request sip.Validate rejects (400, 416, 420,
// 505, ...) and reports whether it did.
func (u *UA) refuseInvalid(w transaction.ResponseWriter, req *sip.Request) bool {
	if err := u.val.Validate(req); err != nil {
		var ve *sip.ValidationError
		if errors.As(err, &ve) {
			if ve.StatusCode == sip.StatusUnsupportedMediaType && req.Method == sip.NOTIFY {
				return false // the subscription's Accept decides (RFC 6665 §8.2.1)
			}
			res := sip.NewResponse(req, ve.StatusCode, "")
			switch {
			case ve.StatusCode == sip.StatusBadExtension && len(ve.Unsupported) > 0:
				res.Set("Unsupported", joinComma(ve.Unsupported))
			case ve.StatusCode == sip.StatusUnsupportedMediaType:
				res.Set("Accept", joinComma(ve.Accept))
			case ve.StatusCode == sip.StatusNotImplemented || ve.StatusCode == sip.StatusMethodNotAllowed:
				res.Set("Allow", u.allow)
			}
			u.respond(w, res)
			return true
		}
		u.respond(w, sip.NewResponse(req, sip.StatusBadRequest, ""))
		return true
	}
	return false
}

// handler is the UA as the transaction layer's user. It keeps the UA's
// own methods out of its exported API.
type handler struct{ u *UA }

// ServeSIP serves a new request inline when it cannot block, else hands
// it to a goroutine owned by the transaction layer.
func (h handler) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if !h.u.serveInline(ctx, w, req) {
		h.u.slow.ServeSIP(ctx, w, req)
	}
}

// HandleDirect gets ACKs for our 2xx and what matches no transaction
// (see stray).
func (h handler) HandleDirect(in transport.Incoming) { h.u.stray(in) }

func (u *UA) respond(w transaction.ResponseWriter, res *sip.Response) {
	if res.Header("Server") == "" {
		res.Set("Server", u.cfg.UserAgent)
	}
	u.met.responded(res)
	if err := w.Respond(res); err != nil {
		u.log.Debug("respond failed", slog.Int("status", res.StatusCode), slog.String("call_id", res.CallID()), slog.String("error", err.Error()))
	}
}

func joinComma(list []string) string {
	s := ""
	for i, x := range list {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// stray gets what matches no transaction: ACKs for our 2xx. A response
// that matches no client transaction (a 2xx retransmitted after Timer M)
// is discarded, as RFC 6026 §8.9 requires of every element but a
// stateless proxy.
func (u *UA) stray(in transport.Incoming) {
	if m, ok := in.Msg.(*sip.Request); ok && m.Method == sip.ACK {
		if c := u.lookup(dialog.RequestID(m)); c != nil {
			c.receiveAck(m)
		}
		return
	}
	u.log.Debug("message matching no transaction dropped", "msg", sip.Short(in.Msg))
}

func (u *UA) lookup(id dialog.ID) *Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id]
}
