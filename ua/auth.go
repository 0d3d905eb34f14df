package ua

import (
	"errors"
	"fmt"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
)

// AuthError is a 401 or 407 that could not be answered: no credentials for
// it, a challenge this package cannot meet, or the same credentials refused
// again (RFC 3261 §22.2: a second challenge for credentials just sent
// means they are wrong). It matches ErrAuthFailed, and errors.As finds its
// *StatusError with the response.
type AuthError struct {
	Response *sip.Response
	Err      error
}

// ErrAuthFailed matches every *AuthError.
var ErrAuthFailed = errors.New("ua: authentication failed")

// Error implements error.
func (e *AuthError) Error() string {
	return fmt.Sprintf("ua: authentication failed (%d %s): %v", e.Response.StatusCode, e.Response.Reason, e.Err)
}

// Is reports whether target is ErrAuthFailed.
func (e *AuthError) Is(target error) bool { return target == ErrAuthFailed }

// Unwrap returns the response as a *StatusError and the digest error.
func (e *AuthError) Unwrap() []error { return []error{&StatusError{Response: e.Response}, e.Err} }

// credentials answers the challenges of one account (RFC 3261 §22.2,
// §22.3): one digest client per challenge kind, since 401 and 407
// credentials go into different headers.
type credentials struct {
	www, proxy *digest.Client
}

func newCredentials(c digest.Credentials) (*credentials, error) {
	if c.Password == "" && len(c.HA1) == 0 {
		return nil, nil
	}
	www, err := digest.NewClient(digest.ClientConfig{Credentials: c})
	if err != nil {
		return nil, err
	}
	px, err := digest.NewClient(digest.ClientConfig{Credentials: c})
	if err != nil {
		return nil, err
	}
	return &credentials{www: www, proxy: px}, nil
}

// answer computes the credentials for retrying sent, rejected by res
// (401 or 407), as header lines to put on the next request in place of
// those of the same name. Each challenge is answered once: a second
// challenge for the credentials just sent fails (digest.Client.Respond).
func (cr *credentials) answer(res *sip.Response, sent *sip.Request) ([]sip.Header, error) {
	if cr == nil {
		return nil, &AuthError{Response: res, Err: digest.ErrNoCredentials}
	}
	var (
		cl         *digest.Client
		challenges []string
		prev       []string
		name       string
	)
	if res.StatusCode == sip.StatusProxyAuthenticationRequired {
		cl, challenges, prev, name = cr.proxy, res.ProxyAuthenticate(), sent.ProxyAuthorization(), "Proxy-Authorization"
	} else {
		cl, challenges, prev, name = cr.www, res.WWWAuthenticate(), sent.Authorization(), "Authorization"
	}
	auths, err := cl.Respond(challenges, prev, string(sent.Method), sent.URI.String(), sent.Body())
	if err != nil {
		return nil, &AuthError{Response: res, Err: err}
	}
	out := make([]sip.Header, 0, len(auths))
	for _, a := range auths {
		out = append(out, sip.Header{Name: name, Value: a.String()})
	}
	return out, nil
}

// preauth returns credentials for a new request sent without waiting for
// a challenge, for the realms a previous challenge taught (RFC 3261
// §22.3), with their nonce counts advanced.
func (cr *credentials) preauth(method sip.Method, uri string, body []byte) []sip.Header {
	if cr == nil {
		return nil
	}
	var out []sip.Header
	if as, err := cr.www.Authorize(string(method), uri, body); err == nil {
		for _, a := range as {
			out = append(out, sip.Header{Name: "Authorization", Value: a.String()})
		}
	}
	if as, err := cr.proxy.Authorize(string(method), uri, body); err == nil {
		for _, a := range as {
			out = append(out, sip.Header{Name: "Proxy-Authorization", Value: a.String()})
		}
	}
	return out
}

// retryAuth returns the credentials for the retry of sent after a
// challenge that hs answers: hs, plus the credentials of the other kind
// that sent carried (a proxy's Proxy-Authorization when the callee or
// registrar now asks with 401, and the other way round, RFC 3261 §22.3),
// recomputed with their nonce count advanced: sent again as they were
// they would be a replay, which servers refuse (RFC 7616 §3.4.5).
func (cr *credentials) retryAuth(hs []sip.Header, sent *sip.Request) []sip.Header {
	if cr == nil || len(hs) == 0 {
		return hs
	}
	other, cl, had := "Proxy-Authorization", cr.proxy, sent.ProxyAuthorization()
	if hs[0].Name == other {
		other, cl, had = "Authorization", cr.www, sent.Authorization()
	}
	if len(had) == 0 {
		return hs
	}
	out := make([]sip.Header, 0, len(had)+len(hs))
	if as, err := cl.Authorize(string(sent.Method), sent.URI.String(), sent.Body()); err == nil && len(as) > 0 {
		for _, a := range as {
			out = append(out, sip.Header{Name: other, Value: a.String()})
		}
	} else {
		for _, v := range had { // nothing better to send
			out = append(out, sip.Header{Name: other, Value: v})
		}
	}
	return append(out, hs...)
}

func applyAuth(req *sip.Request, hs []sip.Header) {
	for _, h := range hs {
		req.Del(h.Name)
	}
	for _, h := range hs {
		req.Add(h.Name, h.Value)
	}
}

func isChallenge(res *sip.Response) bool {
	return res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthenticationRequired
}
