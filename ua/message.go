package ua

import (
	"bytes"
	"context"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Message is a MESSAGE request received (RFC 3428), as Config.OnMessage gets
// it.
type Message struct {
	// From and To are the request's addresses.
	From, To sip.Address
	// ContentType and Body are the message content.
	ContentType string
	Body        []byte
	// Call is the call the MESSAGE arrived in, or nil outside a dialog.
	Call *Call
	// Request is the MESSAGE itself (read-only).
	Request *sip.Request
}

// SendMessage sends a MESSAGE (RFC 3428) with body of contentType to to,
// outside any dialog, from opts.Line (see RequestOptions), answering
// challenges once. It returns nil on a 2xx, a *StatusError for a final
// non-2xx. ctx bounds the wait.
func (u *UA) SendMessage(ctx context.Context, to, contentType string, body []byte, opts RequestOptions) error {
	uri, err := parseTarget(to)
	if err != nil {
		return err
	}
	_, err = u.outOfDialog(ctx, opts.Line, sip.MESSAGE, uri, body, contentType)
	return err
}

// incomingMessage hands a MESSAGE to OnMessage and answers with its status
// (RFC 3428 §7: 200 when accepted).
func (u *UA) incomingMessage(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, c *Call) {
	reply := func(code int) {
		var res *sip.Response
		if c != nil {
			c.mu.Lock()
			if c.d != nil {
				res = c.d.NewResponse(req, code, "")
			}
			c.mu.Unlock()
		}
		if res == nil {
			res = sip.NewResponse(req, code, "")
		}
		if code == sip.StatusMethodNotAllowed {
			res.Set("Allow", u.allow)
		}
		u.respond(w, res)
	}
	if u.cfg.OnMessage == nil {
		reply(sip.StatusMethodNotAllowed)
		return
	}
	from, _ := req.From()
	to, _ := req.To()
	m := &Message{From: from, To: to, ContentType: req.ContentType(), Body: bytes.Clone(req.Body()), Call: c, Request: req}
	var code int
	if !u.guard("OnMessage", func() { code = u.cfg.OnMessage(ctx, m) }) {
		code = sip.StatusServerInternalError
	}
	if code == 0 {
		code = sip.StatusOK
	}
	if code < 200 || code > 699 {
		code = sip.StatusServerInternalError
	}
	reply(code)
}
