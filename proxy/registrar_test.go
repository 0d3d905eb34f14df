package proxy_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
)

// register builds REGISTER requests of one Call-ID for user with the
// given Contact and Expires header values ("" for none).
func register(user, contact, expires string) func(uint32) *sip.Request {
	callID := sip.NewCallID()
	tag := sip.NewTag()
	return func(seq uint32) *sip.Request {
		req := newRequest(sip.REGISTER, "sip:"+domain, user, contact)
		from, _ := sip.ParseAddress("<sip:" + user + "@" + domain + ">;tag=" + tag)
		req.SetFrom(from)
		req.SetCallID(callID)
		req.SetCSeq(sip.CSeq{Seq: seq, Method: sip.REGISTER})
		if expires != "" {
			req.Set("Expires", expires)
		}
		return req
	}
}

func TestRegistrar(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		auth     bool // answer the challenge
		contact  string
		expires  string
		want     int
		check    func(t *testing.T, res *sip.Response)
		bindings int // bindings of the user's AOR afterwards
	}{
		{name: "no credentials", user: "alice", contact: "<sip:alice@192.0.2.50:5060>", want: 401,
			check: func(t *testing.T, res *sip.Response) {
				chs := res.WWWAuthenticate()
				require.Len(t, chs, 2, "SHA-256 and MD5")
				require.Contains(t, chs[0], "SHA-256")
			}},
		{name: "registered", user: "alice", auth: true, contact: "<sip:alice@192.0.2.50:5060>", want: 200, bindings: 1,
			check: func(t *testing.T, res *sip.Response) {
				cts, err := res.Contacts()
				require.NoError(t, err)
				require.Len(t, cts, 1)
				e, ok := cts[0].Expires()
				require.True(t, ok)
				require.EqualValues(t, 3600, e)
			}},
		{name: "two contacts, one capped", user: "alice", auth: true,
			contact: "<sip:alice@192.0.2.50:5060>;expires=99999, <sip:alice@192.0.2.51:5060>;q=0.5", expires: "120", want: 200, bindings: 2,
			check: func(t *testing.T, res *sip.Response) {
				cts, err := res.Contacts()
				require.NoError(t, err)
				require.Len(t, cts, 2)
				e0, _ := cts[0].Expires()
				e1, _ := cts[1].Expires()
				require.EqualValues(t, 7200, e0, "MaxExpires caps")
				require.EqualValues(t, 120, e1, "the Expires header")
				require.InDelta(t, 0.5, cts[1].Q(), 0.001)
			}},
		{name: "too brief", user: "alice", auth: true, contact: "<sip:alice@192.0.2.50:5060>", expires: "10", want: 423,
			check: func(t *testing.T, res *sip.Response) { require.Equal(t, "60", res.Header("Min-Expires")) }},
		{name: "wildcard needs Expires 0", user: "alice", auth: true, contact: "*", expires: "60", want: 400},
		{name: "wildcard with another contact", user: "alice", auth: true, contact: "*, <sip:alice@192.0.2.50>", expires: "0", want: 400},
		{name: "someone else's AOR", user: "bob", auth: true, contact: "<sip:bob@192.0.2.50:5060>", want: 403},
		{name: "wrong password", user: "mallory", auth: true, contact: "<sip:alice@192.0.2.50:5060>", want: 401},
		{name: "query", user: "alice", auth: true, want: 200},
		{name: "Require unsupported", user: "alice", contact: "<sip:alice@192.0.2.50:5060>", want: 420},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, proxy.Config{})
				c := e.newClient("192.0.2.50:5060", 0)
				mk := register("alice", tt.contact, tt.expires)
				if tt.name == "Require unsupported" {
					inner := mk
					mk = func(seq uint32) *sip.Request {
						r := inner(seq)
						r.Set("Require", "foo")
						return r
					}
				}
				var res *sip.Response
				if tt.auth {
					res = c.sendAuth(tt.user, mk)
				} else {
					res = c.send(mk(1))
				}
				require.Equal(t, tt.want, res.StatusCode, res.String())
				if tt.check != nil {
					tt.check(t, res)
				}
				bs, err := e.loc.Lookup(context.Background(), "sip:alice@"+domain, time.Now())
				require.NoError(t, err)
				require.Len(t, bs, tt.bindings)
			})
		})
	}
}

// TestRegistrarLifecycle: bindings expire in virtual time, a refresh
// keeps them, "*" removes them all, an older CSeq cannot undo a newer
// REGISTER, and MaxBindingsPerAOR holds.
func TestRegistrarLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{MaxBindingsPerAOR: 2, SweepInterval: 10 * time.Second})
		c := e.newClient("192.0.2.50:5060", 0)
		lookup := func() int {
			bs, err := e.loc.Lookup(context.Background(), "sip:alice@"+domain, time.Now())
			require.NoError(t, err)
			return len(bs)
		}
		res := c.sendAuth("alice", register("alice", "<sip:alice@192.0.2.50:5060>", "60"))
		require.Equal(t, 200, res.StatusCode)
		res = c.sendAuth("alice", register("alice", "<sip:alice@192.0.2.51:5060>", "300"))
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, 2, lookup())

		res = c.sendAuth("alice", register("alice", "<sip:alice@192.0.2.52:5060>", "300"))
		require.Equal(t, 403, res.StatusCode, "a third binding is one too many")

		time.Sleep(61 * time.Second)
		require.Equal(t, 1, lookup(), "the 60 s binding expired")
		require.Equal(t, 1, e.loc.Len())
		time.Sleep(300 * time.Second)
		synctest.Wait()
		require.Equal(t, 0, e.loc.Len(), "the sweeper removed the expired AOR")

		mk := register("alice", "<sip:alice@192.0.2.50:5060>", "300")
		res = c.sendAuth("alice", mk) // CSeq 2
		require.Equal(t, 200, res.StatusCode)
		stale := mk(1)
		stale.Set("Expires", "0")
		res = c.sendAuth("alice", func(uint32) *sip.Request { return stale.Clone() })
		require.Equal(t, 500, res.StatusCode, "CSeq 1 after CSeq 2 of the same Call-ID")
		require.Equal(t, 1, lookup())

		res = c.sendAuth("alice", register("alice", "*", "0"))
		require.Equal(t, 200, res.StatusCode)
		require.Empty(t, res.Values("Contact"))
		require.Equal(t, 0, lookup())
	})
}

// TestDigest: credentials cannot be replayed, an expired nonce gets a
// stale challenge, and SHA-512-256 works when it is the algorithm offered.
func TestDigest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{NonceLifetime: time.Minute})
		c := e.newClient("192.0.2.50:5060", 0)
		mk := register("alice", "<sip:alice@192.0.2.50:5060>", "")
		res := c.send(mk(1))
		require.Equal(t, 401, res.StatusCode)
		dc, err := digest.NewClient(digest.ClientConfig{Credentials: digest.Credentials{Username: "alice", Password: "alice-secret"}})
		require.NoError(t, err)
		req := mk(2)
		auths, err := dc.Respond(res.WWWAuthenticate(), nil, "REGISTER", req.URI.String(), nil)
		require.NoError(t, err)
		req.Set("Authorization", auths[0].String())
		replay := req.Clone()
		require.Equal(t, 200, c.send(req).StatusCode)

		replay.SetCSeq(sip.CSeq{Seq: 3, Method: sip.REGISTER})
		res = c.send(replay)
		require.Equal(t, 401, res.StatusCode, "the same nonce count again is a replay")

		time.Sleep(2 * time.Minute)
		later := mk(4)
		auths, err = dc.Authorize("REGISTER", later.URI.String(), nil) // the old nonce, nc=2
		require.NoError(t, err)
		later.Set("Authorization", auths[0].String())
		res = c.send(later)
		require.Equal(t, 401, res.StatusCode)
		require.Contains(t, res.WWWAuthenticate()[0], "stale=true", "right credentials on an expired nonce")
	})
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Algorithms: []digest.Algorithm{digest.SHA512_256}})
		c := e.newClient("192.0.2.50:5060", 0)
		res := c.sendAuth("alice", register("alice", "<sip:alice@192.0.2.50:5060>", ""))
		require.Equal(t, 200, res.StatusCode)
	})
}

// TestPath: a REGISTER that came through an edge proxy carries Path
// (RFC 3327); the 200 echoes it, and requests for the binding go to the
// edge proxy with the Path as Route.
func TestPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		edge := e.newClient("192.0.2.40:5060", 0)
		c := e.newClient("192.0.2.50:5060", 0)
		mk := register("bob", "<sip:bob@10.0.0.7:5060>", "")
		res := c.sendAuth("bob", func(seq uint32) *sip.Request {
			r := mk(seq)
			r.Set("Supported", "path")
			r.Set("Path", "<sip:192.0.2.40:5060;lr>")
			return r
		})
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, []string{"<sip:192.0.2.40:5060;lr>"}, res.Values("Path"))
		res = c.send(newRequest(sip.MESSAGE, "sip:bob@"+domain, "alice", ""))
		require.Equal(t, 200, res.StatusCode)
		got := edge.received()
		require.Len(t, got, 1)
		require.Equal(t, "sip:bob@10.0.0.7:5060", got[0].URI.String())
		require.Equal(t, []string{"<sip:192.0.2.40:5060;lr>"}, got[0].Values("Route"))
	})
}

// TestRegistrarAliasAndOutbound: bob registers through one of his aliases,
// which lands on his AOR; an RFC 5626 registration (instance and reg-id)
// is acknowledged with Require: outbound and replaced, not duplicated, when
// the same instance registers from a new Contact.
func TestRegistrarAliasAndOutbound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		aliases := &proxy.AliasTable{}
		require.NoError(t, aliases.Add("sip:+15551234@"+domain, "sip:bob@"+domain))
		e := newEnv(t, proxy.Config{Aliases: aliases})
		c := e.newClient("192.0.2.50:5060", 0)
		viaAlias := func(contact string) func(uint32) *sip.Request {
			mk := register("bob", contact, "")
			return func(seq uint32) *sip.Request {
				r := mk(seq)
				to, _ := sip.ParseAddress("<sip:+15551234@" + domain + ">")
				r.SetTo(to)
				r.Set("Supported", "outbound, path")
				return r
			}
		}
		inst := `;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1`
		res := c.sendAuth("bob", viaAlias("<sip:bob@192.0.2.50:5060>"+inst))
		require.Equal(t, 200, res.StatusCode, res.String())
		require.Equal(t, "outbound", res.Header("Require"))
		res = c.sendAuth("bob", viaAlias("<sip:bob@192.0.2.51:5060>"+inst))
		require.Equal(t, 200, res.StatusCode)
		bs, err := e.loc.Lookup(context.Background(), "sip:bob@"+domain, time.Now())
		require.NoError(t, err)
		require.Len(t, bs, 1, "the same instance and reg-id replace the binding")
		require.Equal(t, "192.0.2.51", bs[0].Contact.Host)
		require.Equal(t, 1, bs[0].RegID)
		require.Equal(t, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", bs[0].Instance)
	})
}
