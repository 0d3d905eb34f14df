package digest_test

import (
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

var alice = digest.Credentials{Username: "alice", Password: "wonderland"}

func newServer(t *testing.T, cfg digest.ServerConfig) *digest.Server {
	t.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "atlanta.com"
	}
	s, err := digest.NewServer(cfg)
	require.NoError(t, err)
	return s
}

func lookupAlice(username, realm string) (digest.Credentials, bool) {
	if username == alice.Username && realm == "atlanta.com" {
		return alice, true
	}
	return digest.Credentials{}, false
}

func challenges(t *testing.T, s *digest.Server, stale bool) []string {
	t.Helper()
	v, err := s.Challenges(stale)
	require.NoError(t, err)
	return v
}

func newClient(t *testing.T, cfg digest.ClientConfig) *digest.Client {
	t.Helper()
	if cfg.Credentials.Username == "" {
		cfg.Credentials = alice
	}
	c, err := digest.NewClient(cfg)
	require.NoError(t, err)
	return c
}

func strs(as []digest.Authorization) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func TestClientAgainstServer(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{Algorithms: []digest.Algorithm{digest.MD5, digest.SHA256, digest.SHA512_256}})
	c := newClient(t, digest.ClientConfig{})

	auths, err := c.Respond(challenges(t, srv, false), nil, "REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
	require.Len(t, auths, 1)
	require.Equal(t, digest.SHA512_256, auths[0].Algorithm, "strongest offered")
	require.Equal(t, uint32(1), auths[0].NC)
	user, err := srv.Verify(auths[0].String(), "REGISTER", nil, lookupAlice)
	require.NoError(t, err)
	require.Equal(t, "alice", user)

	// Later requests reuse the nonce with increasing nc and fresh cnonces.
	var cnonces []string
	for nc := uint32(2); nc <= 4; nc++ {
		pre, err := c.Authorize("INVITE", "sip:bob@atlanta.com", []byte("v=0\r\n"))
		require.NoError(t, err)
		require.Len(t, pre, 1)
		require.Equal(t, nc, pre[0].NC)
		require.Equal(t, auths[0].Nonce, pre[0].Nonce)
		require.NotContains(t, cnonces, pre[0].CNonce)
		cnonces = append(cnonces, pre[0].CNonce)
		_, err = srv.Verify(pre[0].String(), "INVITE", nil, lookupAlice)
		require.NoError(t, err)
	}
}

func TestClientStale(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{})
	c := newClient(t, digest.ClientConfig{})

	first, err := c.Respond(challenges(t, srv, false), nil, "REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
	pre, err := c.Authorize("REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
	require.Equal(t, uint32(2), pre[0].NC)

	// The server found the nonce stale: retry with the new one, no error.
	staleCh := challenges(t, srv, true)
	again, err := c.Respond(staleCh, strs(pre), "REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.NotEqual(t, first[0].Nonce, again[0].Nonce)
	require.Equal(t, uint32(1), again[0].NC)
	_, err = srv.Verify(again[0].String(), "REGISTER", nil, lookupAlice)
	require.NoError(t, err)

	// The new nonce, reused later, may go stale too: still no error.
	pre, err = c.Authorize("REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
	require.Equal(t, uint32(2), pre[0].NC)
	_, err = c.Respond(challenges(t, srv, true), strs(pre), "REGISTER", "sip:atlanta.com", nil)
	require.NoError(t, err)
}

func TestClientAuthFailed(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{})
	ch := challenges(t, srv, false)
	tests := []struct {
		name string
		// run returns the error of the second Respond.
		run       func(t *testing.T, c *digest.Client) error
		wantStale bool
	}{
		{
			name: "second challenge without stale after answering",
			run: func(t *testing.T, c *digest.Client) error {
				sent, err := c.Respond(ch, nil, "REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				_, err = c.Respond(challenges(t, srv, false), strs(sent), "REGISTER", "sip:atlanta.com", nil)
				return err
			},
		},
		{
			name: "second challenge without stale after preemptive credentials",
			run: func(t *testing.T, c *digest.Client) error {
				_, err := c.Respond(ch, nil, "REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				pre, err := c.Authorize("REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				_, err = c.Respond(challenges(t, srv, false), strs(pre), "REGISTER", "sip:atlanta.com", nil)
				return err
			},
		},
		{
			name: "stale=true with the nonce that was just used",
			run: func(t *testing.T, c *digest.Client) error {
				sent, err := c.Respond(ch, nil, "REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				same, err := digest.ParseChallenge(ch[0])
				require.NoError(t, err)
				same.Stale = true
				_, err = c.Respond([]string{same.String()}, strs(sent), "REGISTER", "sip:atlanta.com", nil)
				return err
			},
			wantStale: true,
		},
		{
			name: "stale=true again for a nonce that came with stale=true",
			run: func(t *testing.T, c *digest.Client) error {
				sent, err := c.Respond(ch, nil, "REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				sent, err = c.Respond(challenges(t, srv, true), strs(sent), "REGISTER", "sip:atlanta.com", nil)
				require.NoError(t, err)
				_, err = c.Respond(challenges(t, srv, true), strs(sent), "REGISTER", "sip:atlanta.com", nil)
				return err
			},
			wantStale: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, digest.ClientConfig{})
			err := tt.run(t, c)
			require.ErrorIs(t, err, digest.ErrAuthFailed)
			var af *digest.AuthFailedError
			require.ErrorAs(t, err, &af)
			require.Equal(t, "atlanta.com", af.Realm)
			require.Equal(t, tt.wantStale, af.Stale)
			// The realm is forgotten: nothing is sent preemptively, and a
			// later fresh challenge is answered.
			pre, err := c.Authorize("REGISTER", "sip:atlanta.com", nil)
			require.NoError(t, err)
			require.Empty(t, pre)
			_, err = c.Respond(challenges(t, srv, false), nil, "REGISTER", "sip:atlanta.com", nil)
			require.NoError(t, err)
		})
	}
}

// Two requests challenged at the same time each get an answer: the rule
// looks at what each rejected request carried.
func TestClientConcurrentChallenges(t *testing.T) {
	srv := newServer(t, digest.ServerConfig{})
	c := newClient(t, digest.ClientConfig{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			auths, err := c.Respond(challenges(t, srv, false), nil, "OPTIONS", "sip:atlanta.com", nil)
			if err == nil {
				_, err = srv.Verify(auths[0].String(), "OPTIONS", nil, lookupAlice)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestClientRealms(t *testing.T) {
	atlanta := newServer(t, digest.ServerConfig{Realm: "atlanta.com", Algorithms: []digest.Algorithm{digest.MD5}})
	biloxi := newServer(t, digest.ServerConfig{Realm: "biloxi.com", Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5}})
	c := newClient(t, digest.ClientConfig{})
	// A forked INVITE challenged by two proxies: one answer per realm.
	values := append(challenges(t, atlanta, false), challenges(t, biloxi, false)...)
	auths, err := c.Respond(append([]string{`Basic realm="x"`}, values...), nil, "INVITE", "sip:bob@biloxi.com", nil)
	require.NoError(t, err)
	require.Len(t, auths, 2)
	require.Equal(t, "atlanta.com", auths[0].Realm)
	require.Equal(t, digest.MD5, auths[0].Algorithm)
	require.Equal(t, "biloxi.com", auths[1].Realm)
	require.Equal(t, digest.SHA256, auths[1].Algorithm)

	// Only biloxi rejects again (stale): atlanta's credentials are not at issue.
	auths, err = c.Respond(challenges(t, biloxi, true), strs(auths), "INVITE", "sip:bob@biloxi.com", nil)
	require.NoError(t, err)
	require.Len(t, auths, 1)
	require.Equal(t, "biloxi.com", auths[0].Realm)

	pre, err := c.Authorize("BYE", "sip:bob@192.0.2.4", nil)
	require.NoError(t, err)
	require.Len(t, pre, 2)
	require.Equal(t, []uint32{2, 2}, []uint32{pre[0].NC, pre[1].NC})

	c.Forget("atlanta.com")
	pre, err = c.Authorize("BYE", "sip:bob@192.0.2.4", nil)
	require.NoError(t, err)
	require.Len(t, pre, 1)
	require.Equal(t, "biloxi.com", pre[0].Realm)
}

func TestClientMaxRealms(t *testing.T) {
	c := newClient(t, digest.ClientConfig{MaxRealms: 2})
	for _, realm := range []string{"a", "b", "c"} {
		_, err := c.Respond([]string{`Digest realm="` + realm + `", nonce="n", qop="auth"`}, nil, "OPTIONS", "sip:x", nil)
		require.NoError(t, err)
	}
	pre, err := c.Authorize("OPTIONS", "sip:x", nil)
	require.NoError(t, err)
	require.Len(t, pre, 2)
	require.Equal(t, []string{"b", "c"}, []string{pre[0].Realm, pre[1].Realm})

	// One response naming more realms than allowed is answered for the first ones.
	var many []string
	for _, realm := range []string{"d", "e", "f"} {
		many = append(many, `Digest realm="`+realm+`", nonce="n"`)
	}
	auths, err := c.Respond(many, nil, "OPTIONS", "sip:x", nil)
	require.NoError(t, err)
	require.Len(t, auths, 2)
}

func TestClientChoices(t *testing.T) {
	// Only an MD5 HA1: the SHA-256 challenge is skipped for the MD5 one.
	md5Only := digest.Credentials{Username: "alice", HA1: map[digest.Algorithm]string{
		digest.MD5: digest.ComputeHA1(digest.MD5, "alice", "atlanta.com", "wonderland"),
	}}
	srv := newServer(t, digest.ServerConfig{QOP: []digest.QOP{digest.QOPAuth, digest.QOPAuthInt}})
	c := newClient(t, digest.ClientConfig{Credentials: md5Only, PreferAuthInt: true})
	body := []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n")
	auths, err := c.Respond(challenges(t, srv, false), nil, "INVITE", "sip:bob@atlanta.com", body)
	require.NoError(t, err)
	require.Equal(t, digest.MD5, auths[0].Algorithm)
	require.Equal(t, digest.QOPAuthInt, auths[0].QOP)
	_, err = srv.Verify(auths[0].String(), "INVITE", body, lookupAlice)
	require.NoError(t, err)
	_, err = srv.Verify(auths[0].String(), "INVITE", []byte("v=1\r\n"), lookupAlice)
	require.ErrorIs(t, err, digest.ErrWrongResponse, "auth-int covers the body")

	// Nothing answerable.
	_, err = c.Respond([]string{`Basic realm="x"`}, nil, "INVITE", "sip:bob@atlanta.com", nil)
	require.ErrorIs(t, err, digest.ErrUnsupportedScheme)
	_, err = c.Respond([]string{`Digest realm="x", nonce="n", algorithm=SHA-256`}, nil, "INVITE", "sip:bob@atlanta.com", nil)
	require.ErrorIs(t, err, digest.ErrNoCredentials)
	_, err = c.Respond([]string{`Digest realm="x", nonce="n", qop="auth-conf"`}, nil, "INVITE", "sip:bob@atlanta.com", nil)
	require.ErrorIs(t, err, digest.ErrUnsupportedQOP)

	_, err = digest.NewClient(digest.ClientConfig{})
	require.Error(t, err)
}

func TestNewCNonce(t *testing.T) {
	a, err := digest.NewCNonce(nil)
	require.NoError(t, err)
	b, err := digest.NewCNonce(nil)
	require.NoError(t, err)
	require.Len(t, a, 22)
	require.NotEqual(t, a, b)
	_, err = digest.NewCNonce(emptyReader{})
	require.Error(t, err)
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
