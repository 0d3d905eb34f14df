package proxy

import (
	"strconv"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// redirect answers 302 Moved Temporarily with the bindings as Contact
// values, highest q first, each with its q (RFC 3261 §8.3, §21.3.3): the
// redirect server mode. Paths and flows of the bindings do not travel in
// a 302, so phones behind NATs are reached only through ModeProxy.
func (s *Server) redirect(w transaction.ResponseWriter, req *sip.Request, bs []Binding) {
	res := sip.NewResponse(req, sip.StatusMovedTemporarily, "")
	for _, b := range bs {
		a := sip.Address{URI: b.Contact, Params: sip.Params("").Set("q", strconv.FormatFloat(b.Q, 'f', -1, 64))}
		res.Add("Contact", a.String())
	}
	s.respond(w, res)
}
