package digest_test

import (
	"errors"
	"fmt"

	"github.com/dialtone/dialtone/sip/digest"
)

func ExampleParseChallenge() {
	ch, err := digest.ParseChallenge(`Digest realm="atlanta.com", qop="auth,auth-int", ` +
		`nonce="84a4cc6f3082121f32b42a2187831a9e", algorithm=SHA-256, opaque="5ccc069c"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ch.Realm, ch.Algorithm, ch.QOP, ch.Opaque)
	// Output: atlanta.com SHA-256 [auth auth-int] 5ccc069c
}

func ExampleStrongest() {
	chs, _ := digest.ParseChallenges([]string{
		`Digest realm="biloxi.com", nonce="a", algorithm=MD5`,
		`Digest realm="biloxi.com", nonce="a", algorithm=SHA-256`,
		`Basic realm="biloxi.com"`,
	})
	ch, ok := digest.Strongest(chs)
	fmt.Println(len(chs), ch.Algorithm, ok)
	// Output: 2 SHA-256 true
}

// The MD5 example of RFC 7616 §3.9.1.
func ExampleAuthorize() {
	ch, _ := digest.ParseChallenge(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, ` +
		`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
	creds := digest.Credentials{Username: "Mufasa", Password: "Circle of Life"}
	a, err := digest.Authorize(ch, creds, "GET", "/dir/index.html", nil, 1, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a)
	// Output: Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", response="8ca523f5e9506fed4657c9700eebdbec", algorithm=MD5, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", qop=auth, nc=00000001
}

// A registrar and a user agent: challenge, answer, verify, and a replay.
func ExampleServer() {
	srv, err := digest.NewServer(digest.ServerConfig{Realm: "atlanta.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	users := func(username, realm string) (digest.Credentials, bool) {
		if username == "alice" {
			return digest.Credentials{Username: "alice", Password: "wonderland"}, true
		}
		return digest.Credentials{}, false
	}
	ua, _ := digest.NewClient(digest.ClientConfig{Credentials: digest.Credentials{Username: "alice", Password: "wonderland"}})

	// 401 Unauthorized with one WWW-Authenticate per algorithm.
	wwwAuthenticate, _ := srv.Challenges(false)
	fmt.Println(len(wwwAuthenticate), "challenges")

	// The UA retries the REGISTER with an Authorization header.
	auths, err := ua.Respond(wwwAuthenticate, nil, "REGISTER", "sip:atlanta.com", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(auths[0].Algorithm, auths[0].QOP, auths[0].NC)
	user, err := srv.Verify(auths[0].String(), "REGISTER", nil, users)
	fmt.Println(user, err)

	// The same header again is a replay.
	_, err = srv.Verify(auths[0].String(), "REGISTER", nil, users)
	fmt.Println(errors.Is(err, digest.ErrReplay))

	// The next REGISTER carries credentials at once, with nc incremented.
	next, _ := ua.Authorize("REGISTER", "sip:atlanta.com", nil)
	user, err = srv.Verify(next[0].String(), "REGISTER", nil, users)
	fmt.Println(next[0].NC, user, err)
	// Output:
	// 2 challenges
	// SHA-256 auth 1
	// alice <nil>
	// true
	// 2 alice <nil>
}

// After the server says the credentials were refused (a new challenge
// without stale=true), the client stops instead of looping.
func ExampleClient_Respond() {
	srv, _ := digest.NewServer(digest.ServerConfig{Realm: "atlanta.com"})
	ua, _ := digest.NewClient(digest.ClientConfig{Credentials: digest.Credentials{Username: "alice", Password: "typo"}})

	challenge, _ := srv.Challenges(false)
	sent, _ := ua.Respond(challenge, nil, "REGISTER", "sip:atlanta.com", nil)

	// The registrar rejected the password and challenges again.
	challenge, _ = srv.Challenges(false)
	var authorization []string
	for _, a := range sent {
		authorization = append(authorization, a.String())
	}
	_, err := ua.Respond(challenge, authorization, "REGISTER", "sip:atlanta.com", nil)
	fmt.Println(err, errors.Is(err, digest.ErrAuthFailed))
	// Output: digest: authentication failed for realm "atlanta.com" true
}
