package digest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

// RFC 7616 §3.9.1 inputs.
const (
	rfcNonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
	rfcCNonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	rfcOpaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
)

func rfc7616Challenge(alg string) string {
	return `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + alg +
		`, nonce="` + rfcNonce + `", opaque="` + rfcOpaque + `"`
}

// TestRFC7616Example checks the two responses of RFC 7616 §3.9.1. The
// expected values are those printed in the RFC (its §3.9.1 Authorization
// headers, as quoted by several independent test suites), and were also
// recomputed here with `printf … | md5sum` and `| sha256sum`.
func TestRFC7616Example(t *testing.T) {
	creds := digest.Credentials{Username: "Mufasa", Password: "Circle of Life"}
	tests := []struct {
		alg      string
		response string
	}{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			ch, err := digest.ParseChallenge(rfc7616Challenge(tt.alg))
			require.NoError(t, err)
			a, err := digest.Authorize(ch, creds, "GET", "/dir/index.html", nil, 1, rfcCNonce)
			require.NoError(t, err)
			require.Equal(t, tt.response, a.Response)
			want := `Digest username="Mufasa", realm="http-auth@example.org", nonce="` + rfcNonce +
				`", uri="/dir/index.html", response="` + tt.response + `", algorithm=` + tt.alg +
				`, cnonce="` + rfcCNonce + `", opaque="` + rfcOpaque + `", qop=auth, nc=00000001`
			require.Equal(t, want, a.String())
			back, err := digest.ParseAuthorization(a.String())
			require.NoError(t, err)
			require.Equal(t, a, back)
		})
	}
}

// TestRFC7616UserhashExample is RFC 7616 §3.9.2 (SHA-512-256, userhash).
// The RFC's printed username and response are wrong (erratum 4897, reported);
// the expected values here are the erratum's, which match an independent
// computation with Python's hashlib.new("sha512_256").
func TestRFC7616UserhashExample(t *testing.T) {
	ch, err := digest.ParseChallenge(`Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, ` +
		`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", ` +
		`charset=UTF-8, userhash=true`)
	require.NoError(t, err)
	creds := digest.Credentials{Username: "J\u00e4s\u00f8n Doe", Password: "Secret, or not?"}
	a, err := digest.Authorize(ch, creds, "GET", "/doe.json", nil, 1, "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
	require.NoError(t, err)
	require.True(t, a.Userhash)
	require.Equal(t, "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b", a.Username)
	require.Equal(t, "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", a.Response)
	require.Contains(t, a.String(), ", userhash=true")
}

// RFC 2617 §3.5 inputs.
const (
	rfc2617Challenge = `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	rfc2617Nonce     = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
)

func TestAuthorizeVariants(t *testing.T) {
	mufasa := digest.Credentials{Username: "Mufasa", Password: "Circle Of Life"}
	tests := []struct {
		name      string
		challenge string
		creds     digest.Credentials
		req       digest.Request
		wantQOP   digest.QOP
		wantNC    uint32
		response  string
	}{
		{
			// Value printed in RFC 2617 §3.5.
			name: "RFC 2617 §3.5 auth", challenge: rfc2617Challenge, creds: mufasa,
			req:     digest.Request{Method: "GET", URI: "/dir/index.html", NC: 1, CNonce: "0a4f113b"},
			wantQOP: digest.QOPAuth, wantNC: 1, response: "6629fae49393a05397450978507c4ef1",
		},
		{
			// Value printed in RFC 2069 §2.4 (password without spaces).
			name:      "RFC 2069 §2.4 no qop",
			challenge: `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			creds:     digest.Credentials{Username: "Mufasa", Password: "CircleOfLife"},
			req:       digest.Request{Method: "GET", URI: "/dir/index.html", NC: 7, CNonce: "ignored"},
			response:  "1949323746fe6a43ef61f9606e7febea",
		},
		{
			// Computed independently: printf 'v=0\r\n' | md5sum for H(body), then md5sum over A2 and the KD string.
			name:      "auth-int when it is the only option",
			challenge: `Digest realm="testrealm@host.com", qop="auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			creds:     mufasa,
			req:       digest.Request{Method: "INVITE", URI: "sip:bob@biloxi.com", Body: []byte("v=0\r\n"), NC: 2, CNonce: "0a4f113b"},
			wantQOP:   digest.QOPAuthInt, wantNC: 2, response: "056db5ef4b921fc6b1e51d4c22c2185b",
		},
		{
			name: "auth-int when preferred", challenge: rfc2617Challenge, creds: mufasa,
			req:     digest.Request{Method: "INVITE", URI: "sip:bob@biloxi.com", Body: []byte("v=0\r\n"), NC: 2, CNonce: "0a4f113b", PreferAuthInt: true},
			wantQOP: digest.QOPAuthInt, wantNC: 2, response: "056db5ef4b921fc6b1e51d4c22c2185b",
		},
		{
			// Computed independently with md5sum: A1 = H(Mufasa:testrealm@host.com:Circle Of Life):nonce:cnonce.
			name:      "MD5-sess",
			challenge: `Digest realm="testrealm@host.com", qop="auth", algorithm=MD5-sess, nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			creds:     mufasa,
			req:       digest.Request{Method: "GET", URI: "/dir/index.html", CNonce: "0a4f113b"}, // NC 0 means 1
			wantQOP:   digest.QOPAuth, wantNC: 1, response: "8e3825c57e897f5a0dec6c2d4e5059d0",
		},
		{
			// Computed independently with sha256sum, as above.
			name:      "SHA-256-sess",
			challenge: `Digest realm="testrealm@host.com", qop="auth", algorithm=SHA-256-sess, nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			creds:     mufasa,
			req:       digest.Request{Method: "GET", URI: "/dir/index.html", NC: 1, CNonce: "0a4f113b"},
			wantQOP:   digest.QOPAuth, wantNC: 1, response: "b8822e12417cb7750f4e2b8515f0dcf25b7dd26993e80bee1426201446a7f59b",
		},
		{
			name: "precomputed HA1 instead of password", challenge: rfc2617Challenge,
			creds: digest.Credentials{Username: "Mufasa", HA1: map[digest.Algorithm]string{
				digest.MD5: digest.ComputeHA1(digest.MD5, "Mufasa", "testrealm@host.com", "Circle Of Life"),
			}},
			req:     digest.Request{Method: "GET", URI: "/dir/index.html", NC: 1, CNonce: "0a4f113b"},
			wantQOP: digest.QOPAuth, wantNC: 1, response: "6629fae49393a05397450978507c4ef1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := digest.ParseChallenge(tt.challenge)
			require.NoError(t, err)
			a, err := digest.AuthorizeRequest(ch, tt.creds, tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.response, a.Response)
			require.Equal(t, tt.wantQOP, a.QOP)
			require.Equal(t, tt.wantNC, a.NC)
			require.Equal(t, ch.Opaque, a.Opaque)
			back, err := digest.ParseAuthorization(a.String())
			require.NoError(t, err)
			require.Equal(t, a, back)
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	ch, err := digest.ParseChallenge(rfc2617Challenge)
	require.NoError(t, err)
	mufasa := digest.Credentials{Username: "Mufasa", Password: "Circle Of Life"}

	_, err = digest.Authorize(ch, mufasa, "GET", "/", nil, 1, "")
	require.ErrorIs(t, err, digest.ErrMalformed, "qop needs a cnonce")

	_, err = digest.Authorize(ch, digest.Credentials{Username: "Mufasa"}, "GET", "/", nil, 1, "c")
	require.ErrorIs(t, err, digest.ErrNoCredentials)

	sha := ch
	sha.Algorithm = digest.SHA256
	md5Only := digest.Credentials{Username: "Mufasa", HA1: map[digest.Algorithm]string{digest.MD5: digest.ComputeHA1(digest.MD5, "Mufasa", "r", "p")}}
	_, err = digest.Authorize(sha, md5Only, "GET", "/", nil, 1, "c")
	require.ErrorIs(t, err, digest.ErrNoCredentials, "an MD5 HA1 cannot answer SHA-256")

	conf := ch
	conf.QOP = []digest.QOP{"auth-conf"}
	_, err = digest.Authorize(conf, mufasa, "GET", "/", nil, 1, "c")
	require.ErrorIs(t, err, digest.ErrUnsupportedQOP)

	bad := ch
	bad.Algorithm = digest.Algorithm(77)
	_, err = digest.Authorize(bad, mufasa, "GET", "/", nil, 1, "c")
	require.ErrorIs(t, err, digest.ErrUnsupportedAlgorithm)
}

func TestChooseQOP(t *testing.T) {
	tests := []struct {
		offered []digest.QOP
		prefer  bool
		want    digest.QOP
		ok      bool
	}{
		{nil, false, "", true},
		{nil, true, "", true},
		{[]digest.QOP{digest.QOPAuth}, true, digest.QOPAuth, true},
		{[]digest.QOP{digest.QOPAuthInt, digest.QOPAuth}, false, digest.QOPAuth, true},
		{[]digest.QOP{digest.QOPAuth, digest.QOPAuthInt}, true, digest.QOPAuthInt, true},
		{[]digest.QOP{digest.QOPAuthInt}, false, digest.QOPAuthInt, true},
		{[]digest.QOP{"auth-conf"}, false, "", false},
	}
	for _, tt := range tests {
		got, ok := digest.ChooseQOP(digest.Challenge{QOP: tt.offered}, tt.prefer)
		require.Equal(t, tt.ok, ok, "%v prefer=%v", tt.offered, tt.prefer)
		require.Equal(t, tt.want, got, "%v prefer=%v", tt.offered, tt.prefer)
	}
}

func TestParseAuthorization(t *testing.T) {
	good := `Digest username="Mufasa", realm="testrealm@host.com", nonce="` + rfc2617Nonce + `", uri="/dir/index.html", ` +
		`qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	a, err := digest.ParseAuthorization(good)
	require.NoError(t, err)
	require.Equal(t, digest.Authorization{
		Username: "Mufasa", Realm: "testrealm@host.com", Nonce: rfc2617Nonce, URI: "/dir/index.html",
		Response: "6629fae49393a05397450978507c4ef1", Algorithm: digest.MD5, CNonce: "0a4f113b",
		Opaque: "5ccc069c403ebaf9f0171e9517f40e41", QOP: digest.QOPAuth, NC: 1,
	}, a)

	a, err = digest.ParseAuthorization(`digest USERNAME="u", realm=r, nonce="n", uri="sip:a@b", response="00", qop="AUTH", nc=A, cnonce=c, algorithm=sha-256, userhash=TRUE, ext="v"`)
	require.NoError(t, err)
	require.Equal(t, digest.Authorization{
		Username: "u", Userhash: true, Realm: "r", Nonce: "n", URI: "sip:a@b", Response: "00", Algorithm: digest.SHA256,
		CNonce: "c", QOP: digest.QOPAuth, NC: 10, Params: []digest.Param{{Name: "ext", Value: "v", Quoted: true}},
	}, a)

	bad := []struct {
		name, value string
		want        error
	}{
		{"Basic", `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`, digest.ErrUnsupportedScheme},
		{"no username", `Digest realm="r", nonce="n", uri="/", response="x"`, digest.ErrMalformed},
		{"username* only", `Digest username*=UTF-8''J%C3%A4s, realm="r", nonce="n", uri="/", response="x"`, digest.ErrMalformed},
		{"no uri", `Digest username="u", realm="r", nonce="n", response="x"`, digest.ErrMalformed},
		{"no response", `Digest username="u", realm="r", nonce="n", uri="/"`, digest.ErrMalformed},
		{"no realm", `Digest username="u", nonce="n", uri="/", response="x"`, digest.ErrMalformed},
		{"no nonce", `Digest username="u", realm="r", uri="/", response="x"`, digest.ErrMalformed},
		{"qop without nc", `Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, cnonce="c"`, digest.ErrMalformed},
		{"qop without cnonce", `Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=00000001`, digest.ErrMalformed},
		{"nc too long", `Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=000000001, cnonce="c"`, digest.ErrMalformed},
		{"nc not hex", `Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=0000000g, cnonce="c"`, digest.ErrMalformed},
		{"nc signed", `Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=+1, cnonce="c"`, digest.ErrMalformed},
		{"unknown algorithm", `Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=SHA-1`, digest.ErrUnsupportedAlgorithm},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := digest.ParseAuthorization(tt.value)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
