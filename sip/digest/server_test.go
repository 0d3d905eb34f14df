package digest_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

// answer parses the first challenge of srv and answers it.
func answer(t *testing.T, srv *digest.Server, creds digest.Credentials, req digest.Request) digest.Authorization {
	t.Helper()
	ch, err := digest.ParseChallenge(challenges(t, srv, false)[0])
	require.NoError(t, err)
	if req.CNonce == "" {
		req.CNonce = "cn"
	}
	a, err := digest.AuthorizeRequest(ch, creds, req)
	require.NoError(t, err)
	return a
}

func TestServerChallenges(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{
		Algorithms: []digest.Algorithm{digest.MD5, digest.SHA512_256Sess, digest.SHA256},
		QOP:        []digest.QOP{digest.QOPAuthInt, digest.QOPAuth},
		Opaque:     "op",
	})
	for _, stale := range []bool{false, true} {
		values := challenges(t, srv, stale)
		chs, err := digest.ParseChallenges(values)
		require.NoError(t, err)
		require.Len(t, chs, 3)
		var algs []digest.Algorithm
		for _, ch := range chs {
			algs = append(algs, ch.Algorithm)
			require.Equal(t, "atlanta.com", ch.Realm)
			require.Equal(t, "op", ch.Opaque)
			require.Equal(t, stale, ch.Stale)
			require.Equal(t, chs[0].Nonce, ch.Nonce, "one nonce for all algorithms")
			require.Equal(t, []digest.QOP{digest.QOPAuthInt, digest.QOPAuth}, ch.QOP)
		}
		require.Equal(t, []digest.Algorithm{digest.SHA512_256Sess, digest.SHA256, digest.MD5}, algs, "strongest first")
	}
	a, b := challenges(t, srv, false), challenges(t, srv, false)
	require.NotEqual(t, a[0], b[0], "fresh nonce per challenge")
}

func TestServerVerify(t *testing.T) {
	ha1 := digest.Credentials{Username: "alice", HA1: map[digest.Algorithm]string{
		digest.SHA256: digest.ComputeHA1(digest.SHA256, "alice", "atlanta.com", "wonderland"),
	}}
	for _, alg := range []digest.Algorithm{digest.MD5, digest.MD5Sess, digest.SHA256, digest.SHA256Sess, digest.SHA512_256, digest.SHA512_256Sess} {
		t.Run(alg.String(), func(t *testing.T) {
			srv := newServer(t, digest.ServerConfig{Algorithms: []digest.Algorithm{alg}, QOP: []digest.QOP{digest.QOPAuth, digest.QOPAuthInt}})
			for _, preferInt := range []bool{false, true} {
				body := []byte("v=0\r\n")
				a := answer(t, srv, alice, digest.Request{Method: "INVITE", URI: "sip:bob@atlanta.com", Body: body, PreferAuthInt: preferInt})
				user, err := srv.Verify(a.String(), "INVITE", body, lookupAlice)
				require.NoError(t, err)
				require.Equal(t, "alice", user)
			}
			// The registrar stores only HA1 (for SHA-256).
			a := answer(t, srv, alice, digest.Request{Method: "REGISTER", URI: "sip:atlanta.com"})
			_, err := srv.Verify(a.String(), "REGISTER", nil, func(u, r string) (digest.Credentials, bool) { return ha1, true })
			if alg.Base() == digest.SHA256 {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, digest.ErrUnknownUser)
			}
		})
	}
}

func TestServerVerifyRejects(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{Opaque: "op"})
	other := newServer(t, digest.ServerConfig{}) // same realm, other secret
	req := digest.Request{Method: "REGISTER", URI: "sip:atlanta.com", NC: 1}
	good := answer(t, srv, alice, req)

	tests := []struct {
		name   string
		value  func() string
		method string
		want   error
	}{
		{"wrong password", func() string {
			return answer(t, srv, digest.Credentials{Username: "alice", Password: "guess"}, req).String()
		}, "REGISTER", digest.ErrWrongResponse},
		{"unknown user", func() string {
			return answer(t, srv, digest.Credentials{Username: "mallory", Password: "x"}, req).String()
		}, "REGISTER", digest.ErrUnknownUser},
		{"other method", func() string { return good.String() }, "INVITE", digest.ErrWrongResponse},
		{"tampered response", func() string {
			a := good
			a.Response = strings.Repeat("0", len(a.Response))
			return a.String()
		}, "REGISTER", digest.ErrWrongResponse},
		{"tampered nonce", func() string {
			a := good
			b := []byte(a.Nonce)
			b[3] ^= 'A' ^ 'B'
			if b[3] == a.Nonce[3] {
				b[3] = 'x'
			}
			a.Nonce = string(b)
			return a.String()
		}, "REGISTER", digest.ErrInvalidNonce},
		{"truncated nonce", func() string {
			a := good
			a.Nonce = a.Nonce[:len(a.Nonce)-2]
			return a.String()
		}, "REGISTER", digest.ErrInvalidNonce},
		{"nonce of another server", func() string {
			a := answer(t, other, alice, req)
			a.Opaque = "op"
			return a.String()
		}, "REGISTER", digest.ErrInvalidNonce},
		{"other realm", func() string {
			a := good
			a.Realm = "biloxi.com"
			return a.String()
		}, "REGISTER", digest.ErrRealmMismatch},
		{"missing opaque", func() string {
			a := good
			a.Opaque = ""
			return a.String()
		}, "REGISTER", digest.ErrRealmMismatch},
		{"algorithm not offered", func() string {
			a := good
			a.Algorithm = digest.SHA512_256
			return a.String()
		}, "REGISTER", digest.ErrUnsupportedAlgorithm},
		{"no qop (RFC 2069)", func() string {
			a := good
			a.QOP, a.NC, a.CNonce = "", 0, ""
			return a.String()
		}, "REGISTER", digest.ErrUnsupportedQOP},
		{"qop not offered", func() string {
			a := good
			a.QOP = digest.QOPAuthInt
			return a.String()
		}, "REGISTER", digest.ErrUnsupportedQOP},
		{"nc zero", func() string {
			a := good
			a.NC = 0
			return a.String()
		}, "REGISTER", digest.ErrReplay},
		{"userhash", func() string {
			a := good
			a.Userhash = true
			return a.String()
		}, "REGISTER", digest.ErrUnknownUser},
		{"malformed", func() string { return `Digest username="alice"` }, "REGISTER", digest.ErrMalformed},
		{"Basic", func() string { return `Basic YWxpY2U6d29uZGVybGFuZA==` }, "REGISTER", digest.ErrUnsupportedScheme},
		// RFC 4475 §3.3.7 (regaut01): an unknown scheme; the registrar re-challenges.
		{"unknown scheme", func() string { return `NoOneKnowsThisScheme opaque-data=here` }, "REGISTER", digest.ErrUnsupportedScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := srv.Verify(tt.value(), tt.method, nil, lookupAlice)
			require.ErrorIs(t, err, tt.want)
		})
	}
	// None of the rejections used the nonce up.
	_, err := srv.Verify(good.String(), "REGISTER", nil, lookupAlice)
	require.NoError(t, err)
}

func TestServerReplay(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{})
	ch, err := digest.ParseChallenge(challenges(t, srv, false)[0])
	require.NoError(t, err)
	at := func(nc uint32) string {
		a, err := digest.Authorize(ch, alice, "REGISTER", "sip:atlanta.com", nil, nc, "cn")
		require.NoError(t, err)
		return a.String()
	}
	steps := []struct {
		nc   uint32
		want error
	}{
		{1, nil},
		{1, digest.ErrReplay}, // the same request again
		{3, nil},              // gaps are fine
		{2, digest.ErrReplay}, // going back is not
		{3, digest.ErrReplay},
		{4, nil},
	}
	for _, st := range steps {
		_, err := srv.Verify(at(st.nc), "REGISTER", nil, lookupAlice)
		if st.want == nil {
			require.NoError(t, err, "nc=%d", st.nc)
		} else {
			require.ErrorIs(t, err, st.want, "nc=%d", st.nc)
		}
	}
}

func TestServerExpiredNonce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, digest.ServerConfig{NonceLifetime: 10 * time.Second})
		c := newClient(t, digest.ClientConfig{})
		auths, err := c.Respond(challenges(t, srv, false), nil, "REGISTER", "sip:atlanta.com", nil)
		require.NoError(t, err)
		_, err = srv.Verify(auths[0].String(), "REGISTER", nil, lookupAlice)
		require.NoError(t, err)

		time.Sleep(10 * time.Second) // virtual time: still valid at exactly the lifetime
		pre, err := c.Authorize("REGISTER", "sip:atlanta.com", nil)
		require.NoError(t, err)
		_, err = srv.Verify(pre[0].String(), "REGISTER", nil, lookupAlice)
		require.NoError(t, err)

		time.Sleep(time.Second)
		pre, err = c.Authorize("REGISTER", "sip:atlanta.com", nil)
		require.NoError(t, err)
		_, err = srv.Verify(pre[0].String(), "REGISTER", nil, lookupAlice)
		require.ErrorIs(t, err, digest.ErrStale)

		// A wrong password with an expired nonce is a wrong password.
		bad, err := digest.ParseAuthorization(pre[0].String())
		require.NoError(t, err)
		bad.NC++
		bad.Response = strings.Repeat("f", len(bad.Response))
		_, err = srv.Verify(bad.String(), "REGISTER", nil, lookupAlice)
		require.ErrorIs(t, err, digest.ErrWrongResponse)

		// The caller re-challenges with stale=true; the client retries
		// without reporting failure and the server accepts.
		auths, err = c.Respond(challenges(t, srv, true), strs(pre), "REGISTER", "sip:atlanta.com", nil)
		require.NoError(t, err)
		_, err = srv.Verify(auths[0].String(), "REGISTER", nil, lookupAlice)
		require.NoError(t, err)
	})
}

func TestServerConcurrentVerify(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{})
	const workers = 8
	// Every worker replays the same credentials: exactly one is accepted.
	shared := answer(t, srv, alice, digest.Request{Method: "REGISTER", URI: "sip:atlanta.com", NC: 1}).String()
	// Each worker also runs its own sequence of nonce counts on its own nonce.
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, replays := 0, 0
	errs := make(chan error, workers*20)
	for range workers {
		ch, err := digest.ParseChallenge(challenges(t, srv, false)[0])
		require.NoError(t, err)
		wg.Go(func() {
			_, err := srv.Verify(shared, "REGISTER", nil, lookupAlice)
			mu.Lock()
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, digest.ErrReplay):
				replays++
			}
			mu.Unlock()
			for nc := uint32(1); nc <= 20; nc++ {
				a, err := digest.Authorize(ch, alice, "REGISTER", "sip:atlanta.com", nil, nc, "cn")
				if err == nil {
					_, err = srv.Verify(a.String(), "REGISTER", nil, lookupAlice)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, accepted)
	require.Equal(t, workers-1, replays)
}

func TestNewServerErrors(t *testing.T) {
	bad := []digest.ServerConfig{
		{},
		{Realm: "r", Algorithms: []digest.Algorithm{digest.Algorithm(9)}},
		{Realm: "r", Algorithms: []digest.Algorithm{digest.MD5, digest.MD5}},
		{Realm: "r", QOP: []digest.QOP{"auth-conf"}},
		{Realm: "r", QOP: []digest.QOP{digest.QOPAuth, digest.QOPAuth}},
		{Realm: "r", Secret: []byte("short")},
		{Realm: "r", NonceLifetime: -time.Second},
		{Realm: "r", MaxTrackedNonces: -1},
		{Realm: "r", Rand: emptyReader{}},
	}
	for i, cfg := range bad {
		_, err := digest.NewServer(cfg)
		require.Error(t, err, "config %d", i)
	}
	// A shared secret lets two servers accept each other's nonces.
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := newServer(t, digest.ServerConfig{Secret: secret})
	b := newServer(t, digest.ServerConfig{Secret: secret})
	auth := answer(t, a, alice, digest.Request{Method: "REGISTER", URI: "sip:atlanta.com", NC: 1})
	_, err := b.Verify(auth.String(), "REGISTER", nil, lookupAlice)
	require.NoError(t, err)
	require.Equal(t, "atlanta.com", b.Realm())
}
