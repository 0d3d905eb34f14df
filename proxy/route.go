package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// identity is what the server knows of its own addresses; it is replaced
// whole by AddSelf and AddListener.
type identity struct {
	rr    sip.URI                      // base Record-Route URI; Host "" for none
	self  map[string]bool              // lower-case host:port of our addresses
	byNet map[transport.Network]string // host:port of our listener per network
}

func (me *identity) clone() *identity {
	c := &identity{rr: me.rr, self: make(map[string]bool, len(me.self)+1), byNet: make(map[transport.Network]string, len(me.byNet)+1)}
	for k := range me.self {
		c.self[k] = true
	}
	for k, v := range me.byNet {
		c.byNet[k] = v
	}
	return c
}

// newIdentity is the identity of a Config.
func newIdentity(cfg *Config) *identity {
	me := &identity{self: map[string]bool{}, byNet: map[transport.Network]string{}}
	if cfg.RecordRoute != "" {
		if u, err := sip.ParseURI(cfg.RecordRoute); err == nil && u.IsSIP() {
			me.rr = u
			me.self[strings.ToLower(u.HostPort())] = true
		}
	}
	for _, a := range cfg.Self {
		me.self[strings.ToLower(a)] = true
	}
	return me
}

// AddSelf adds an address of the server ("192.0.2.1:5060"), such as one a
// listener bound to port 0 got, to Config.Self; when the server has no
// Record-Route URI yet, it becomes "sip:" + hostport + ";lr". Call it right
// after the listener opens, before peers know the address.
func (s *Server) AddSelf(hostport string) { s.AddListener("", hostport) }

// AddListener is AddSelf for a listener of network n: the Record-Route
// toward peers on n names this address (with transport=n), so that a
// dialog between phones on different transports, or behind one WebSocket
// connection, comes back to the right listener (RFC 5658).
func (s *Server) AddListener(n transport.Network, hostport string) {
	for {
		old := s.me.Load()
		me := old.clone()
		me.self[strings.ToLower(hostport)] = true
		if n != "" {
			if _, ok := me.byNet[n]; !ok {
				me.byNet[n] = hostport
			}
		}
		if me.rr.Host == "" {
			if u, err := sip.ParseURI("sip:" + hostport + ";lr"); err == nil {
				me.rr = u
			}
		}
		if s.me.CompareAndSwap(old, me) {
			return
		}
	}
}

// Flow tokens. Each Record-Route the proxy adds carries, in its user
// part, a token of the flow on its side of the dialog: the caller's on the
// caller's side, the callee's on the callee's (RFC 5626 §5.3's flow token
// idea, without Path). A request that comes back through both sends to the
// flow of the one it passes last, so phones behind NATs and on WebSocket
// connections, whose Contacts cannot be reached, get their in-dialog
// requests. The token is the network, address and port, and an HMAC under
// the server's key, so that nobody can make the proxy send elsewhere.
const tokenMACLen = 10

func (s *Server) flowToken(t transport.Target) string {
	var raw [tokenBodyLen + sha256.Size]byte
	b := append(raw[:0], netCode(t.Network))
	a := t.Addr.Addr().As16()
	b = append(b, a[:]...)
	b = append(b, byte(t.Addr.Port()>>8), byte(t.Addr.Port()))
	b = s.tokenMAC(b)[:tokenBodyLen+tokenMACLen]
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenBodyLen is the length of a flow token before its MAC: the network
// code, the address as 16 bytes, the port.
const tokenBodyLen = 1 + 16 + 2

// tokenMAC appends to body its HMAC-SHA-256 under tokenKey, from a pool of
// keyed states (hmac.New costs a dozen allocations a call).
func (s *Server) tokenMAC(body []byte) []byte {
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.tokenKey)
	}
	m.Reset()
	m.Write(body)
	out := m.Sum(body)
	s.macs.Put(m)
	return out
}

func (s *Server) parseFlowToken(tok string) (transport.Target, bool) {
	var raw, mac [tokenBodyLen + sha256.Size]byte
	if base64.RawURLEncoding.DecodedLen(len(tok)) != tokenBodyLen+tokenMACLen {
		return transport.Target{}, false
	}
	var src [64]byte // a token is 39 characters: DecodedLen checked it
	got, err := base64.RawURLEncoding.Decode(raw[:], src[:copy(src[:], tok)])
	if err != nil || got != tokenBodyLen+tokenMACLen {
		return transport.Target{}, false
	}
	body := raw[:tokenBodyLen]
	want := s.tokenMAC(append(mac[:0], body...))[tokenBodyLen:]
	if !hmac.Equal(want[:tokenMACLen], raw[tokenBodyLen:got]) {
		return transport.Target{}, false
	}
	n := codeNet(body[0])
	if n == "" {
		return transport.Target{}, false
	}
	addr := netip.AddrFrom16([16]byte(body[1:17])).Unmap()
	port := uint16(body[17])<<8 | uint16(body[18])
	return transport.Target{Network: n, Addr: netip.AddrPortFrom(addr, port)}, true
}

var netCodes = []transport.Network{transport.UDP, transport.TCP, transport.TLS, transport.WS, transport.WSS}

func netCode(n transport.Network) byte {
	for i, x := range netCodes {
		if x == n {
			return byte(i + 1)
		}
	}
	return 0
}

func codeNet(c byte) transport.Network {
	if c == 0 || int(c) > len(netCodes) {
		return ""
	}
	return netCodes[c-1]
}

// recordRouteFor is our Record-Route URI toward a peer reached at t: the
// listener of t's network, transport=t's network (none for UDP), t's flow
// token.
func (s *Server) recordRouteFor(me *identity, t transport.Target) sip.URI {
	u := me.rr
	if hp, ok := me.byNet[t.Network]; ok {
		host, port, err := splitHostPort(hp)
		if err == nil {
			u.Host, u.Port = host, port
		}
	}
	u.Params = u.Params.Del("transport")
	if t.Network != transport.UDP && t.Network != "" {
		u.Params = u.Params.Set("transport", string(t.Network))
	}
	if !u.Params.Has("lr") {
		u.Params = u.Params.Set("lr", "")
	}
	if t.Addr.IsValid() {
		u.User = s.flowToken(t)
	}
	return u
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return hp, 0, nil
	}
	p, err := strconv.Atoi(hp[i+1:])
	return hp[:i], p, err
}

// recordRoute is the Record-Route header value of ours toward a peer
// reached at t, or "" when the server has no Record-Route URI.
func (s *Server) recordRoute(me *identity, t transport.Target) string {
	if me.rr.Host == "" {
		return ""
	}
	u := s.recordRouteFor(me, t)
	return "<" + u.String() + ">"
}

// addRecordRoutes puts our Record-Route pair on a dialog-creating request
// forwarded toward hop (RFC 3261 §16.6 step 4, RFC 5658 §3.2): the
// caller's side first (callerRR, built once per request by recordRoute
// for the flow it came on), the callee's on top, with hop's flow token.
// It adds nothing when the server has no Record-Route.
func (s *Server) addRecordRoutes(r *sip.Request, me *identity, callerRR string, hop transport.Target) {
	if callerRR == "" {
		return
	}
	r.Prepend("Record-Route", callerRR)
	r.Prepend("Record-Route", s.recordRoute(me, hop))
}

// isSelfHost reports whether u's host and port are one of our addresses.
func (s *Server) isSelfHost(u sip.URI) bool {
	me := s.me.Load()
	port := u.Port
	if port == 0 {
		port = transport.DefaultSIPPort
		if u.Scheme == "sips" || strings.EqualFold(u.Params.Value("transport"), "tls") {
			port = transport.DefaultSIPSPort
		}
	}
	return me.self[strings.ToLower(u.Host)+":"+strconv.Itoa(port)]
}

// isRecordRoute reports whether a Request-URI is a URI we put in
// Record-Route, put there by a strict router: one of our addresses with
// no user part or one of our flow tokens (sip:alice@our-address is a user
// of ours, not a route).
func (s *Server) isRecordRoute(u sip.URI) bool {
	if !u.IsSIP() || !s.isSelfHost(u) {
		return false
	}
	if u.User == "" {
		return true
	}
	_, ok := s.parseFlowToken(u.User)
	return ok
}

// isSelfRoute reports whether a Route URI names us: one of our addresses,
// whatever its user part (a token that no longer verifies, from before a
// restart with a random key, still marks our route; it only gives no flow
// to follow), or a domain of ours without a user (a preloaded outbound
// proxy route).
func (s *Server) isSelfRoute(u sip.URI) bool {
	return u.IsSIP() && (s.isSelfHost(u) || u.User == "" && s.ourURI(u))
}

// preprocessRoute applies RFC 3261 §16.4: a Request-URI that is ours after
// a strict router gets the last Route value; the top Route values naming
// us are removed. It reports whether it did either (the request came to us
// by a route: a Record-Route of ours, a preloaded outbound proxy route),
// the flow of the last route removed when it held a token (where the
// request goes when no Route is left), and the Route values left, parsed:
// the Route header is parsed here once per request.
func (s *Server) preprocessRoute(req *sip.Request) (bool, *transport.Target, []sip.Address, error) {
	routes, err := req.Routes()
	if err != nil {
		return false, nil, nil, err
	}
	routed := false
	var dest *transport.Target
	if len(routes) > 0 && s.isRecordRoute(req.URI) {
		if t, ok := s.parseFlowToken(req.URI.User); ok {
			dest = &t
		}
		req.URI = routes[len(routes)-1].URI
		routes = routes[:len(routes)-1]
		routed = true
	}
	n := 0
	for n < len(routes) && s.isSelfRoute(routes[n].URI) {
		if t, ok := s.parseFlowToken(routes[n].URI.User); ok {
			dest = &t
		}
		n++
	}
	routes = routes[n:]
	if routed || n > 0 {
		setRoutes(req, routes)
	}
	return routed || n > 0, dest, routes, nil
}

// setRoutes replaces the Route header with routes, in order.
func setRoutes(req *sip.Request, routes []sip.Address) {
	req.Del("Route")
	for i := range routes {
		req.Add("Route", routes[i].String())
	}
}
