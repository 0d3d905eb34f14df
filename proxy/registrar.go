package proxy

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Registrar refusals, the errors an Update's function returns.
var (
	// errOutOfOrder: a REGISTER older than the one that wrote a binding
	// (same Call-ID, CSeq not higher; RFC 3261 §10.3 step 7).
	errOutOfOrder = errors.New("proxy: REGISTER out of order")
	// errTooMany: the AOR would hold more than MaxBindingsPerAOR.
	errTooMany = errors.New("proxy: too many bindings")
)

// register is the registrar of RFC 3261 §10.3 for a REGISTER whose
// Request-URI is ours.
func (s *Server) register(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if bad := unsupportedRequire(req); len(bad) > 0 {
		res := sip.NewResponse(req, sip.StatusBadExtension, "")
		res.Set("Unsupported", strings.Join(bad, ", "))
		s.respond(w, res)
		return
	}
	to, err := req.To()
	if err != nil {
		s.reply(w, req, sip.StatusBadRequest, "Bad To")
		return
	}
	aor, err := s.aorKey(to.URI)
	if err != nil {
		s.reply(w, req, sip.StatusNotFound, "Not an Address of Record")
		return
	}
	name, _, ok := s.authenticate(ctx, w, req, false)
	if !ok {
		return
	}
	if aor, _, err = s.canonical(ctx, aor); err != nil {
		s.log.Warn("proxy: registrar", "err", err)
		s.reply(w, req, sip.StatusServerInternalError, "")
		return
	}
	if n, ours := s.userOf(aor); !ours || n != name {
		s.reply(w, req, sip.StatusForbidden, "Not Your Address of Record")
		return
	}
	contacts, err := req.Contacts()
	if err != nil {
		s.reply(w, req, sip.StatusBadRequest, "Bad Contact")
		return
	}
	hdrExp, hasHdrExp := uint32(0), req.Header("Expires") != ""
	if hasHdrExp {
		if hdrExp, err = req.Expires(); err != nil {
			s.reply(w, req, sip.StatusBadRequest, "Bad Expires")
			return
		}
	}
	wildcard := slices.ContainsFunc(contacts, func(a sip.Address) bool { return a.Wildcard })
	if wildcard && (len(contacts) != 1 || !hasHdrExp || hdrExp != 0) {
		// RFC 3261 §10.3 step 6: "*" only alone, with Expires: 0.
		s.reply(w, req, sip.StatusBadRequest, "Wildcard Contact Needs Expires 0")
		return
	}
	now := time.Now()
	news := make([]Binding, 0, len(contacts))
	if !wildcard {
		for _, c := range contacts {
			exp := uint32(s.cfg.DefaultExpires / time.Second)
			if e, ok := c.Expires(); ok {
				exp = e
			} else if c.Params.Has("expires") {
				s.reply(w, req, sip.StatusBadRequest, "Bad Contact expires")
				return
			} else if hasHdrExp {
				exp = hdrExp
			}
			d := time.Duration(exp) * time.Second
			if exp != 0 && d < s.cfg.MinExpires {
				res := sip.NewResponse(req, sip.StatusIntervalTooBrief, "")
				res.Set("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires/time.Second)))
				s.respond(w, res)
				return
			}
			d = min(d, s.cfg.MaxExpires)
			news = append(news, s.newBinding(req, w, aor, c, now.Add(d)))
		}
	}
	cs, _ := req.CSeq()
	callID := req.CallID()
	bs, err := s.cfg.Location.Update(ctx, aor, now, func(cur []Binding) ([]Binding, error) {
		if wildcard {
			for _, b := range cur {
				if b.CallID == callID && cs.Seq <= b.CSeq {
					return nil, errOutOfOrder
				}
			}
			return nil, nil
		}
		for _, nb := range news {
			i := slices.IndexFunc(cur, func(b Binding) bool { return sameBinding(b, nb) })
			if i < 0 {
				if nb.Expires.After(now) {
					cur = append(cur, nb)
				}
				continue
			}
			if cur[i].CallID == callID && cs.Seq <= cur[i].CSeq {
				return nil, errOutOfOrder
			}
			if nb.Expires.After(now) {
				cur[i] = nb
			} else {
				cur = slices.Delete(cur, i, i+1)
			}
		}
		if len(cur) > s.cfg.MaxBindingsPerAOR {
			return nil, errTooMany
		}
		return cur, nil
	})
	switch {
	case errors.Is(err, errOutOfOrder):
		s.reply(w, req, sip.StatusServerInternalError, "Out of Order REGISTER")
		return
	case errors.Is(err, errTooMany):
		s.reply(w, req, sip.StatusForbidden, "Too Many Contacts")
		return
	case err != nil:
		s.log.Warn("proxy: location update", "aor", aor, "err", err)
		s.reply(w, req, sip.StatusServerInternalError, "")
		return
	}
	if s.cfg.OnRegister != nil {
		s.cfg.OnRegister(aor, bs)
	}
	res := sip.NewResponse(req, sip.StatusOK, "")
	for _, b := range bs {
		left := max(0, int64(math.Ceil(b.Expires.Sub(now).Seconds())))
		a := sip.Address{URI: b.Contact, Params: sip.Params("").Set("expires", strconv.FormatInt(left, 10))}
		if b.Q < 1 {
			a.Params = a.Params.Set("q", strconv.FormatFloat(b.Q, 'f', -1, 64))
		}
		res.Add("Contact", a.String())
	}
	if paths := req.Values("Path"); len(paths) > 0 && supports(req, "path") {
		for _, p := range paths {
			res.Add("Path", p)
		}
	}
	if supports(req, "outbound") && slices.ContainsFunc(news, func(b Binding) bool { return b.RegID > 0 }) {
		// RFC 5626 §6: the registrar tells the UA its flow is kept.
		res.Set("Require", "outbound")
	}
	res.Set("Date", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	s.respond(w, res)
}

// newBinding makes the binding a Contact of a REGISTER asks for.
func (s *Server) newBinding(req *sip.Request, w transaction.ResponseWriter, aor string, c sip.Address, exp time.Time) Binding {
	cs, _ := req.CSeq()
	b := Binding{
		AOR: aor, Contact: c.URI, Q: c.Q(), Expires: exp, CallID: req.CallID(), CSeq: cs.Seq,
		Source: w.Flow(), UserAgent: req.Header("User-Agent"),
	}
	if supports(req, "path") {
		b.Path = req.Values("Path")
	}
	if inst, ok := c.Params.Get("+sip.instance"); ok {
		b.Instance = strings.Trim(inst, `"`)
		if id, err := strconv.Atoi(c.Params.Value("reg-id")); err == nil && id > 0 {
			b.RegID = id
		}
	}
	return b
}

// sameBinding reports whether nb updates b: the same instance and reg-id
// (RFC 5626 §6), or else equal Contact URIs (RFC 3261 §10.3 step 7,
// compared by §19.1.4).
func sameBinding(b, nb Binding) bool {
	if nb.Instance != "" && b.Instance == nb.Instance && b.RegID == nb.RegID {
		return true
	}
	return b.Contact.Equal(&nb.Contact)
}

// supports reports whether the request's Supported or Require lists tag.
func supports(req *sip.Request, tag string) bool {
	return req.HasToken("Supported", tag) || req.HasToken("Require", tag)
}

// sortBindings orders bindings by q, highest first, the most recent
// registration first among equals.
func sortBindings(bs []Binding) {
	slices.SortStableFunc(bs, func(a, b Binding) int {
		switch {
		case a.Q > b.Q:
			return -1
		case a.Q < b.Q:
			return 1
		}
		return b.Expires.Compare(a.Expires)
	})
}

// unsupportedRequire returns the option tags of Require that the registrar
// does not support (RFC 3261 §8.2.2.3): it supports path (RFC 3327) and
// outbound (RFC 5626).
func unsupportedRequire(req *sip.Request) []string {
	var bad []string
	for _, t := range req.Require() {
		switch strings.ToLower(t) {
		case "path", "outbound":
		default:
			bad = append(bad, t)
		}
	}
	return bad
}
