package ua

import (
	"strings"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// The transfer target's side of RFC 3891: an INVITE with Replaces takes
// the place of a call of ours, which ends once the new one is answered.

// replacedCall finds the call an INVITE's Replaces names (RFC 3891 §3):
// nil and 0 without Replaces; the call and 0 when it is one of ours that
// may be replaced; else nil and the status to refuse the INVITE with: 481
// for no such call (or an early one of ours: only confirmed calls are
// replaced here), 486 for a confirmed call that early-only protects, 400
// for a malformed header.
func (u *UA) replacedCall(req *sip.Request) (*Call, int) {
	v := req.Header("Replaces")
	if v == "" {
		return nil, 0
	}
	parts := strings.Split(v, ";")
	id := dialog.ID{CallID: strings.TrimSpace(parts[0])}
	earlyOnly := false
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "to-tag":
			id.LocalTag = strings.TrimSpace(val)
		case "from-tag":
			id.RemoteTag = strings.TrimSpace(val)
		case "early-only":
			earlyOnly = true
		}
	}
	if id.CallID == "" || id.LocalTag == "" || id.RemoteTag == "" {
		return nil, sip.StatusBadRequest
	}
	c := u.lookup(id)
	if c == nil {
		return nil, sip.StatusCallTransactionDoesNotExist
	}
	switch c.State() {
	case CallEstablished, CallAnswered:
		if earlyOnly {
			return nil, sip.StatusBusyHere
		}
		return c, 0
	}
	return nil, sip.StatusCallTransactionDoesNotExist
}

// Replaces returns the call of ours this INVITE replaces (RFC 3891: the
// caller was transferred to us by an attended transfer), or nil. Answer
// ends it with a BYE once the new call is answered.
func (ic *IncomingCall) Replaces() *Call { return ic.replaces }

// endReplaced ends the call an answered INVITE replaced.
func (ic *IncomingCall) endReplaced() {
	if old := ic.replaces; old != nil {
		u := ic.u
		u.goTrack(func() { _ = old.Hangup(u.baseCtx) })
	}
}
