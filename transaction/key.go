package transaction

import (
	"strings"
	"unsafe"

	"github.com/dialtone/dialtone/sip"
)

// clientKey identifies a client transaction (RFC 3261 §17.1.3): the branch
// of the top Via of the request it sent and the method of that request. A
// response matches when its top Via branch and its CSeq method equal them,
// so the response to a CANCEL matches the CANCEL's own transaction and not
// the INVITE's, which has the same branch.
type clientKey struct {
	branch string
	method sip.Method
}

// responseKey returns the client key a response matches.
func responseKey(res *sip.Response) (clientKey, bool) {
	v, err := res.TopVia()
	if err != nil {
		return clientKey{}, false
	}
	cs, err := res.CSeq()
	if err != nil {
		return clientKey{}, false
	}
	b := v.Branch()
	if b == "" {
		return clientKey{}, false
	}
	return clientKey{branch: b, method: cs.Method}, true
}

// serverKey identifies a server transaction created by a request whose
// branch starts with the magic cookie z9hG4bK (RFC 3261 §17.2.3): the
// branch, the sent-by of the top Via, and the method, where an ACK carries
// the method INVITE so that it matches the INVITE's transaction. A CANCEL
// has its own transaction; the INVITE it cancels is found with the same
// key and method INVITE (§9.2).
type serverKey struct {
	branch string
	host   string
	port   int
	method sip.Method
}

// legacyKey identifies a server transaction created by a request whose
// branch lacks the magic cookie (an RFC 2543 peer, §17.2.3): Request-URI,
// From tag, Call-ID, CSeq number and method (ACK as INVITE), and the top
// Via. The To tag is compared apart (legacyToTag), because an ACK carries
// the To tag of the response rather than that of the INVITE.
type legacyKey struct {
	uri     string
	fromTag string
	callID  string
	via     string
	seq     uint32
	method  sip.Method
}

// requestKey is what matching needs from a request.
type requestKey struct {
	legacy bool
	key    serverKey
	lkey   legacyKey
	// toTag is the request's To tag, compared apart for legacy keys.
	toTag string
}

// keyMethod maps a request method to the method of the transaction it
// belongs to: ACK belongs to the INVITE's.
func keyMethod(m sip.Method) sip.Method {
	if m == sip.ACK {
		return sip.INVITE
	}
	return m
}

// requestKeyOf computes the matching key of a request; ok is false when
// the request has no usable top Via or CSeq.
func requestKeyOf(req *sip.Request) (k requestKey, ok bool) {
	v, err := req.TopVia()
	if err != nil {
		return k, false
	}
	cs, err := req.CSeq()
	if err != nil {
		return k, false
	}
	m := keyMethod(req.Method)
	if v.HasCookie() {
		k.key = serverKey{branch: v.Branch(), host: v.Host, port: v.Port, method: m}
		return k, true
	}
	k.legacy = true
	var fromTag string
	if f, err := req.From(); err == nil {
		fromTag = f.Tag()
	}
	if t, err := req.To(); err == nil {
		k.toTag = t.Tag()
	}
	// The top Via as the peer wrote it: received and rport are ours
	// (§18.2.1, RFC 3581), added on receipt.
	v.Params = v.Params.Del("received").Del("rport")
	k.lkey = legacyKey{
		uri:     req.URI.String(),
		fromTag: fromTag,
		callID:  req.CallID(),
		via:     v.String(),
		seq:     cs.Seq,
		method:  m,
	}
	return k, true
}

// withMethod returns the key of the same request under another method:
// the INVITE a CANCEL refers to (§9.2).
func (k requestKey) withMethod(m sip.Method) requestKey {
	k.key.method = m
	k.lkey.method = m
	return k
}

// toTagOf returns the To tag of a message, or "".
func toTagOf(m sip.Message) string {
	if m == nil {
		return ""
	}
	t, err := m.To()
	if err != nil {
		return ""
	}
	return t.Tag()
}

// detach returns the key with strings of its own: the request's strings
// point into its buffer, and the transactions keep their keys (in their
// shard's map) for up to 64*T1 after the request itself is no longer
// needed.
func (k requestKey) detach() requestKey {
	if k.legacy {
		k.lkey.uri = strings.Clone(k.lkey.uri)
		k.lkey.fromTag = strings.Clone(k.lkey.fromTag)
		k.lkey.callID = strings.Clone(k.lkey.callID)
		k.lkey.via = strings.Clone(k.lkey.via)
		k.toTag = strings.Clone(k.toTag)
		return k
	}
	// One allocation for both strings.
	both := k.key.branch + k.key.host
	k.key.branch, k.key.host = both[:len(k.key.branch)], both[len(k.key.branch):]
	return k
}

// keyBufLen is the room a server transaction keeps for its key's branch
// and sent-by host; longer keys get an allocation of their own.
const keyBufLen = 64

// detachInto is detach with the branch and host copied into buf, which
// belongs to the transaction that keeps the key: the strings point into
// it and so keep it alive no longer than the transaction itself.
func (k requestKey) detachInto(buf *[keyBufLen]byte) requestKey {
	n := len(k.key.branch) + len(k.key.host)
	if k.legacy || n > len(buf) || n == 0 {
		return k.detach()
	}
	copy(buf[copy(buf[:], k.key.branch):], k.key.host)
	both := unsafe.String(&buf[0], n)
	k.key.branch, k.key.host = both[:len(k.key.branch)], both[len(k.key.branch):]
	return k
}

// detached returns a copy of res that shares nothing with the request it
// was built from (its header values point into that request's buffer).
func detached(res *sip.Response) *sip.Response {
	if res == nil {
		return nil
	}
	m, err := sip.Parse(res.AppendTo(nil))
	if r, ok := m.(*sip.Response); err == nil && ok {
		return r
	}
	return res // cannot happen for a response we sent; keep the original
}
