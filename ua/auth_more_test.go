package ua_test

// Digest authentication beyond one 401: a proxy's 407 then the callee's
// 401 on one INVITE, a registrar that challenges with 407.

import (
	"context"
	"sync"
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

// verify reports whether one of creds is valid for srv.
func verify(srv *digest.Server, creds []string, method string) bool {
	for _, v := range creds {
		if _, err := srv.Verify(v, method, nil, func(user, _ string) (digest.Credentials, bool) {
			return digest.Credentials{Username: user, Password: "secret"}, user == "alice"
		}); err == nil {
			return true
		}
	}
	return false
}

// RFC 3261 §22.3: the INVITE challenged first by a proxy (407), then by
// the callee (401), is sent a third time with both credentials.
func TestInviteProxyThenUASChallenge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		proxySrv, err := digest.NewServer(digest.ServerConfig{Realm: "proxy.test"})
		require.NoError(t, err)
		uasSrv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test"})
		require.NoError(t, err)
		var mu sync.Mutex
		var seen []*sip.Request
		newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			if req.Method != sip.INVITE {
				_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
				return
			}
			mu.Lock()
			seen = append(seen, req)
			mu.Unlock()
			var res *sip.Response
			switch {
			case !verify(proxySrv, req.ProxyAuthorization(), "INVITE"):
				res = sip.NewResponse(req, sip.StatusProxyAuthenticationRequired, "")
				chs, _ := proxySrv.Challenges(false)
				res.Set("Proxy-Authenticate", chs[0])
			case !verify(uasSrv, req.Authorization(), "INVITE"):
				res = sip.NewResponse(req, sip.StatusUnauthorized, "")
				chs, _ := uasSrv.Challenges(false)
				res.Set("WWW-Authenticate", chs[0])
			default:
				res = sip.NewResponse(req, sip.StatusBusyHere, "")
			}
			_ = w.Respond(res)
		}, nil)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Password: "secret"}}})
		_, err = a.Dial(t.Context(), "sip:bob@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, sip.StatusBusyHere, se.Code(), "both challenges met")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, seen, 3)
		require.Empty(t, seen[0].ProxyAuthorization())
		require.Len(t, seen[1].ProxyAuthorization(), 1)
		require.Empty(t, seen[1].Authorization())
		require.Len(t, seen[2].ProxyAuthorization(), 1, "the proxy's credentials kept")
		require.Len(t, seen[2].Authorization(), 1)
		for i := 1; i < 3; i++ {
			c0, _ := seen[i-1].CSeq()
			c1, _ := seen[i].CSeq()
			require.Equal(t, c0.Seq+1, c1.Seq, "a new CSeq for each retry (§22.2)")
			require.Equal(t, seen[0].CallID(), seen[i].CallID())
		}
	})
}

// A registrar behind a proxy that challenges with 407: answered with
// Proxy-Authorization, which the refreshes then carry ahead of a
// challenge (RFC 3261 §22.3).
func TestRegisterProxyChallenge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		srv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test", NonceLifetime: time.Hour})
		require.NoError(t, err)
		var mu sync.Mutex
		var authed []bool
		newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			ok := verify(srv, req.ProxyAuthorization(), "REGISTER")
			mu.Lock()
			authed = append(authed, ok)
			mu.Unlock()
			if !ok {
				res := sip.NewResponse(req, sip.StatusProxyAuthenticationRequired, "")
				chs, _ := srv.Challenges(false)
				res.Set("Proxy-Authenticate", chs[0])
				_ = w.Respond(res)
				return
			}
			res := sip.NewResponse(req, sip.StatusOK, "")
			res.Set("Expires", "100")
			_ = w.Respond(res)
		}, nil)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		time.Sleep(101 * time.Second) // refreshes at 50 and 100 s
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []bool{false, true, true, true}, authed, "refreshes need no new challenge")
	})
}

// OPTIONS and MESSAGE that cannot be sent or answered fail with the
// reason.
func TestOutOfDialogFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			res := sip.NewResponse(req, sip.StatusUnauthorized, "")
			res.Set("WWW-Authenticate", `Digest realm="example.test", nonce="abc", algorithm=MD5`)
			_ = w.Respond(res)
		}, nil)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		_, err := a.Options(t.Context(), "sip:192.0.2.8:5060", ua.RequestOptions{})
		require.ErrorIs(t, err, ua.ErrAuthFailed, "anonymous: no credentials")
		require.ErrorIs(t, a.SendMessage(t.Context(), "sip:bob@nowhere.test", "text/plain", []byte("x"), ua.RequestOptions{}), transport.ErrNoTargets)
		_, err = a.Options(t.Context(), "sip:192.0.2.99:5060", ua.RequestOptions{})
		require.ErrorIs(t, err, transaction.ErrTimeout, "Timer F: nobody there")
		_, err = a.Options(t.Context(), "sip:192.0.2.8:5060;transport=tcp", ua.RequestOptions{})
		require.ErrorIs(t, err, transport.ErrUnreachable, "a client-only UA connects; nobody listens on TCP there")
	})
}

// REGISTER through a proxy that asks for its own credentials (407) to a
// registrar that asks for its own (401): the REGISTER that passes carries
// both, and so do the refreshes, without new challenges.
func TestRegisterProxyThenRegistrarChallenge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		proxySrv, err := digest.NewServer(digest.ServerConfig{Realm: "proxy.test", NonceLifetime: time.Hour})
		require.NoError(t, err)
		regSrv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test", NonceLifetime: time.Hour})
		require.NoError(t, err)
		var mu sync.Mutex
		var codes []int
		newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			var res *sip.Response
			switch {
			case !verify(proxySrv, req.ProxyAuthorization(), "REGISTER"):
				res = sip.NewResponse(req, sip.StatusProxyAuthenticationRequired, "")
				chs, _ := proxySrv.Challenges(false)
				res.Set("Proxy-Authenticate", chs[0])
			case !verify(regSrv, req.Authorization(), "REGISTER"):
				res = sip.NewResponse(req, sip.StatusUnauthorized, "")
				chs, _ := regSrv.Challenges(false)
				res.Set("WWW-Authenticate", chs[0])
			default:
				res = sip.NewResponse(req, sip.StatusOK, "")
				res.Set("Expires", "100")
			}
			mu.Lock()
			codes = append(codes, res.StatusCode)
			mu.Unlock()
			_ = w.Respond(res)
		}, nil)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		time.Sleep(51 * time.Second) // the refresh at 50 s
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []int{407, 401, 200, 200}, codes)
	})
}
