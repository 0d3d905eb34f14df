package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// target is one place a request is forwarded to (RFC 3261 §16.5): the new
// Request-URI and how to reach it.
type target struct {
	uri  sip.URI
	q    float64
	path []string // Route values to put first (the binding's Path)
	// dest, when set, is where the request goes if no Route is left: the
	// flow a binding registered from.
	dest *transport.Target
}

// bindingTarget is the target for a binding: its Contact as Request-URI,
// its Path as Route, its registration's flow as destination.
func bindingTarget(b Binding) target {
	t := target{uri: b.Contact, q: b.Q, path: b.Path}
	if d, ok := flowTarget(b.Source); ok {
		t.dest = &d
	}
	return t
}

// branchPrefix starts the branches of this server's Vias: the magic cookie,
// "dt", the instance id. A Via whose branch has it is ours, and the loop
// hash follows it (RFC 3261 §16.6 step 8).
func (s *Server) branchPrefix() string { return sip.MagicCookie + "dt" + s.id + "." }

// newBranch is a branch for a request whose loop hash is hash.
func (s *Server) newBranch(hash string) string {
	return s.branchPrefix() + hash + "." + strings.TrimPrefix(sip.NewBranch(), sip.MagicCookie)
}

// loopHash digests the fields RFC 3261 §16.6 step 8 names for loop
// detection, as the request stands after Route pre-processing: the
// Request-URI, the From and To tags, Call-ID, CSeq number, Proxy-Require,
// Proxy-Authorization and Route. A request that comes back with them all
// unchanged has looped; one that comes back changed (another Request-URI)
// is a spiral.
func loopHash(req *sip.Request) string {
	h := sha256.New()
	w := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	w(req.URI.String())
	if f, err := req.From(); err == nil {
		w(f.Tag())
	}
	if t, err := req.To(); err == nil {
		w(t.Tag())
	}
	w(req.CallID())
	if cs, err := req.CSeq(); err == nil {
		w(strconv.FormatUint(uint64(cs.Seq), 10))
	}
	for _, name := range []string{"Proxy-Require", "Proxy-Authorization", "Route"} {
		for _, v := range req.Values(name) {
			w(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// looped reports whether one of the request's Vias is ours with the same
// loop hash (RFC 3261 §16.3 step 4).
func (s *Server) looped(req *sip.Request, hash string) bool {
	vias, err := req.Vias()
	if err != nil {
		return false
	}
	prefix := s.branchPrefix()
	for i := range vias {
		rest, ok := strings.CutPrefix(vias[i].Branch(), prefix)
		if !ok {
			continue
		}
		if h, _, _ := strings.Cut(rest, "."); h == hash {
			return true
		}
	}
	return false
}

// forwardCopy builds the request for one target (RFC 3261 §16.6 steps
// 1–8) from base, which has had its Route pre-processed and Max-Forwards
// decremented: the Request-URI, the target's Path as first Routes, and a
// Via of ours whose sent-by the transport fills.
func (s *Server) forwardCopy(base *sip.Request, t target, hash string) *sip.Request {
	r := base.Clone()
	r.URI = t.uri
	for i := len(t.path) - 1; i >= 0; i-- {
		r.Prepend("Route", t.path[i])
	}
	r.Prepend("Via", "SIP/2.0/UDP invalid;branch="+s.newBranch(hash))
	return r
}

// decrementMaxForwards readies req, the proxy's own copy of the request,
// as the one every branch copies: Max-Forwards decremented (70 when
// absent, §16.6 step 3). The Record-Route (step 4) depends on the next
// hop: each branch adds it (addRecordRoutes), the caller's half built
// once per request. The responses the proxy
// builds from req do not carry Max-Forwards.
func decrementMaxForwards(req *sip.Request) {
	mf := sip.DefaultMaxForwards
	if req.Header("Max-Forwards") != "" {
		if n, err := req.MaxForwards(); err == nil {
			mf = n - 1
		}
	}
	req.Set("Max-Forwards", strconv.Itoa(max(mf, 0)))
}

// recordRoutes reports whether a request gets our Record-Route: requests
// that can create a dialog, outside one.
func recordRoutes(req *sip.Request) bool {
	switch req.Method {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER, sip.NOTIFY:
	default:
		return false
	}
	to, err := req.To()
	return err == nil && to.Tag() == ""
}

// errNoRoute: a Route or Path value could not be parsed.
var errNoRoute = errors.New("proxy: no next hop")

// nextHops returns the destinations of a forwarded request for Request-URI
// uri, in the order to try them (RFC 3263 §4.3 failover): top's, the
// request's first Route, when it has one; else dest, a flow (registered,
// or from a flow token), followed by the Request-URI's; else the
// Request-URI's.
func (s *Server) nextHops(ctx context.Context, uri sip.URI, top *sip.URI, dest *transport.Target) ([]transport.Target, error) {
	switch {
	case top != nil:
		return s.resolver.Resolve(ctx, *top)
	case dest != nil:
		// The flow first; then the Request-URI's targets, for a flow
		// whose connection is gone (a phone that registered over a
		// connection it closed, or from another port).
		hops := []transport.Target{*dest}
		more, err := s.resolver.Resolve(ctx, uri)
		if err != nil {
			return hops, nil
		}
		for _, h := range more {
			if h.Network != dest.Network || h.Addr != dest.Addr {
				hops = append(hops, h)
			}
		}
		return hops, nil
	}
	return s.resolver.Resolve(ctx, uri)
}

// numericHops is nextHops without DNS: the same destinations when every
// host involved is an IP address, which the resolver gives at once
// (transport.NumericResolver), and false otherwise (the caller resolves
// on a goroutine that may block).
func (s *Server) numericHops(uri sip.URI, top *sip.URI, dest *transport.Target) ([]transport.Target, bool) {
	nr, ok := s.resolver.(transport.NumericResolver)
	if !ok {
		return nil, false
	}
	switch {
	case top != nil:
		t, ok := nr.ResolveNumeric(*top, "")
		return []transport.Target{t}, ok
	case dest != nil:
		t, ok := nr.ResolveNumeric(uri, "")
		if !ok {
			return nil, false
		}
		if t.Network == dest.Network && t.Addr == dest.Addr {
			return []transport.Target{*dest}, true
		}
		return []transport.Target{*dest, t}, true
	}
	t, ok := nr.ResolveNumeric(uri, "")
	return []transport.Target{t}, ok
}

// firstRoute is the first Route of the request forwarded to t: the first
// value of its Path, else the first Route left after ours (routes), else
// none.
func firstRoute(t target, routes []sip.Address) (*sip.URI, error) {
	if len(t.path) > 0 {
		a, err := sip.ParseAddress(t.path[0])
		if err != nil {
			return nil, errors.Join(errNoRoute, err)
		}
		return &a.URI, nil
	}
	if len(routes) > 0 {
		return &routes[0].URI, nil
	}
	return nil, nil
}
