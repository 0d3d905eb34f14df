package digest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  digest.Challenge
	}{
		{
			name: "RFC 7616 §3.9.1 SHA-256",
			value: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ` +
				`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			want: digest.Challenge{
				Realm: "http-auth@example.org", Nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				Opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Algorithm: digest.SHA256,
				QOP: []digest.QOP{digest.QOPAuth, digest.QOPAuthInt},
			},
		},
		{
			name:  "no algorithm means MD5, no qop",
			value: `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			want:  digest.Challenge{Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", Algorithm: digest.MD5},
		},
		{
			name:  "folded LWS around separators, lower-case scheme, upper-case names",
			value: "  digest\r\n REALM = \"atlanta.com\" ,\r\n\tNonce=\"84a4cc6f\"\t,  ALGORITHM = md5-SESS ",
			want:  digest.Challenge{Realm: "atlanta.com", Nonce: "84a4cc6f", Algorithm: digest.MD5Sess},
		},
		{
			name:  "escapes in quoted strings",
			value: `Digest realm="a \"quoted\" realm \\ with \x", nonce="n\"1"`,
			want:  digest.Challenge{Realm: `a "quoted" realm \ with x`, Nonce: `n"1`},
		},
		{
			name:  "token values, quoted algorithm, stale in capitals",
			value: `Digest realm=biloxi.com, nonce=YWJjZGVm/+=, algorithm="SHA-512-256", stale=TRUE`,
			want:  digest.Challenge{Realm: "biloxi.com", Nonce: "YWJjZGVm/+=", Algorithm: digest.SHA512_256, Stale: true},
		},
		{
			name:  "stale other than true is false",
			value: `Digest realm="r", nonce="n", stale=yes`,
			want:  digest.Challenge{Realm: "r", Nonce: "n"},
		},
		{
			name:  "single qop token, empty list entries, unknown params kept in order",
			value: `Digest realm="r",, nonce="n", qop=auth, x-extra=tok, foo="b a r", , `,
			want: digest.Challenge{
				Realm: "r", Nonce: "n", QOP: []digest.QOP{digest.QOPAuth},
				Params: []digest.Param{{Name: "x-extra", Value: "tok"}, {Name: "foo", Value: "b a r", Quoted: true}},
			},
		},
		{
			name:  "qop list with blanks, unknown and upper-case options",
			value: `Digest realm="r", nonce="n", qop=" auth-int ,, AUTH, auth-conf "`,
			want:  digest.Challenge{Realm: "r", Nonce: "n", QOP: []digest.QOP{digest.QOPAuthInt, digest.QOPAuth, "auth-conf"}},
		},
		{
			name: "RFC 7616 §3.9.2 domain, charset, userhash",
			value: `Digest realm="api@example.org", domain="/ sip:example.org", qop="auth", algorithm=SHA-512-256-sess, ` +
				`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", charset=UTF-8, userhash=true`,
			want: digest.Challenge{
				Realm: "api@example.org", Domain: "/ sip:example.org", Nonce: "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
				Algorithm: digest.SHA512_256Sess, QOP: []digest.QOP{digest.QOPAuth}, Charset: "UTF-8", Userhash: true,
			},
		},
		{
			name:  "empty quoted values",
			value: `Digest realm="", nonce="", opaque=""`,
			want:  digest.Challenge{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := digest.ParseChallenge(tt.value)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseChallengeErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", digest.ErrMalformed},
		{"only spaces", "   ", digest.ErrMalformed},
		{"Basic", `Basic realm="r"`, digest.ErrUnsupportedScheme},
		{"Bearer", `Bearer token68==`, digest.ErrUnsupportedScheme},
		{"scheme glued to param", `Digestrealm="r", nonce="n"`, digest.ErrUnsupportedScheme},
		{"scheme followed by comma", `Digest,realm="r", nonce="n"`, digest.ErrMalformed},
		{"unknown algorithm", `Digest realm="r", nonce="n", algorithm=SHA-1`, digest.ErrUnsupportedAlgorithm},
		{"AKA is not digest-hash", `Digest realm="r", nonce="n", algorithm=AKAv1-MD5`, digest.ErrUnsupportedAlgorithm},
		{"missing nonce", `Digest realm="r"`, digest.ErrMalformed},
		{"missing realm", `Digest nonce="n"`, digest.ErrMalformed},
		{"scheme only", `Digest`, digest.ErrMalformed},
		{"unterminated quote", `Digest realm="r, nonce="n`, digest.ErrMalformed},
		{"unterminated at end", `Digest realm="r", nonce="n`, digest.ErrMalformed},
		{"backslash at end", `Digest realm="r", nonce="n\`, digest.ErrMalformed},
		{"missing equals", `Digest realm "r", nonce="n"`, digest.ErrMalformed},
		{"missing value", `Digest realm=, nonce="n"`, digest.ErrMalformed},
		{"missing comma", `Digest realm="r" nonce="n"`, digest.ErrMalformed},
		{"garbage after quoted value", `Digest realm="r"x, nonce="n"`, digest.ErrMalformed},
		{"quote inside token", `Digest realm=r"x", nonce="n"`, digest.ErrMalformed},
		{"bad param name", `Digest realm="r", @="x", nonce="n"`, digest.ErrMalformed},
		{"duplicate realm", `Digest realm="r", nonce="n", REALM="s"`, digest.ErrMalformed},
		{"too many params", `Digest realm="r", nonce="n"` + strings.Repeat(", p=1", digest.MaxParams), digest.ErrMalformed},
		{"too many qop options", `Digest realm="r", nonce="n", qop="` + strings.Repeat("auth,", digest.MaxQOPOptions+1) + `"`, digest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := digest.ParseChallenge(tt.value)
			require.ErrorIs(t, err, tt.want)
			var pe *digest.ParseError
			require.ErrorAs(t, err, &pe)
			require.GreaterOrEqual(t, pe.Offset, 0)
			require.LessOrEqual(t, pe.Offset, len(tt.value))
		})
	}
}

func TestParseChallenges(t *testing.T) {
	sha := `Digest realm="r", nonce="n", algorithm=SHA-256`
	md5 := `Digest realm="r", nonce="n"`
	got, err := digest.ParseChallenges([]string{`Basic realm="r"`, sha, `Digest realm="r", nonce="n", algorithm=SHA-1`, `Digest realm="x`, md5})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, digest.SHA256, got[0].Algorithm)
	require.Equal(t, digest.MD5, got[1].Algorithm)

	_, err = digest.ParseChallenges([]string{`Basic realm="r"`, `Digest realm="r", nonce="n", algorithm=SHA-1`})
	require.ErrorIs(t, err, digest.ErrUnsupportedScheme)
	require.ErrorIs(t, err, digest.ErrUnsupportedAlgorithm)

	_, err = digest.ParseChallenges(nil)
	require.ErrorIs(t, err, digest.ErrMalformed)
}

func TestStrongest(t *testing.T) {
	ch := func(a digest.Algorithm, realm string) digest.Challenge {
		return digest.Challenge{Realm: realm, Nonce: "n", Algorithm: a}
	}
	tests := []struct {
		name   string
		in     []digest.Challenge
		want   digest.Challenge
		wantOK bool
	}{
		{"empty", nil, digest.Challenge{}, false},
		{"only MD5", []digest.Challenge{ch(digest.MD5, "a")}, ch(digest.MD5, "a"), true},
		{"SHA-256 after MD5", []digest.Challenge{ch(digest.MD5, "a"), ch(digest.SHA256, "b")}, ch(digest.SHA256, "b"), true},
		{"SHA-512-256 over SHA-256", []digest.Challenge{ch(digest.SHA256, "a"), ch(digest.SHA512_256, "b"), ch(digest.MD5, "c")}, ch(digest.SHA512_256, "b"), true},
		{"sess ranks with its base, first wins", []digest.Challenge{ch(digest.SHA256Sess, "a"), ch(digest.SHA256, "b")}, ch(digest.SHA256Sess, "a"), true},
		{"base first wins over sess", []digest.Challenge{ch(digest.SHA256, "a"), ch(digest.SHA256Sess, "b")}, ch(digest.SHA256, "a"), true},
		{"MD5-sess below SHA-256-sess", []digest.Challenge{ch(digest.MD5Sess, "a"), ch(digest.SHA256Sess, "b")}, ch(digest.SHA256Sess, "b"), true},
		{"invalid algorithm skipped", []digest.Challenge{ch(digest.Algorithm(200), "a"), ch(digest.MD5, "b")}, ch(digest.MD5, "b"), true},
		{"only invalid", []digest.Challenge{ch(digest.Algorithm(200), "a")}, digest.Challenge{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := digest.Strongest(tt.in)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAlgorithm(t *testing.T) {
	for _, name := range []string{"MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"} {
		a, err := digest.ParseAlgorithm(strings.ToLower(name))
		require.NoError(t, err)
		require.Equal(t, name, a.String())
		require.Equal(t, strings.HasSuffix(name, "-sess"), a.Sess())
		require.Equal(t, strings.TrimSuffix(name, "-sess"), a.Base().String())
	}
	_, err := digest.ParseAlgorithm("SHA-512")
	require.True(t, errors.Is(err, digest.ErrUnsupportedAlgorithm))
	require.False(t, digest.Algorithm(99).Valid())
	require.Equal(t, "Algorithm(99)", digest.Algorithm(99).String())
}

func TestChallengeString(t *testing.T) {
	ch := digest.Challenge{
		Realm: `a"b`, Domain: "sip:a.example", Nonce: "n", Opaque: "o", Stale: true, Algorithm: digest.SHA256,
		QOP: []digest.QOP{digest.QOPAuth, digest.QOPAuthInt}, Charset: "UTF-8", Userhash: true,
		Params: []digest.Param{{Name: "x", Value: "1"}, {Name: "y", Value: "has space"}, {Name: "z", Value: "q", Quoted: true}},
	}
	want := `Digest realm="a\"b", domain="sip:a.example", nonce="n", opaque="o", stale=true, algorithm=SHA-256, ` +
		`qop="auth,auth-int", charset=UTF-8, userhash=true, x=1, y="has space", z="q"`
	require.Equal(t, want, ch.String())
	back, err := digest.ParseChallenge(want)
	require.NoError(t, err)
	ch.Params[1].Quoted = true // written quoted because it has to be
	require.Equal(t, ch, back)
}
