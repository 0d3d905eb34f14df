package digest_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

// tortureDir is the RFC 4475/5118 corpus of package sip
// (sip/testdata/torture).
const tortureDir = "../testdata/torture"

// authSeeds returns the values of the authentication header fields found
// in the torture corpus.
func authSeeds(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(tortureDir, "*", "*.dat"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "torture corpus at %s", tortureDir)
	var out []string
	for _, name := range files {
		f, err := os.Open(name)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			hname, value, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(hname)) {
			case "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate":
				out = append(out, strings.TrimSpace(value))
			}
		}
		require.NoError(t, f.Close())
	}
	return out
}

// FuzzDigestChallenge checks that ParseChallenge never panics and that
// what it accepts survives a String/parse round trip unchanged.
func FuzzDigestChallenge(f *testing.F) {
	for _, s := range []string{
		rfc7616Challenge("SHA-256"),
		rfc2617Challenge,
		`Digest realm="api@example.org", domain="/ sip:x", qop="auth", algorithm=SHA-512-256-sess, nonce="n", charset=UTF-8, userhash=true, stale=TRUE`,
		"digest\r\n\tREALM = atlanta.com ,, nonce=a/b+c=, x=\"a\\\"b\\\\\", y=z",
		`Digest realm="r", nonce="n", qop=" auth-int ,, AUTH, auth-conf "`,
		`Digest realm="r, nonce="n`,
		`Basic realm="r"`,
	} {
		f.Add(s)
	}
	for _, s := range authSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ch, err := digest.ParseChallenge(in)
		if err != nil {
			return
		}
		out := ch.String()
		back, err := digest.ParseChallenge(out)
		require.NoError(t, err, "%q → %q", in, out)
		require.Equal(t, ch, back, "%q → %q", in, out)
		require.Equal(t, out, back.String())
	})
}

// FuzzParseAuthorization is the same property for credentials.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range authSeeds(f) {
		f.Add(s)
	}
	f.Add(`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ` +
		`qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	f.Add(`digest USERNAME="u", realm=r, nonce="n", uri="sip:a@b", response="00", qop="AUTH", nc=A, cnonce=c, algorithm=sha-256, userhash=TRUE, ext="v"`)
	f.Add(`Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=5, cnonce=""`)
	f.Fuzz(func(t *testing.T, in string) {
		a, err := digest.ParseAuthorization(in)
		if err != nil {
			return
		}
		out := a.String()
		back, err := digest.ParseAuthorization(out)
		require.NoError(t, err, "%q → %q", in, out)
		require.Equal(t, a, back, "%q → %q", in, out)
		require.Equal(t, out, back.String())
	})
}

// TestTortureRegaut01 reads RFC 4475 §3.3.7: an Authorization
// header of an unknown scheme, which a registrar answers with a challenge.
func TestTortureRegaut01(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(tortureDir, "rfc4475", "regaut01.dat"))
	require.NoError(t, err, "the torture corpus is part of the repository")
	var value string
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Authorization:"); ok {
			value = strings.TrimSpace(v)
		}
	}
	require.Equal(t, "NoOneKnowsThisScheme opaque-data=here", value)
	_, err = digest.ParseAuthorization(value)
	require.ErrorIs(t, err, digest.ErrUnsupportedScheme)
}
