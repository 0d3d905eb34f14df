package digest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
)

// DefaultMaxRealms is [ClientConfig.MaxRealms] when zero.
const DefaultMaxRealms = 16

// cnonceBytes is the entropy of a client nonce (RFC 7616 §5.12 asks for an
// unpredictable value).
const cnonceBytes = 16

// NewCNonce returns a fresh client nonce: 16 bytes from r (crypto/rand when
// nil) in unpadded URL-safe base64.
func NewCNonce(r io.Reader) (string, error) {
	var b [cnonceBytes]byte
	var err error
	if r == nil {
		_, err = rand.Read(b[:])
	} else {
		_, err = io.ReadFull(r, b[:])
	}
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ClientConfig configures a [Client]. The zero value of every field but
// Credentials is valid.
type ClientConfig struct {
	// Credentials answer every realm.
	Credentials Credentials
	// PreferAuthInt answers with qop=auth-int when a challenge offers both
	// auth and auth-int. auth-int is used anyway when it is the only option.
	PreferAuthInt bool
	// Rand is the source of client nonces; nil means crypto/rand.
	Rand io.Reader
	// MaxRealms bounds the realms whose nonces are remembered; the least
	// recently used is forgotten first. 0 means [DefaultMaxRealms].
	MaxRealms int
}

// Client answers the Digest challenges of one account for one kind of
// challenge header: use one Client for WWW-Authenticate (401) and another
// for Proxy-Authenticate (407), since their credentials go into different
// header fields. It remembers the current nonce of each realm and the nonce
// count used with it, so later requests can carry credentials without
// waiting for a challenge (RFC 3261 §22.3). A Client is safe for concurrent
// use.
type Client struct {
	cfg    ClientConfig
	mu     sync.Mutex
	realms map[string]*realmState
	clock  uint64 // use counter for LRU eviction
}

type realmState struct {
	ch        Challenge
	nc        uint32 // last nonce count sent with ch.Nonce
	fromStale bool   // ch came with stale=true
	used      uint64
}

// NewClient returns a Client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Credentials.Username == "" {
		return nil, errors.New("digest: ClientConfig.Credentials.Username is empty")
	}
	if cfg.MaxRealms <= 0 {
		cfg.MaxRealms = DefaultMaxRealms
	}
	return &Client{cfg: cfg, realms: make(map[string]*realmState)}, nil
}

// Respond answers the challenges of a 401 or 407 response: challenges are
// the values of its WWW-Authenticate (or Proxy-Authenticate) header fields,
// sent the values of the Authorization (or Proxy-Authorization) header
// fields of the request that was rejected (nil if it had none), and method,
// uri and body describe the request to send next (its new CSeq does not
// matter). It returns one Authorization per challenged realm, answering the
// strongest supported challenge of that realm (see [Strongest]).
//
// The rule that prevents authentication loops, for each realm R in the
// response:
//
//  1. The rejected request carried no credentials for R: the challenge is
//     answered with its nonce and nc=1.
//  2. It carried credentials for R and the challenge has stale=true: the
//     credentials were right but the nonce had expired (RFC 7616 §3.3). The
//     new nonce is answered without error, unless it is the very nonce the
//     request carried, or the carried nonce had itself come with stale=true
//     and had been used only once (the server declares every fresh nonce
//     stale): then [ErrAuthFailed].
//  3. It carried credentials for R and the challenge does not say
//     stale=true: the server refused them, and sending them again would
//     loop. The result is an *[AuthFailedError] ([ErrAuthFailed]), and R is
//     forgotten so that a later request starts afresh.
//
// So a request is retried at most twice per realm: once for a fresh
// challenge and once for a stale nonce. Deciding on what the rejected
// request carried, rather than on the Client's latest state, keeps the
// rule right when several requests are challenged at the same time.
//
// Challenges that cannot be answered (another scheme, unknown algorithm or
// qop, malformed, or an algorithm the credentials have no HA1 for) are
// ignored when another challenge can be answered; otherwise the error says
// why ([ErrUnsupportedScheme], [ErrUnsupportedAlgorithm], [ErrMalformed],
// [ErrUnsupportedQOP], [ErrNoCredentials]).
func (c *Client) Respond(challenges, sent []string, method, uri string, body []byte) ([]Authorization, error) {
	chs, err := ParseChallenges(challenges)
	if err != nil {
		return nil, err
	}
	// Group by realm, in order of first appearance, keeping the challenges
	// these credentials can answer.
	var realms []string
	byRealm := make(map[string][]Challenge)
	skipped := ErrNoCredentials
	for _, ch := range chs {
		if !c.cfg.Credentials.CanAnswer(ch.Algorithm) {
			continue
		}
		if _, ok := ChooseQOP(ch, c.cfg.PreferAuthInt); !ok {
			skipped = ErrUnsupportedQOP
			continue
		}
		if _, ok := byRealm[ch.Realm]; !ok {
			if len(realms) == c.cfg.MaxRealms {
				continue
			}
			realms = append(realms, ch.Realm)
		}
		byRealm[ch.Realm] = append(byRealm[ch.Realm], ch)
	}
	if len(realms) == 0 {
		return nil, skipped
	}
	carried := make(map[string]Authorization, len(sent))
	for _, v := range sent {
		if a, err := ParseAuthorization(v); err == nil {
			carried[a.Realm] = a
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Authorization, 0, len(realms))
	for _, realm := range realms {
		ch, _ := Strongest(byRealm[realm])
		if prev, ok := carried[realm]; ok {
			st := c.realms[realm]
			switch {
			case !ch.Stale:
				delete(c.realms, realm)
				return nil, &AuthFailedError{Realm: realm}
			case ch.Nonce == prev.Nonce,
				st != nil && st.fromStale && st.ch.Nonce == prev.Nonce && st.nc <= 1:
				delete(c.realms, realm)
				return nil, &AuthFailedError{Realm: realm, Stale: true}
			}
		}
		st := &realmState{ch: ch, fromStale: ch.Stale}
		c.put(realm, st)
		a, err := c.answer(st, method, uri, body)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Authorize returns credentials for every realm the Client holds a nonce
// for, with the nonce count incremented: the Authorization (or
// Proxy-Authorization) values for a new request sent without waiting for a
// challenge (RFC 3261 §22.3), sorted by realm. It returns nil when no
// realm is known.
func (c *Client) Authorize(method, uri string, body []byte) ([]Authorization, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Authorization
	for _, realm := range slices.Sorted(maps.Keys(c.realms)) {
		st := c.realms[realm]
		c.clock++
		st.used = c.clock
		a, err := c.answer(st, method, uri, body)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Forget drops what the Client remembers of realm.
func (c *Client) Forget(realm string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.realms, realm)
}

// answer computes the next credentials for st. c.mu is held.
func (c *Client) answer(st *realmState, method, uri string, body []byte) (Authorization, error) {
	req := Request{Method: method, URI: uri, Body: body, NC: st.nc + 1, PreferAuthInt: c.cfg.PreferAuthInt}
	if len(st.ch.QOP) > 0 || st.ch.Algorithm.Sess() {
		cn, err := NewCNonce(c.cfg.Rand)
		if err != nil {
			return Authorization{}, err
		}
		req.CNonce = cn
	}
	a, err := AuthorizeRequest(st.ch, c.cfg.Credentials, req)
	if err != nil {
		return Authorization{}, err
	}
	st.nc++
	return a, nil
}

// put stores st for realm, evicting the least recently used realm beyond
// MaxRealms. c.mu is held.
func (c *Client) put(realm string, st *realmState) {
	c.clock++
	st.used = c.clock
	c.realms[realm] = st
	for len(c.realms) > c.cfg.MaxRealms {
		var oldest string
		var first uint64
		found := false
		for r, s := range c.realms {
			if !found || s.used < first {
				oldest, first, found = r, s.used, true
			}
		}
		delete(c.realms, oldest)
	}
}
