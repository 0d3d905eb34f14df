package proxy_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

func udpTarget(s string) transport.Target {
	return transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort(s)}
}

// TestProxyAnswers: what the proxy answers itself, from hand-made
// requests.
func TestProxyAnswers(t *testing.T) {
	tests := []struct {
		name   string
		cfg    proxy.Config
		method sip.Method
		uri    string
		edit   func(*sip.Request)
		want   int
	}{
		{name: "Max-Forwards 0", method: sip.INVITE, uri: "sip:bob@" + domain,
			edit: func(r *sip.Request) { r.Set("Max-Forwards", "0") }, want: 483},
		{name: "unknown user", method: sip.INVITE, uri: "sip:nobody@" + domain, want: 404},
		{name: "user not registered", method: sip.INVITE, uri: "sip:bob@" + domain, want: 480},
		{name: "OPTIONS to the proxy", method: sip.OPTIONS, uri: "sip:" + proxyAddr, want: 200},
		{name: "call leaving the domain", method: sip.INVITE, uri: "sip:dave@other.test", want: 407},
		{name: "call inside the domain with AuthAll", cfg: proxy.Config{CallAuth: proxy.AuthAll},
			method: sip.MESSAGE, uri: "sip:bob@" + domain, want: 407},
		{name: "Proxy-Require unsupported", method: sip.INVITE, uri: "sip:bob@" + domain,
			edit: func(r *sip.Request) { r.Set("Proxy-Require", "foo") }, want: 420},
		{name: "redirect server relays nothing", cfg: proxy.Config{Mode: proxy.ModeRedirect},
			method: sip.INVITE, uri: "sip:dave@other.test", want: 403},
		{name: "in a dialog we are not in", method: sip.BYE, uri: "sip:dave@192.0.2.99:5060",
			edit: func(r *sip.Request) { r.SetToTag("totag") }, want: 404},
		{name: "in our dialog", method: sip.BYE, uri: "sip:dave@192.0.2.30:5060",
			edit: func(r *sip.Request) {
				r.SetToTag("totag")
				r.Set("Route", "<sip:"+proxyAddr+";lr>")
			}, want: 200},
		{name: "our Route with a token from before a restart", method: sip.BYE, uri: "sip:dave@192.0.2.30:5060",
			edit: func(r *sip.Request) {
				r.SetToTag("totag")
				r.Set("Route", "<sip:AQAAAAAAAAAAAAD__8AAAgwTxAKYW3SfKoZLNv4@"+proxyAddr+";lr>")
			}, want: 200},
		{name: "a user at the proxy's address through its outbound route", method: sip.MESSAGE,
			cfg: proxy.Config{Domains: []string{domain, "192.0.2.1"}},
			uri: "sip:bob@" + proxyAddr, edit: func(r *sip.Request) { r.Set("Route", "<sip:"+proxyAddr+";lr>") }, want: 480},
		{name: "loop", cfg: proxy.Config{CallAuth: proxy.AuthNone,
			Resolver: transport.StaticResolver{"loop.test": {udpTarget(proxyAddr)}}},
			method: sip.INVITE, uri: "sip:x@loop.test", want: 482},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, tt.cfg)
				c := e.newClient("192.0.2.50:5060", 0)
				e.newClient("192.0.2.30:5060", 0) // a phone that answers 200
				req := newRequest(tt.method, tt.uri, "alice", "<sip:alice@192.0.2.50:5060>")
				if tt.edit != nil {
					tt.edit(req)
				}
				res := c.send(req)
				require.Equal(t, tt.want, res.StatusCode, res.String())
				if tt.want == 407 {
					require.NotEmpty(t, res.ProxyAuthenticate())
				}
			})
		})
	}
}

// TestLeavingDomain: a call to another domain is challenged 407, then
// forwarded through RFC 3263 resolution; the first target does not
// answer, so the second gets it after Timer B. The proxy consumed its
// credentials and added its Record-Route.
func TestLeavingDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Resolver: transport.StaticResolver{
			"other.test": {udpTarget("192.0.2.98:5060"), udpTarget("192.0.2.30:5060")},
		}})
		far := e.newClient("192.0.2.30:5060", 0)
		c := e.newClient("192.0.2.50:5060", 0)
		callID := sip.NewCallID()
		tag := sip.NewTag()
		start := time.Now()
		res := c.sendAuth("alice", func(seq uint32) *sip.Request {
			r := newRequest(sip.INVITE, "sip:dave@other.test", "alice", "<sip:alice@192.0.2.50:5060>")
			from, _ := sip.ParseAddress("<sip:alice@" + domain + ">;tag=" + tag)
			r.SetFrom(from)
			r.SetCallID(callID)
			r.SetCSeq(sip.CSeq{Seq: seq, Method: sip.INVITE})
			return r
		})
		require.Equal(t, 200, res.StatusCode)
		require.GreaterOrEqual(t, time.Since(start), 32*time.Second, "Timer B on the silent first target")
		got := far.received()
		require.Len(t, got, 1)
		require.Empty(t, got[0].ProxyAuthorization(), "the proxy consumed its credentials")
		requireOurRecordRoutes(t, got[0])
		mf, err := got[0].MaxForwards()
		require.NoError(t, err)
		require.Equal(t, 69, mf)
		vias, err := got[0].Vias()
		require.NoError(t, err)
		require.Len(t, vias, 2)
		require.Equal(t, "192.0.2.1", vias[0].Host)

		// Someone else's From with alice's credentials: 403.
		res = c.sendAuth("alice", func(seq uint32) *sip.Request {
			r := newRequest(sip.MESSAGE, "sip:dave@other.test", "bob", "")
			r.SetCSeq(sip.CSeq{Seq: seq, Method: sip.MESSAGE})
			return r
		})
		require.Equal(t, 403, res.StatusCode)
	})
}

// TestResponseContext: the §16.7 choice among several branches' finals.
func TestResponseContext(t *testing.T) {
	tests := []struct {
		name  string
		codes []int // what each of bob's devices answers
		want  int
		check func(t *testing.T, res *sip.Response)
	}{
		{name: "lowest class", codes: []int{486, 302}, want: 302},
		{name: "6xx wins", codes: []int{486, 603}, want: 603},
		{name: "503 becomes 500", codes: []int{503, 503}, want: 500},
		{name: "404 over 500", codes: []int{500, 404}, want: 404},
		{name: "2xx wins", codes: []int{486, 200}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, proxy.Config{})
				for i, code := range tt.codes {
					addr := "192.0.2." + string(rune('2'+i)) + "0:5060"
					e.newClient(addr, code).sendAuth("bob", register("bob", "<sip:bob@"+addr+">", ""))
				}
				c := e.newClient("192.0.2.50:5060", 0)
				for _, m := range []sip.Method{sip.MESSAGE, sip.INVITE} {
					start := time.Now()
					res := c.send(newRequest(m, "sip:bob@"+domain, "alice", "<sip:alice@192.0.2.50:5060>"))
					require.Equal(t, tt.want, res.StatusCode, res.String())
					require.Less(t, time.Since(start), time.Second, "%s: the answer does not wait for Timers D or K", m)
				}
			})
		})
	}
}

// TestChallengeAggregation: two downstream 407s reach the caller as one
// 407 with both challenges (RFC 3261 §16.7 step 7).
func TestChallengeAggregation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		for i, realm := range []string{"a.test", "b.test"} {
			addr := "192.0.2." + string(rune('2'+i)) + "0:5060"
			ch := `Digest realm="` + realm + `", nonce="n` + realm + `", algorithm=MD5, qop="auth"`
			e.newChallenger(addr, ch).sendAuth("bob", register("bob", "<sip:bob@"+addr+">", ""))
		}
		c := e.newClient("192.0.2.50:5060", 0)
		res := c.send(newRequest(sip.MESSAGE, "sip:bob@"+domain, "alice", ""))
		require.Equal(t, 407, res.StatusCode)
		chs := strings.Join(res.ProxyAuthenticate(), "\n")
		require.Contains(t, chs, "a.test")
		require.Contains(t, chs, "b.test")
	})
}

// newChallenger is a client that answers every request 407 with ch.
func (e *env) newChallenger(addr, ch string) *client {
	c := e.newClient(addr, 407)
	c.edit = func(res *sip.Response) { res.Add("Proxy-Authenticate", ch) }
	return c
}

// TestRedirectContacts: the 302 of the redirect server lists every
// binding, highest q first, with its q.
func TestRedirectContacts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Mode: proxy.ModeRedirect})
		c := e.newClient("192.0.2.50:5060", 0)
		res := c.sendAuth("bob", register("bob",
			"<sip:bob@192.0.2.20:5060>;q=0.5, <sip:bob@192.0.2.21:5060>;q=0.9, <sip:bob@192.0.2.22:5060>", ""))
		require.Equal(t, 200, res.StatusCode)
		res = c.send(newRequest(sip.INVITE, "sip:bob@"+domain, "alice", "<sip:alice@192.0.2.50:5060>"))
		require.Equal(t, 302, res.StatusCode)
		cts, err := res.Contacts()
		require.NoError(t, err)
		var hosts []string
		var qs []float64
		for _, ct := range cts {
			hosts = append(hosts, ct.URI.Host)
			qs = append(qs, ct.Q())
		}
		require.Equal(t, []string{"192.0.2.22", "192.0.2.21", "192.0.2.20"}, hosts)
		require.Equal(t, []float64{1, 0.9, 0.5}, qs)
	})
}

// TestFlowFallback: a phone registered from an address that no longer
// answers (it registered from another socket, or over a connection it
// closed) is reached at its Contact once the flow fails (Timer B).
func TestFlowFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		reg := e.newClient("192.0.2.60:5060", 0)
		res := reg.sendAuth("bob", register("bob", "<sip:bob@192.0.2.61:5060>", ""))
		require.Equal(t, 200, res.StatusCode)
		reg.close()
		phone := e.newClient("192.0.2.61:5060", 0)
		c := e.newClient("192.0.2.50:5060", 0)
		start := time.Now()
		res = c.send(newRequest(sip.INVITE, "sip:bob@"+domain, "alice", "<sip:alice@192.0.2.50:5060>"))
		require.Equal(t, 200, res.StatusCode)
		require.GreaterOrEqual(t, time.Since(start), 32*time.Second, "Timer B on the dead flow first")
		require.Len(t, phone.received(), 1)
	})
}

// TestAliases: every address of bob reaches his binding: his AOR, a
// number in the domain, the tel URI with and without visual separators.
// Unknown numbers are 404.
func TestAliases(t *testing.T) {
	tests := []struct {
		uri  string
		want int
	}{
		{"sip:bob@" + domain, 200},
		{"sip:+15551234@" + domain, 200},
		{"sip:+1-555-1234@" + domain + ";user=phone", 200},
		{"tel:+15551234", 200},
		{"tel:+1-555-1234", 200},
		{"tel:+15559999", 404},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				aliases := &proxy.AliasTable{}
				require.NoError(t, aliases.Add("tel:+15551234", "sip:bob@"+domain))
				require.NoError(t, aliases.Add("sip:+15551234@"+domain, "sip:bob@"+domain))
				e := newEnv(t, proxy.Config{Aliases: aliases})
				phone := e.newClient("192.0.2.20:5060", 0)
				res := phone.sendAuth("bob", register("bob", "<sip:bob@192.0.2.20:5060>", ""))
				require.Equal(t, 200, res.StatusCode)
				c := e.newClient("192.0.2.50:5060", 0)
				res = c.send(newRequest(sip.MESSAGE, tt.uri, "alice", ""))
				require.Equal(t, tt.want, res.StatusCode, res.String())
				if tt.want == 200 {
					got := phone.received()
					require.Len(t, got, 1)
					require.Equal(t, "sip:bob@192.0.2.20:5060", got[0].URI.String())
				}
			})
		})
	}
}

// TestForked2xx: both of bob's devices answer at once, each sending its
// 2xx twice (a retransmission); the caller gets all four (RFC 3261 §16.7
// step 5), the copies after the branch that brought the first has handed
// later responses to the Server.
func TestForked2xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		for _, addr := range []string{"192.0.2.20:5060", "192.0.2.21:5060"} {
			d := e.newClient(addr, 200)
			d.twice = true
			d.sendAuth("bob", register("bob", "<sip:bob@"+addr+">", ""))
		}
		c := e.newClient("192.0.2.50:5060", 0)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		req := newRequest(sip.INVITE, "sip:bob@"+domain, "alice", "<sip:alice@192.0.2.50:5060>")
		tx, err := c.tx.Request(ctx, req, udpTarget(proxyAddr))
		require.NoError(t, err)
		tags := map[string]int{}
		for res := range tx.Responses() {
			if res.IsSuccess() {
				to, err := res.To()
				require.NoError(t, err)
				tags[to.Tag()]++
			}
		}
		require.Len(t, tags, 2, "a 2xx from each device")
		for tag, n := range tags {
			require.Equal(t, 2, n, "both copies of %s's 2xx", tag)
		}
	})
}
