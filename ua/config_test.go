package ua_test

// Configuration as the peers see it: Contact addresses, transports,
// outbound proxies, limits, and the errors of a bad configuration.

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  ua.Config
	}{
		{"AOR", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:"}}}},
		{"registrar", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Registrar: "sip:"}}}},
		{"outbound proxy", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", OutboundProxy: "http://x"}}}},
		{"contact", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Contact: "<sip:"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				tt.cfg.Transport.Net, tt.cfg.Resolver = n, transport.StaticResolver{}
				tt.cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.1:5060"}}
				tt.cfg.Media.DisableMedia = true
				_, err := ua.New(tt.cfg)
				require.ErrorIs(t, err, ua.ErrBadTarget)
				// The listener of the failed UA was released.
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				require.NoError(t, u.Close())
			})
		})
	}
	t.Run("media ports", func(t *testing.T) {
		_, err := ua.New(ua.Config{Media: ua.MediaConfig{PortMin: 6000, PortMax: 5000}})
		require.ErrorContains(t, err, "ua: media")
	})
	t.Run("listener", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := memnet.New(memnet.Config{})
			defer n.Close()
			newUA(t, n, "192.0.2.1:5060", ua.Config{})
			_, err := ua.New(ua.Config{Transport: ua.TransportConfig{Net: n}, Resolver: transport.StaticResolver{}, Media: ua.MediaConfig{DisableMedia: true},
				Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.1:5060"}}})
			require.ErrorContains(t, err, "listen udp 192.0.2.1:5060", "the address is taken")
		})
	})
}

// inviteSeen is a raw callee answering INVITE 200 and keeping the INVITE.
func inviteSeen(got chan<- *sip.Request) transaction.HandlerFunc {
	return func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		res := sip.NewResponse(req, sip.StatusOK, "")
		if req.Method == sip.INVITE {
			res.SetToTag(sip.NewTag())
			res.Set("Contact", "<"+req.URI.String()+">")
			res.SetBody([]byte(testSDP), "application/sdp")
			select {
			case got <- req:
			default:
			}
		}
		_ = w.Respond(res)
	}
}

// The Contact of a UA listening on a wildcard address is the local
// address toward the peer (on a memnet network without hosts, the
// loopback address of the peer's family: here IPv6), or
// Config.ContactHost when set.
func TestContactOfWildcardListener(t *testing.T) {
	tests := []struct {
		name, contactHost, want string
	}{
		{"route toward the peer", "", "[::1]"},
		{"ContactHost", "203.0.113.9", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				got := make(chan *sip.Request, 1)
				newRawPeer(t, n, "[2001:db8::8]:5060", inviteSeen(got), nil)
				u, err := ua.New(ua.Config{
					Transport:   ua.TransportConfig{Net: n},
					Listen:      []ua.ListenConfig{{Network: transport.UDP, Addr: "[::]:5080"}},
					Resolver:    transport.StaticResolver{},
					ContactHost: tt.contactHost,
					Media:       ua.MediaConfig{DisableMedia: true},
				})
				require.NoError(t, err)
				defer u.Close()
				require.Equal(t, "[::]:5080", u.Addrs()[0].String())
				c, err := u.Dial(t.Context(), "sip:peer@[2001:db8::8]:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				inv := recv(t, got, time.Second, "INVITE")
				cts, err := inv.Contacts()
				require.NoError(t, err)
				require.Len(t, cts, 1)
				require.Equal(t, tt.want, cts[0].URI.Host)
				require.Equal(t, 5080, cts[0].URI.Port)
				from, _ := inv.From()
				require.Equal(t, tt.want, from.URI.Host, "anonymous From from the Contact")
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}

// A transport parameter in the target picks the listener and the
// transport; without a listener of that kind Dial connects and uses the
// connection's address.
func TestDialTransportParameter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		bw := newWire()
		newUA(t, n, "", ua.Config{Transport: ua.TransportConfig{Tracer: bw}, OnCall: answerer(calls), Listen: []ua.ListenConfig{
			{Network: transport.UDP, Addr: "192.0.2.2:5060"}, {Network: transport.TCP, Addr: "192.0.2.2:5060"}}})
		a, _ := newUA(t, n, "", ua.Config{Listen: []ua.ListenConfig{
			{Network: transport.UDP, Addr: "192.0.2.1:5060"}, {Network: transport.TCP, Addr: "192.0.2.1:5070"}}})
		require.Equal(t, "192.0.2.1:5070", a.Addrs()[1].String())

		c, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060;transport=TCP", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		in := recv(t, calls, time.Second, "incoming call")
		inv := bw.requests(sip.INVITE)[0]
		v, err := inv.TopVia()
		require.NoError(t, err)
		require.Equal(t, "TCP", v.Transport)
		cts, _ := inv.Contacts()
		require.Equal(t, "sip:dialtone@192.0.2.1:5070;transport=tcp", cts[0].URI.String(), "the TCP listener's Contact")
		require.NoError(t, c.Hangup(t.Context()))
		recv(t, in.Done(), time.Second, "callee's end")

		// A UA without a TCP listener calls over a connection of its own,
		// whose local address is its Contact.
		udpOnly, _ := newUA(t, n, "192.0.2.3:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.3"))}})
		c, err = udpOnly.Dial(t.Context(), "sip:bob@192.0.2.2:5060;transport=tcp", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		in = recv(t, calls, time.Second, "incoming call over the client's connection")
		inv = bw.requests(sip.INVITE)[1]
		v, err = inv.TopVia()
		require.NoError(t, err)
		cts, _ = inv.Contacts()
		require.Equal(t, "192.0.2.3", cts[0].URI.Host)
		require.NotEqual(t, 5060, cts[0].URI.Port, "the connection's port, not the UDP listener's")
		require.Equal(t, cts[0].URI.Port, v.Port, "Via sent-by and Contact: the connection")
		require.Equal(t, "tcp", cts[0].URI.Params.Value("transport"))
		require.NoError(t, in.Hangup(t.Context()), "the callee's BYE rides the caller's connection")
		recv(t, c.Done(), time.Second, "caller's end")
		// Nobody listens on TLS there: the connection fails.
		_, err = udpOnly.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{Transport: transport.TLS})
		require.ErrorIs(t, err, transport.ErrUnreachable)
		_, err = udpOnly.Dial(t.Context(), "sips:bob@192.0.2.2:5060", ua.DialOptions{})
		require.ErrorIs(t, err, transport.ErrUnreachable, "sips: TLS")
		_, err = udpOnly.Dial(t.Context(), "mailto:bob", ua.DialOptions{})
		require.ErrorIs(t, err, ua.ErrBadTarget)
	})
}

// RFC 3263 §4.3: when sending to the first resolved target fails, the
// next one is tried.
func TestDialFailsOverToNextTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		got := make(chan *sip.Request, 1)
		newRawPeer(t, n, "192.0.2.8:5060", inviteSeen(got), nil)
		res := transport.StaticResolver{"pbx.test": {
			{Network: transport.TCP, Addr: netip.MustParseAddrPort("192.0.2.50:5060")}, // nothing listens
			{Network: transport.UDP, Addr: netip.MustParseAddrPort("192.0.2.8:5060")},
		}}
		a, _ := newUA(t, n, "", ua.Config{Resolver: res, Listen: []ua.ListenConfig{
			{Network: transport.UDP, Addr: "192.0.2.1:5060"}, {Network: transport.TCP, Addr: "192.0.2.1:5060"}}})
		c, err := a.Dial(t.Context(), "sip:bob@pbx.test", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		inv := recv(t, got, time.Second, "INVITE")
		v, _ := inv.TopVia()
		require.Equal(t, "UDP", v.Transport, "reached over the second target")
		require.NoError(t, c.Hangup(t.Context()))
	})
}

// A line's outbound proxy gets every request of the line first, with a
// loose Route to itself (RFC 3261 §8.1.2), the Request-URI unchanged.
func TestOutboundProxyRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		proxy, pw := newTracedPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			res := sip.NewResponse(req, sip.StatusOK, "")
			switch req.Method {
			case sip.INVITE:
				res.SetToTag(sip.NewTag())
				res.Set("Contact", "<sip:bob@192.0.2.9:5060>")
				res.SetBody([]byte(testSDP), "application/sdp")
			case sip.REGISTER:
				res.Set("Expires", "300")
			}
			_ = w.Respond(res)
		}, nil)
		_ = proxy
		lc := ua.LineConfig{AOR: "sip:alice@example.test", Registrar: "sip:registrar.test", OutboundProxy: "192.0.2.9:5060", Manual: true,
			Contact: "<sip:alice@198.51.100.7:5060>", Transport: transport.UDP}
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
		line := a.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		require.Equal(t, "sip:alice@198.51.100.7:5060", line.Contact().URI.String(), "the configured Contact, not corrected")
		c, err := a.Dial(t.Context(), "sip:bob@elsewhere.test", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		_, err = a.Options(t.Context(), "sip:bob@elsewhere.test", ua.RequestOptions{Line: line})
		require.NoError(t, err)
		require.NoError(t, a.SendMessage(t.Context(), "sip:bob@elsewhere.test", "text/plain", []byte("hi"), ua.RequestOptions{Line: line}))
		require.NoError(t, c.Hangup(t.Context()))

		for _, m := range []sip.Method{sip.REGISTER, sip.INVITE, sip.OPTIONS, sip.MESSAGE} {
			reqs := pw.requests(m)
			require.NotEmpty(t, reqs, m)
			route := reqs[0].Header("Route")
			require.Contains(t, route, "sip:192.0.2.9:5060", m)
			require.Contains(t, route, ";lr", m)
			if m != sip.REGISTER {
				require.Equal(t, "elsewhere.test", reqs[0].URI.Host, "%s: the Request-URI is the target", m)
			}
		}
		require.Equal(t, "registrar.test", pw.requests(sip.REGISTER)[0].URI.Host)
		cts, _ := pw.requests(sip.INVITE)[0].Contacts()
		require.Equal(t, "198.51.100.7", cts[0].URI.Host, "the line's Contact is used in calls")
	})
}

// Limits.MaxCalls bounds the calls in both directions: 503 with
// Retry-After for one more incoming call, ErrTooManyCalls for one more
// Dial. Without OnCall every call is refused 480.
func TestCallLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 2)
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls), Limits: ua.Limits{MaxCalls: 1}})
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		first, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		recv(t, calls, time.Second, "first call")
		_, err = a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, sip.StatusServiceUnavailable, se.Code())
		require.Equal(t, "5", se.Response.Header("Retry-After"))
		_, err = b.Dial(t.Context(), "sip:alice@192.0.2.1:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorIs(t, err, ua.ErrTooManyCalls)
		require.NoError(t, first.Hangup(t.Context()))

		c, _ := newUA(t, n, "192.0.2.3:5060", ua.Config{})
		_, err = a.Dial(t.Context(), "sip:carol@192.0.2.3:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorAs(t, err, &se)
		require.Equal(t, sip.StatusTemporarilyUnavailable, se.Code(), "no OnCall: 480")
		require.Zero(t, c.Calls())

		require.NoError(t, a.Close())
		_, err = a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorIs(t, err, ua.ErrClosed)
	})
}

// Options and SendMessage: challenges answered with the line's
// credentials, failures as *StatusError, bad targets refused.
func TestOutOfDialogRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		p := &challengingPeer{m: sip.OPTIONS, code: sip.StatusUnauthorized}
		srv, err := newDigestServer()
		require.NoError(t, err)
		p.srv = srv
		newRawPeer(t, n, "192.0.2.8:5060", p.serve, nil)
		newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			_ = w.Respond(sip.NewResponse(req, sip.StatusNotFound, ""))
		}, nil)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Password: "secret"}}})
		res, err := a.Options(t.Context(), "192.0.2.8:5060", ua.RequestOptions{})
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		p.mu.Lock()
		require.Equal(t, []bool{false, true}, p.authed, "challenge answered once")
		p.mu.Unlock()

		_, err = a.Options(t.Context(), "sip:192.0.2.9:5060", ua.RequestOptions{})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 404, se.Code())
		require.Equal(t, "ua: 404 Not Found", se.Error())
		require.ErrorAs(t, a.SendMessage(t.Context(), "sip:bob@192.0.2.9:5060", "text/plain", []byte("x"), ua.RequestOptions{}), &se)
		require.Equal(t, 404, se.Code())
		_, err = a.Options(t.Context(), "sip:", ua.RequestOptions{})
		require.ErrorIs(t, err, ua.ErrBadTarget)
		require.ErrorIs(t, a.SendMessage(t.Context(), "sip:", "text/plain", nil, ua.RequestOptions{}), ua.ErrBadTarget)
	})
}

func newDigestServer() (*digest.Server, error) {
	return digest.NewServer(digest.ServerConfig{Realm: "example.test"})
}

// LineConfig.Contact is the Contact of the line's calls, both ways.
func TestLineContactInCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		got := make(chan *sip.Request, 1)
		newRawPeer(t, n, "192.0.2.8:5060", inviteSeen(got), nil)
		calls := make(chan *ua.Call, 1)
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{
			Lines:  []ua.LineConfig{{AOR: "sip:bob@example.test", Contact: "<sip:bob@198.51.100.7:5062>"}},
			OnCall: answerer(calls),
		})
		c, err := b.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		inv := recv(t, got, time.Second, "INVITE")
		cts, _ := inv.Contacts()
		require.Equal(t, "sip:bob@198.51.100.7:5062", cts[0].URI.String(), "outgoing")
		require.NoError(t, c.Hangup(t.Context()))

		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.SetBody([]byte(testSDP), "application/sdp")
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		res, err := tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		cts, _ = res.Contacts()
		require.Equal(t, "sip:bob@198.51.100.7:5062", cts[0].URI.String(), "incoming")
		in := recv(t, calls, time.Second, "incoming call")
		require.Same(t, b.Lines()[0], in.Line())
	})
}
