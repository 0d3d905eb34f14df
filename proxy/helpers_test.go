package proxy_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

const (
	proxyAddr = "192.0.2.1:5060"
	domain    = "example.test"
	testSDP   = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"
)

var users = proxy.UserTable{
	"alice": {Name: "alice", Password: "alice-secret"},
	"bob":   {Name: "bob", Password: "bob-secret"},
	"carol": {Name: "carol", Password: "carol-secret"},
}

// env is a proxy on memnet at proxyAddr serving example.test.
type env struct {
	t   *testing.T
	n   *memnet.Network
	srv *proxy.Server
	loc *proxy.MemoryLocation
	// domain is the domain the phones register in (Domains[0]).
	domain string
}

// newEnv starts the proxy with cfg (domain, users, Self and a static
// resolver filled in when empty) inside the caller's synctest bubble.
func newEnv(t *testing.T, cfg proxy.Config) *env {
	t.Helper()
	n := memnet.New(memnet.Config{})
	t.Cleanup(func() { _ = n.Close() })
	if cfg.Domains == nil {
		cfg.Domains = []string{domain}
	}
	if cfg.Users == nil {
		cfg.Users = users
	}
	cfg.Self = []string{proxyAddr}
	if cfg.Resolver == nil {
		cfg.Resolver = transport.StaticResolver{}
	}
	loc := proxy.NewMemoryLocation()
	cfg.Location = loc
	tp, err := transport.New(transport.Config{Net: n})
	require.NoError(t, err)
	srv, err := proxy.New(tp, cfg)
	require.NoError(t, err)
	for _, n := range []transport.Network{transport.UDP, transport.TCP} {
		_, err = tp.Listen(context.Background(), n, proxyAddr)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		_ = tp.Close()
	})
	return &env{t: t, n: n, srv: srv, loc: loc, domain: cfg.Domains[0]}
}

// phoneResolver sends everything for example.test to the proxy.
func phoneResolver() transport.Resolver {
	ap := netip.MustParseAddrPort(proxyAddr)
	return transport.StaticResolver{domain: {{Network: transport.UDP, Addr: ap}, {Network: transport.TCP, Addr: ap}}}
}

// phone is one of our UAs registered (or not) to the proxy as user.
type phone struct {
	ua    *ua.UA
	calls chan *ua.Call // calls it answered
	rang  chan *ua.IncomingCall
	// canceled gets the cause when a ringing call's context ends.
	canceled chan error
}

// mode of a phone's OnCall.
type answerMode int

const (
	answer  answerMode = iota // answer at once
	ring                      // ring until canceled
	noUA                      // no OnCall
	decline                   // ring, then answer 603 Decline
)

// newPhone starts a UA at addr with a line for user; register says
// whether it registers at New. It waits until the registration settled.
func (e *env) newPhone(addr, user string, mode answerMode, register bool) *phone {
	e.t.Helper()
	return e.newPhoneOn(transport.UDP, addr, user, mode, register)
}

// newPhoneOn is newPhone listening and registering over network n.
func (e *env) newPhoneOn(n transport.Network, addr, user string, mode answerMode, register bool) *phone {
	e.t.Helper()
	return e.newPhoneContact(n, addr, user, "", mode, register)
}

// newPhoneContact is newPhoneOn with a Contact URI of its own (empty:
// built from the listener).
func (e *env) newPhoneContact(n transport.Network, addr, user, contact string, mode answerMode, register bool) *phone {
	e.t.Helper()
	p := &phone{calls: make(chan *ua.Call, 4), rang: make(chan *ua.IncomingCall, 4), canceled: make(chan error, 4)}
	line := ua.LineConfig{AOR: "sip:" + user + "@" + e.domain, Password: users[user].Password, Manual: !register,
		Registrar: "sip:" + e.domain, Transport: n, Contact: contact}
	cfg := ua.Config{
		Transport: ua.TransportConfig{Net: e.n}, Resolver: phoneResolver(), Lines: []ua.LineConfig{line},
		Listen: []ua.ListenConfig{{Network: n, Addr: addr}},
	}
	cfg.Media.DisableMedia = true
	switch mode {
	case answer:
		cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			p.rang <- ic
			if c, err := ic.Answer([]byte(testSDP)); err == nil {
				p.calls <- c
			}
		}
	case decline:
		cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			p.rang <- ic
			time.Sleep(time.Second)
			_ = ic.Reject(603, "")
		}
	case ring:
		cfg.OnCall = func(ctx context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			p.rang <- ic
			<-ctx.Done()
			p.canceled <- context.Cause(ctx)
		}
	}
	u, err := ua.New(cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = u.Close() })
	p.ua = u
	return p
}

// registered reports the phone's line state once the network is quiet.
func (p *phone) state() ua.RegState {
	s, _ := p.ua.Lines()[0].State()
	return s
}

// dial calls target from the phone with a deadline that fails the test.
func (p *phone) dial(t *testing.T, target string) (*ua.Call, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return p.ua.Dial(ctx, target, ua.DialOptions{SDP: []byte(testSDP)})
}

// recv takes one value from ch or fails the test after d of virtual time.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		require.FailNow(t, "timed out waiting for "+what)
	}
	var zero T
	return zero
}

// client is a bare transaction layer on memnet that sends hand-made
// requests to the proxy and records what reaches it.
type client struct {
	t  *testing.T
	tx *transaction.Layer
	tp *transport.Layer
	mu sync.Mutex
	// got are the requests it received.
	got []*sip.Request
	// edit, when set, changes each response before it is sent.
	edit func(*sip.Response)
	// twice sends each 2xx to an INVITE twice, as a UAS core
	// retransmitting it does (RFC 3261 §13.3.1.4).
	twice bool
}

// newClient starts a raw client at addr that answers every request with
// code (0: 200).
func (e *env) newClient(addr string, code int) *client {
	e.t.Helper()
	c := &client{t: e.t}
	tp, err := transport.New(transport.Config{Net: e.n})
	require.NoError(e.t, err)
	h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		c.mu.Lock()
		c.got = append(c.got, req)
		c.mu.Unlock()
		cd := code
		if cd == 0 {
			cd = 200
		}
		res := sip.NewResponse(req, cd, "")
		if cd == 407 && req.Method == sip.REGISTER {
			res = sip.NewResponse(req, 200, "")
		}
		c.mu.Lock()
		edit := c.edit
		c.mu.Unlock()
		if edit != nil && res.StatusCode == cd {
			edit(res)
		}
		_ = w.Respond(res)
		c.mu.Lock()
		twice := c.twice
		c.mu.Unlock()
		if twice && req.Method == sip.INVITE && res.IsSuccess() {
			_ = w.Respond(res.Clone())
		}
	})
	c.tp = tp
	c.tx, err = transaction.New(tp, transaction.Config{Handler: h})
	require.NoError(e.t, err)
	_, err = tp.Listen(context.Background(), transport.UDP, addr)
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		_ = c.tx.Close()
		_ = tp.Close()
	})
	return c
}

// close stops the client: its address answers nothing any more.
func (c *client) close() {
	_ = c.tx.Close()
	_ = c.tp.Close()
}

func (c *client) received() []*sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*sip.Request(nil), c.got...)
}

// newRequest builds a request from user at the client's address.
func newRequest(m sip.Method, uri, user, contact string) *sip.Request {
	u, err := sip.ParseURI(uri)
	if err != nil {
		panic(err)
	}
	req := sip.NewRequest(m, u)
	from, _ := sip.ParseAddress("<sip:" + user + "@" + domain + ">;tag=" + sip.NewTag())
	req.SetFrom(from)
	if m == sip.REGISTER {
		to, _ := sip.ParseAddress("<sip:" + user + "@" + domain + ">")
		req.SetTo(to)
	}
	if contact != "" {
		req.Set("Contact", contact)
	}
	return req
}

// send sends req to the proxy and returns the final response.
func (c *client) send(req *sip.Request) *sip.Response {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tx, err := c.tx.Request(ctx, req, transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort(proxyAddr)})
	require.NoError(c.t, err)
	res, err := tx.Final(ctx)
	require.NoError(c.t, err)
	return res
}

// sendAuth sends req, and once more with credentials of user when it is
// challenged 401 or 407; it returns the last final response. mk builds a
// fresh copy of the request (new CSeq) for each try.
func (c *client) sendAuth(user string, mk func(cseq uint32) *sip.Request) *sip.Response {
	c.t.Helper()
	req := mk(1)
	res := c.send(req)
	if res.StatusCode != 401 && res.StatusCode != 407 {
		return res
	}
	hdr, chs := "Authorization", res.WWWAuthenticate()
	if res.StatusCode == 407 {
		hdr, chs = "Proxy-Authorization", res.ProxyAuthenticate()
	}
	pass := users[user].Password
	if pass == "" {
		pass = "not-a-user"
	}
	dc, err := digest.NewClient(digest.ClientConfig{Credentials: digest.Credentials{Username: user, Password: pass}})
	require.NoError(c.t, err)
	next := mk(2)
	auths, err := dc.Respond(chs, nil, string(next.Method), next.URI.String(), next.Body())
	require.NoError(c.t, err)
	for _, a := range auths {
		next.Add(hdr, a.String())
	}
	return c.send(next)
}

// requireOurRecordRoutes checks that req carries the proxy's Record-Route
// pair (RFC 5658): two loose-routing URIs at proxyAddr with flow tokens.
func requireOurRecordRoutes(t *testing.T, req *sip.Request) {
	t.Helper()
	rrs, err := req.RecordRoutes()
	require.NoError(t, err)
	require.Len(t, rrs, 2, req.Values("Record-Route"))
	for _, rr := range rrs {
		require.Equal(t, proxyAddr, rr.URI.HostPort())
		require.True(t, rr.URI.Params.Has("lr"))
		require.NotEmpty(t, rr.URI.User, "a flow token")
	}
	require.NotEqual(t, rrs[0].URI.User, rrs[1].URI.User, "one token per side")
}
