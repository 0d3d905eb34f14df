package digest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip/digest"
)

func BenchmarkParseChallenge(b *testing.B) {
	v := rfc7616Challenge("SHA-256")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := digest.ParseChallenge(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorizationAppendTo(b *testing.B) {
	ch, err := digest.ParseChallenge(rfc7616Challenge("SHA-256"))
	require.NoError(b, err)
	a, err := digest.Authorize(ch, digest.Credentials{Username: "Mufasa", Password: "Circle of Life"}, "GET", "/dir/index.html", nil, 1, rfcCNonce)
	require.NoError(b, err)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = a.AppendTo(buf[:0])
	}
}

func BenchmarkAuthorize(b *testing.B) {
	for _, alg := range []string{"MD5", "SHA-256", "SHA-512-256"} {
		b.Run(alg, func(b *testing.B) {
			ch, err := digest.ParseChallenge(rfc7616Challenge(alg))
			require.NoError(b, err)
			creds := digest.Credentials{Username: "Mufasa", Password: "Circle of Life"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := digest.Authorize(ch, creds, "GET", "/dir/index.html", nil, 1, rfcCNonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkServerVerify(b *testing.B) {
	srv, err := digest.NewServer(digest.ServerConfig{Realm: "atlanta.com", MaxTrackedNonces: 1 << 20})
	require.NoError(b, err)
	v, err := srv.Challenges(false)
	require.NoError(b, err)
	ch, err := digest.ParseChallenge(v[0])
	require.NoError(b, err)
	nc := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		nc++
		a, _ := digest.Authorize(ch, alice, "REGISTER", "sip:atlanta.com", nil, nc, "cn")
		s := a.String()
		if _, err := srv.Verify(s, "REGISTER", nil, lookupAlice); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseChallengeAllocs bounds the allocations of parsing a typical
// challenge: the parameter slice and the qop list; values alias the input.
func TestParseChallengeAllocs(t *testing.T) {
	v := rfc7616Challenge("SHA-256")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := digest.ParseChallenge(v); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 3.0)
}
