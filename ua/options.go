package ua

import (
	"context"
	"strings"

	"github.com/dialtone/dialtone/sip"
)

// optionsResponse answers an OPTIONS outside a dialog (RFC 3261 §11.2):
// 200 with Allow, Accept and Supported, which is what a load balancer's
// health probe looks for.
func (u *UA) optionsResponse(req *sip.Request) *sip.Response {
	res := sip.NewResponse(req, sip.StatusOK, "")
	u.decorateOptions(res)
	return res
}

func (u *UA) decorateOptions(res *sip.Response) {
	res.Set("Allow", u.allow)
	res.Set("Accept", strings.Join(sip.DefaultAccept(), ", "))
	res.Set("Accept-Language", "en")
	// The option tags implemented; an empty list means none (RFC 3261
	// §20.37).
	res.Set("Supported", u.supported)
}

// RequestOptions are the settings of a request sent outside any dialog
// (Options, SendMessage).
type RequestOptions struct {
	// Line sends the request, as DialOptions.Line places a call: its AOR
	// is the From and its credentials answer challenges. Nil: the UA's
	// first line, or an anonymous From when there is none.
	Line *Line
}

// Options sends OPTIONS to target outside any dialog (RFC 3261 §11.1) and
// returns the 2xx: a probe of the peer's capabilities and liveness. A
// final non-2xx is a *StatusError.
func (u *UA) Options(ctx context.Context, target string, opts RequestOptions) (*sip.Response, error) {
	uri, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	return u.outOfDialog(ctx, opts.Line, sip.OPTIONS, uri, nil, "")
}

// outOfDialog sends a request that creates no dialog (OPTIONS, MESSAGE),
// answering challenges once each, and returns its 2xx.
func (u *UA) outOfDialog(ctx context.Context, line *Line, m sip.Method, uri sip.URI, body []byte, contentType string) (*sip.Response, error) {
	if line == nil && len(u.lines) > 0 {
		line = u.lines[0]
	}
	network := uriNetwork(uri)
	if line != nil && line.network != "" {
		network = line.network
	}
	var from sip.Address
	if line != nil {
		from = line.from()
	} else {
		first := uri
		ct, err := u.contactVia(ctx, nil, "dialtone", network, first)
		if err != nil {
			return nil, err
		}
		from = sip.Address{URI: ct.URI, Params: sip.Params(";tag=" + sip.NewTag())}
		from.URI.Params = ""
	}
	callID := sip.NewCallID()
	var auth []sip.Header
	var cr *credentials
	var last lastTarget // the challenge answer goes where the challenge came from
	if line != nil {
		cr = line.creds
	}
	for seq := uint32(1); ; seq++ {
		req := sip.NewRequest(m, uri)
		req.SetFrom(from)
		req.SetCallID(callID)
		req.SetCSeq(sip.CSeq{Seq: seq, Method: m})
		if line != nil && line.proxy != nil {
			req.Set("Route", "<"+line.proxy.String()+">")
		}
		u.addCommon(req)
		if len(body) > 0 {
			req.SetBody(body, contentType)
		}
		applyAuth(req, auth)
		res, err := u.request(ctx, req, network, line, &last) // failover.go
		if err != nil {
			return nil, err
		}
		switch {
		case res.IsSuccess():
			return res, nil
		case isChallenge(res) && seq < 4:
			hs, err := cr.answer(res, req)
			if err != nil {
				return nil, err
			}
			auth = cr.retryAuth(hs, req)
		default:
			return nil, &StatusError{Response: res}
		}
	}
}
