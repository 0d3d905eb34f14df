package dialog

import (
	"strconv"

	"github.com/dialtone/dialtone/sip"
)

// State is the state of a dialog (RFC 3261 §12: early, confirmed; a
// dialog also ends).
type State uint8

// Dialog states.
const (
	// StateEarly: created by a provisional response with a To tag
	// (RFC 3261 §12.1).
	StateEarly State = iota
	// StateConfirmed: a 2xx has been sent or received.
	StateConfirmed
	// StateTerminated: a BYE, a non-2xx final response to the initial
	// INVITE, a 481/408 or a timeout ended it (§12.3, §12.2.1.2).
	StateTerminated
)

// String returns "early", "confirmed" or "terminated".
func (s State) String() string {
	switch s {
	case StateEarly:
		return "early"
	case StateConfirmed:
		return "confirmed"
	case StateTerminated:
		return "terminated"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Role says which side of the dialog-creating INVITE we were.
type Role uint8

// Roles.
const (
	// RoleUAC: we sent the INVITE, generated the Call-ID and the From tag.
	RoleUAC Role = iota
	// RoleUAS: we received the INVITE and chose the To tag.
	RoleUAS
)

// String returns "UAC" or "UAS".
func (r Role) String() string {
	if r == RoleUAS {
		return "UAS"
	}
	return "UAC"
}

// ID identifies a dialog (RFC 3261 §12): the Call-ID, the local tag and the
// remote tag. For an incoming request the local tag is its To tag and the
// remote tag its From tag; for an incoming response, the local tag is its
// From tag and the remote tag its To tag.
type ID struct {
	CallID    string
	LocalTag  string
	RemoteTag string
}

// String returns "call-id;local-tag;remote-tag" for logs.
func (id ID) String() string { return id.CallID + ";" + id.LocalTag + ";" + id.RemoteTag }

// RequestID returns the ID of the dialog an incoming request belongs to:
// Call-ID, To tag (ours), From tag (theirs), RFC 3261 §12.2.2.
func RequestID(req *sip.Request) ID {
	id := ID{CallID: req.CallID()}
	if to, err := req.To(); err == nil {
		id.LocalTag = to.Tag()
	}
	if from, err := req.From(); err == nil {
		id.RemoteTag = from.Tag()
	}
	return id
}

// ResponseID returns the ID of the dialog an incoming response belongs to,
// seen from the UAC that sent the request: Call-ID, From tag (ours), To tag
// (theirs), RFC 3261 §12.1.2.
func ResponseID(res *sip.Response) ID {
	id := ID{CallID: res.CallID()}
	if from, err := res.From(); err == nil {
		id.LocalTag = from.Tag()
	}
	if to, err := res.To(); err == nil {
		id.RemoteTag = to.Tag()
	}
	return id
}

// detach returns a copy of id in one allocation, so that the dialog does
// not keep the parsed message it came from alive.
func (id ID) detach() ID {
	s := id.CallID + id.LocalTag + id.RemoteTag
	a, b := len(id.CallID), len(id.CallID)+len(id.LocalTag)
	return ID{CallID: s[:a], LocalTag: s[a:b], RemoteTag: s[b:]}
}
