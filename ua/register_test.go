package ua_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

// registrar is a test registrar with digest authentication.
type registrar struct {
	srv        *digest.Server
	password   string
	grant      uint32 // largest lifetime granted
	minExpires uint32 // 423 below it (0: none)

	mu   sync.Mutex
	regs []regSeen
}

type regSeen struct {
	at      time.Time
	authed  bool
	expires uint32
	contact string
	callID  string
	cseq    uint32
	fromTag string
}

func newRegistrar(t *testing.T, n *memnet.Network, addr, password string, grant, minExpires uint32) *registrar {
	srv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test", NonceLifetime: time.Hour})
	require.NoError(t, err)
	r := &registrar{srv: srv, password: password, grant: grant, minExpires: minExpires}
	newRawPeer(t, n, addr, r.serve, nil)
	return r
}

func (r *registrar) serve(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if req.Method != sip.REGISTER {
		_ = w.Respond(sip.NewResponse(req, 405, ""))
		return
	}
	cts, _ := req.Contacts()
	var exp uint32 = 3600
	if e, err := req.Expires(); err == nil && req.Header("Expires") != "" {
		exp = e
	}
	ct := ""
	if len(cts) > 0 {
		ct = cts[len(cts)-1].URI.String()
		if e, ok := cts[len(cts)-1].Expires(); ok {
			exp = e
		}
	}
	authed := false
	for _, v := range req.Authorization() {
		if _, err := r.srv.Verify(v, "REGISTER", nil, func(user, _ string) (digest.Credentials, bool) {
			return digest.Credentials{Username: user, Password: r.password}, user == "alice"
		}); err == nil {
			authed = true
		}
	}
	r.mu.Lock()
	cs, _ := req.CSeq()
	from, _ := req.From()
	r.regs = append(r.regs, regSeen{at: time.Now(), authed: authed, expires: exp, contact: ct,
		callID: req.CallID(), cseq: cs.Seq, fromTag: from.Tag()})
	r.mu.Unlock()
	if !authed {
		res := sip.NewResponse(req, sip.StatusUnauthorized, "")
		chs, _ := r.srv.Challenges(false)
		for _, c := range chs {
			res.Add("WWW-Authenticate", c)
		}
		_ = w.Respond(res)
		return
	}
	if exp > 0 && exp < r.minExpires {
		res := sip.NewResponse(req, sip.StatusIntervalTooBrief, "")
		res.Set("Min-Expires", strconv.Itoa(int(r.minExpires)))
		_ = w.Respond(res)
		return
	}
	res := sip.NewResponse(req, sip.StatusOK, "")
	if exp > 0 {
		g := min(exp, r.grant)
		res.Add("Contact", fmt.Sprintf("<%s>;expires=%d", ct, g))
	}
	_ = w.Respond(res)
}

func (r *registrar) seen() []regSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]regSeen(nil), r.regs...)
}

func (r *registrar) authed() []regSeen {
	var out []regSeen
	for _, s := range r.seen() {
		if s.authed {
			out = append(out, s)
		}
	}
	return out
}

func lineCfg(password string, expires time.Duration) ua.LineConfig {
	return ua.LineConfig{AOR: "sip:alice@example.test", Password: password,
		Registrar: "sip:192.0.2.9:5060", Expires: expires, Manual: true}
}

func TestRegisterRefreshAndUnregister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 120, 0)
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		t0 := time.Now()
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		st, granted := line.State()
		require.Equal(t, ua.RegRegistered, st)
		require.Equal(t, 120*time.Second, granted, "the lifetime of the matching Contact")
		e, ok := rec.find(ua.EventRegistered)
		require.True(t, ok)
		require.Equal(t, 120*time.Second, e.Expires)

		time.Sleep(150 * time.Second)
		synctest.Wait()
		ok2 := reg.authed()
		require.Len(t, ok2, 3, "register, refresh at 60 s, refresh at 120 s")
		for i, s := range ok2 {
			require.Equal(t, time.Duration(i)*60*time.Second, s.at.Sub(t0).Round(time.Second), "refresh %d at half the granted time", i)
			require.EqualValues(t, 3600, s.expires)
		}
		require.NoError(t, u.Close())
		last := reg.authed()[len(reg.authed())-1]
		require.EqualValues(t, 0, last.expires, "unregistered on Close")
		_, ok = rec.find(ua.EventUnregistered)
		require.True(t, ok)
	})
}

func TestRegisterIntervalTooBrief(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 7200, 1800)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", 60*time.Second)}})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		_, granted := u.Lines()[0].State()
		require.Equal(t, 1800*time.Second, granted)
		a := reg.authed()
		require.EqualValues(t, 60, a[0].expires)
		require.EqualValues(t, 1800, a[len(a)-1].expires)
	})
}

func TestRegisterWrongPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 3600, 0)
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("wrong", time.Hour)}})
		err := u.Lines()[0].Register(t.Context())
		require.ErrorIs(t, err, ua.ErrAuthFailed)
		require.ErrorIs(t, err, digest.ErrAuthFailed)
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 401, se.Code())
		st, _ := u.Lines()[0].State()
		require.Equal(t, ua.RegFailed, st)
		require.Len(t, reg.seen(), 2, "one challenge answered, then a clean failure")
		time.Sleep(time.Hour)
		synctest.Wait()
		require.Len(t, reg.seen(), 2, "no retry loop after an authentication failure")
		_, ok := rec.find(ua.EventRegistrationFailed)
		require.True(t, ok)
	})
}

func TestRegisterRetryAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		var at []time.Time
		newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			res := sip.NewResponse(req, 503, "")
			res.Set("Retry-After", "42")
			_ = w.Respond(res)
		}, nil)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		var se *ua.StatusError
		require.ErrorAs(t, u.Lines()[0].Register(t.Context()), &se)
		require.Equal(t, 503, se.Code())
		time.Sleep(100 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, at, 3)
		require.Equal(t, 42*time.Second, at[1].Sub(at[0]).Round(time.Second), "Retry-After honoured")
	})
}

func TestRegisterBehindNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("203.0.113.1"), memnet.EndpointIndependent)
		require.NoError(t, err)
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 3600, 0)
		rec := &recorder{}
		u, err := ua.New(ua.Config{
			Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("10.0.0.2"))},
			Listen:    []ua.ListenConfig{{Network: "udp", Addr: "10.0.0.2:5060"}},
			Resolver:  staticResolver(),
			Lines:     []ua.LineConfig{lineCfg("secret", time.Hour)},
			OnEvent:   rec.add,
		})
		require.NoError(t, err)
		defer u.Close()
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		ct := u.Lines()[0].Contact()
		require.Equal(t, "203.0.113.1", ct.URI.Host, "Contact corrected from received")
		a := reg.authed()
		require.Equal(t, ct.URI.String(), a[len(a)-1].contact)
		before := len(reg.seen())
		time.Sleep(time.Hour)
		synctest.Wait()
		require.Less(t, len(reg.seen()), before+6, "no re-registration loop")
		require.Equal(t, ct, u.Lines()[0].Contact())
	})
}
