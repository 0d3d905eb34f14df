package dialog

import (
	"fmt"
	"strings"

	"github.com/dialtone/dialtone/sip"
)

// flags of a Dialog.
const (
	flagSecure uint8 = 1 << iota
	flagLocalSeq
	flagRemoteSeq
	flagStrict // first route lacks lr: strict routing (§12.2.1.1)
)

// Dialog is the state of one SIP dialog (RFC 3261 §12): its ID, state,
// local and remote sequence numbers, local and remote URIs, remote target,
// route set, secure flag, and our Contact; plus the INVITE and offer
// tracking that decides glare (see Negotiation).
//
// A Dialog is a plain value: it does no I/O, reads no clock and starts no
// goroutine. It is not safe for concurrent use; its owner (one call in the
// ua layer) serializes access. Every string it holds is its own copy, never
// a slice of the message it was built from, so a stored dialog does not
// keep INVITEs or SDP bodies alive: an established dialog without media
// costs a few hundred bytes (see the package documentation).
type Dialog struct {
	id ID
	// local and remote are the From and To values of our requests, in
	// wire form, tags included.
	local, remote string
	// contact is the Contact value of our target refresh requests and
	// dialog-creating responses.
	contact string
	// routes are the route set entries in wire form, in the order they
	// go into Route.
	routes       []string
	remoteTarget sip.URI
	localSeq     uint32
	remoteSeq    uint32
	state        State
	role         Role
	flags        uint8
	neg          Negotiation
}

// NewUAC creates the dialog a response to our INVITE establishes, as RFC
// 3261 §12.1.2 says: a 101–199 with a To tag gives an early dialog, a 2xx a
// confirmed one. invite is the request as sent (the one the response
// answers, after any authentication retry), with its Contact. The route
// set is the response's Record-Route in reverse order, the remote target
// its Contact URI (the Request-URI when a provisional response has none),
// the local sequence number the INVITE's CSeq; the remote one stays unset.
// The secure flag is set when the Request-URI is sips and the INVITE's top
// Via is TLS or WSS. A response whose Call-ID or From tag is not the
// INVITE's returns ErrWrongDialog.
func NewUAC(invite *sip.Request, res *sip.Response) (*Dialog, error) {
	code := res.StatusCode
	if code <= 100 || code >= 300 {
		return nil, fmt.Errorf("%w: status %d", ErrNotDialogResponse, code)
	}
	from, to, cs, err := inviteHeaders(invite)
	if err != nil {
		return nil, err
	}
	rto, err := res.To()
	if err != nil {
		return nil, malformed("To", err)
	}
	remoteTag := rto.Tag()
	if remoteTag == "" && code < 200 {
		// §12.1: only a provisional response with a To tag creates a
		// dialog. A 2xx without one comes from an RFC 2543 peer and
		// makes a dialog with an empty remote tag (§12.1.2).
		return nil, fmt.Errorf("%w: provisional response without To tag", ErrNotDialogResponse)
	}
	if rid := ResponseID(res); rid.CallID != invite.CallID() || rid.LocalTag != from.Tag() {
		return nil, ErrWrongDialog
	}
	d := &Dialog{
		role:     RoleUAC,
		localSeq: cs.Seq,
		flags:    flagLocalSeq,
		state:    StateEarly,
	}
	// The remote target is the response's Contact, or the INVITE's URI
	// until one comes (§12.1.2).
	target, err := contactTarget(res, invite.URI)
	if err != nil {
		return nil, err
	}
	rr, err := res.RecordRoutes()
	if err != nil {
		return nil, malformed("Record-Route", err)
	}
	// One allocation for the ID, From, To (with the remote tag), our
	// Contact and the remote target.
	packDialog(d, ID{CallID: invite.CallID(), LocalTag: from.Tag(), RemoteTag: remoteTag}, from, to, invite, target)
	if isSecure(invite.URI, invite) {
		d.flags |= flagSecure
	}
	d.neg.StartClient(sip.INVITE, cs.Seq, len(invite.Body()) > 0)
	d.setRoutes(rr, true)
	if code >= 200 {
		d.state = StateConfirmed
		d.neg.EndClient(sip.INVITE, cs.Seq)
	}
	return d, nil
}

// inviteHeaders reads what either side takes from the dialog-creating
// INVITE: From, To and CSeq.
func inviteHeaders(invite *sip.Request) (from, to sip.Address, cs sip.CSeq, err error) {
	if from, err = invite.From(); err != nil {
		return from, to, cs, malformed("From", err)
	}
	if to, err = invite.To(); err != nil {
		return from, to, cs, malformed("To", err)
	}
	if cs, err = invite.CSeq(); err != nil {
		return from, to, cs, malformed("CSeq", err)
	}
	return from, to, cs, nil
}

// firstContact returns the first Contact of a message in wire form, or ""
// when it has none, a "*", or a malformed one.
func firstContact(m contactHolder) string {
	if c, ok, err := m.FirstContact(); err == nil && ok && !c.Wildcard {
		return c.String()
	}
	return ""
}

// contactHolder is a message's first-Contact accessor (sip.Request and
// sip.Response), read without building the Contact list.
type contactHolder interface {
	FirstContact() (sip.Address, bool, error)
}

// learnUAC takes the route set and remote target from a response to our
// dialog-creating INVITE (§12.1.2, recomputed on the 2xx per §13.2.2.4).
func (d *Dialog) learnUAC(res *sip.Response) error {
	rr, err := res.RecordRoutes()
	if err != nil {
		return malformed("Record-Route", err)
	}
	d.setRoutes(rr, true)
	return d.refreshTarget(res)
}

// NewUAS creates the dialog that our response res, prepared with
// PrepareResponse, creates for the received INVITE (RFC 3261 §12.1.1): res
// must be 101–299 with a To tag.
// The route set is the INVITE's Record-Route in order, the remote target
// its Contact URI (its From URI when it has none), the remote sequence
// number its CSeq; the local one stays unset until our first request. Our
// Contact is res's. The secure flag is set when the Request-URI is sips and
// the INVITE's top Via is TLS or WSS (it arrived over TLS).
//
// The dialog is early for a 1xx, confirmed for a 2xx. Build the INVITE's
// later responses with Dialog.NewResponse, which keeps the tag and moves
// the state.
func NewUAS(invite *sip.Request, res *sip.Response) (*Dialog, error) {
	d := new(Dialog)
	if err := d.InitUAS(invite, res); err != nil {
		return nil, err
	}
	return d, nil
}

// InitUAS makes d the dialog NewUAS returns for invite and res, in place:
// for an owner that keeps the dialog inside its own allocation (a UA's
// call). d is overwritten whole; it must not be in use. On error d is
// left unusable.
func (d *Dialog) InitUAS(invite *sip.Request, res *sip.Response) error {
	code := res.StatusCode
	if code <= 100 || code >= 300 {
		return fmt.Errorf("%w: status %d", ErrNotDialogResponse, code)
	}
	rto, err := res.To()
	if err != nil {
		return malformed("To", err)
	}
	if rto.Tag() == "" {
		return fmt.Errorf("%w: response without To tag", ErrNotDialogResponse)
	}
	from, to, cs, err := inviteHeaders(invite)
	if err != nil {
		return err
	}
	rr, err := invite.RecordRoutes()
	if err != nil {
		return malformed("Record-Route", err)
	}
	*d = Dialog{
		role:      RoleUAS,
		remoteSeq: cs.Seq,
		flags:     flagRemoteSeq,
		state:     StateEarly,
	}
	// The remote target is the INVITE's Contact, or its From URI when it
	// has none (§12.1.1).
	target, err := contactTarget(invite, from.URI)
	if err != nil {
		return err
	}
	// One allocation for the ID, To (with our tag), From, our Contact and
	// the remote target.
	packDialog(d, ID{CallID: invite.CallID(), LocalTag: rto.Tag(), RemoteTag: from.Tag()}, to, from, res, target)
	if isSecure(invite.URI, invite) {
		d.flags |= flagSecure
	}
	d.setRoutes(rr, false)
	d.neg.StartServer(sip.INVITE, cs.Seq, len(invite.Body()) > 0)
	if code >= 200 {
		d.state = StateConfirmed
		d.neg.EndServer(sip.INVITE, cs.Seq)
	}
	return nil
}

// PrepareResponse makes res, a response to the received INVITE, the
// dialog-creating response RFC 3261 §12.1.1 and §13.3.1 ask for: the To
// tag set to localTag (the same for every response of that INVITE; "" keeps
// the tag res has), and for 101–299 the INVITE's Record-Route lines copied
// in order and Contact set to contact. 100 Trying is left alone.
func PrepareResponse(invite *sip.Request, res *sip.Response, localTag string, contact sip.Address) {
	prepare(invite, res, localTag, contact.String())
}

// PrepareResponseContact is PrepareResponse with the Contact in its wire
// form (a UA that keeps its Contacts formatted saves formatting it per
// response); an empty contact adds none.
func PrepareResponseContact(invite *sip.Request, res *sip.Response, localTag, contact string) {
	prepare(invite, res, localTag, contact)
}

func prepare(invite *sip.Request, res *sip.Response, localTag, contact string) {
	code := res.StatusCode
	if code == sip.StatusTrying {
		return
	}
	if localTag != "" && toTag(res) != localTag {
		res.SetToTag(localTag)
	}
	if code >= 300 {
		return
	}
	res.Del("Record-Route")
	if invite.Header("Record-Route") != "" { // copy the lines only when there are some
		for _, h := range invite.Headers() {
			if sip.CanonicalName(h.Name) == "Record-Route" {
				res.Add("Record-Route", h.Value)
			}
		}
	}
	if contact != "" {
		res.Set("Contact", contact)
	}
}

// ID returns the dialog ID.
func (d *Dialog) ID() ID { return d.id }

// State returns the dialog's state.
func (d *Dialog) State() State { return d.state }

// Role returns which side of the dialog-creating INVITE we were.
func (d *Dialog) Role() Role { return d.role }

// OwnsCallID reports whether we generated the dialog's Call-ID, which
// decides the glare back-off of RFC 3261 §14.1: true for a UAC dialog.
func (d *Dialog) OwnsCallID() bool { return d.role == RoleUAC }

// Secure reports the secure flag (RFC 3261 §12.1.1, §12.1.2): the INVITE
// had a sips Request-URI and travelled over TLS; requests of the dialog
// then go over TLS only.
func (d *Dialog) Secure() bool { return d.flags&flagSecure != 0 }

// LocalSeq returns the local sequence number and whether it is set (a UAS
// dialog has none until its first request, §12.1.1).
func (d *Dialog) LocalSeq() (uint32, bool) { return d.localSeq, d.flags&flagLocalSeq != 0 }

// RemoteSeq returns the remote sequence number and whether it is set (a UAC
// dialog has none until the peer's first request, §12.1.2).
func (d *Dialog) RemoteSeq() (uint32, bool) { return d.remoteSeq, d.flags&flagRemoteSeq != 0 }

// LocalAddress returns the local URI with the local tag: the From of our
// requests.
func (d *Dialog) LocalAddress() sip.Address { return mustAddress(d.local) }

// RemoteAddress returns the remote URI with the remote tag: the To of our
// requests.
func (d *Dialog) RemoteAddress() sip.Address { return mustAddress(d.remote) }

// RemoteTarget returns the remote target: the URI of the peer's latest
// Contact (§12.2).
func (d *Dialog) RemoteTarget() sip.URI { return d.remoteTarget }

// RouteSet returns the route set in the order of the Route header of our
// requests (RFC 3261 §12.1).
func (d *Dialog) RouteSet() []sip.Address {
	out := make([]sip.Address, 0, len(d.routes))
	for _, r := range d.routes {
		out = append(out, mustAddress(r))
	}
	return out
}

// Contact returns our Contact value, or "" when there is none.
func (d *Dialog) Contact() string { return d.contact }

// SetContact changes our Contact, for example after learning our public
// address; the next target refresh request carries it (§12.2.1.1).
func (d *Dialog) SetContact(a sip.Address) { d.contact = a.String() }

// Negotiation returns the dialog's INVITE and offer tracking, for callers
// that need to inspect or adjust it; the Dialog methods keep it current.
func (d *Dialog) Negotiation() *Negotiation { return &d.neg }

// Terminate ends the dialog (for example after sending a BYE whose answer
// will not be awaited, or when the INVITE transaction of an early dialog
// times out, §13.2.2.4).
func (d *Dialog) Terminate() { d.state = StateTerminated }

// ReceiveRequest checks an incoming request of this dialog and updates the
// dialog as RFC 3261 §12.2.2 says. It returns nil when the request is to be
// processed, else a *RejectError with the status to answer:
//   - 481 (ErrWrongDialog, ErrTerminated) for a request whose ID is not the
//     dialog's or a dialog that has ended;
//   - 400 (ErrMalformed) for a CSeq that does not parse;
//   - 500 (ErrOutOfOrder) when the CSeq number is not above the remote
//     sequence number. §12.2.2 names "lower"; an equal number is refused as
//     well, because a retransmission never gets here (the transaction layer
//     absorbs it) and a new request with a reused number is out of order;
//   - 491 (ErrRequestPending) and 500 (ErrOverlap) for an INVITE or an
//     UPDATE with an offer that crosses one in progress (see Negotiation).
//
// ACK and CANCEL are not checked against the remote sequence number and do
// not change it: an ACK carries its INVITE's number, and a CANCEL belongs
// to the transaction it cancels. A request that passes the CSeq check moves
// the remote sequence number up even when glare then refuses it. An
// accepted target refresh request (INVITE, UPDATE, SUBSCRIBE, NOTIFY,
// REFER) with a Contact replaces the remote target; an accepted BYE ends
// the dialog (the caller still answers it, with NewResponse).
func (d *Dialog) ReceiveRequest(req *sip.Request) error {
	id := RequestID(req)
	if id.CallID != d.id.CallID || id.LocalTag != d.id.LocalTag || id.RemoteTag != d.id.RemoteTag {
		return rejectErr(sip.StatusCallTransactionDoesNotExist, ErrWrongDialog)
	}
	if d.state == StateTerminated {
		return rejectErr(sip.StatusCallTransactionDoesNotExist, ErrTerminated)
	}
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return nil
	}
	cs, err := req.CSeq()
	if err != nil {
		return rejectErr(sip.StatusBadRequest, malformed("CSeq", err))
	}
	if d.flags&flagRemoteSeq != 0 && cs.Seq <= d.remoteSeq {
		return rejectErr(sip.StatusServerInternalError, ErrOutOfOrder)
	}
	d.remoteSeq = cs.Seq
	d.flags |= flagRemoteSeq
	offer := len(req.Body()) > 0
	if code := d.neg.CheckReceive(req.Method, offer); code != 0 {
		if code == sip.StatusRequestPending {
			return rejectErr(code, ErrRequestPending)
		}
		return rejectErr(code, ErrOverlap)
	}
	d.neg.StartServer(req.Method, cs.Seq, offer)
	if isTargetRefresh(req.Method) {
		if err := d.refreshTarget(req); err != nil {
			return rejectErr(sip.StatusBadRequest, err)
		}
	}
	if req.Method == sip.BYE {
		d.state = StateTerminated
	}
	return nil
}

// NewResponse builds our response to req, a request the dialog received
// (its initial INVITE or a request ReceiveRequest accepted), and records
// what sending it means. The To tag is the dialog's local tag.
//
// For the initial INVITE of a UAS dialog (§12.1.1, §13.3.1): 101–299 get
// the INVITE's Record-Route and our Contact; a 2xx confirms the dialog and
// a final non-2xx terminates it. For other requests, a 2xx to a target
// refresh request gets our Contact (§12.2.2). A final response to an INVITE
// or UPDATE ends the server side of the offer tracking.
func (d *Dialog) NewResponse(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponseTag(req, code, reason, d.id.LocalTag)
	initial := d.role == RoleUAS && d.state == StateEarly && req.Method == sip.INVITE
	if initial {
		prepare(req, res, d.id.LocalTag, d.contact)
		switch {
		case code >= 300:
			d.state = StateTerminated
		case code >= 200:
			d.state = StateConfirmed
		}
	} else {
		if code != sip.StatusTrying && toTag(res) != d.id.LocalTag {
			res.SetToTag(d.id.LocalTag)
		}
		if code >= 200 && code < 300 && isTargetRefresh(req.Method) && d.contact != "" {
			res.Set("Contact", d.contact)
		}
	}
	if cs, err := req.CSeq(); err == nil && code >= 200 {
		d.neg.EndServer(req.Method, cs.Seq)
	}
	return res
}

// ReceiveResponse updates the dialog with a response to req, a request we
// sent in it (the initial INVITE included). res nil means the request got
// no response (the client transaction timed out or the transport failed).
//
//   - To the initial INVITE of an early UAC dialog: a provisional response
//     with this dialog's tag refreshes the remote target; a 2xx confirms
//     the dialog and recomputes the route set and remote target from it
//     (§13.2.2.4); a final non-2xx terminates it, whatever its tag.
//   - A 2xx to a target refresh request replaces the remote target with
//     its Contact (§12.2.1.2).
//   - A 481 or 408, or no response, terminates the dialog (§12.2.1.2); so
//     does any final response to a BYE (§15.1.1).
//   - A final response to an INVITE or UPDATE ends the client side of the
//     offer tracking.
//
// A response whose Call-ID or tags are not the dialog's returns
// ErrWrongDialog and changes nothing (a forked response: see ForkSet).
func (d *Dialog) ReceiveResponse(req *sip.Request, res *sip.Response) error {
	initial := d.role == RoleUAC && d.state == StateEarly && req.Method == sip.INVITE
	var seq uint32
	if cs, err := req.CSeq(); err == nil {
		seq = cs.Seq
	}
	if res == nil {
		d.neg.EndClient(req.Method, seq)
		d.state = StateTerminated
		return nil
	}
	code := res.StatusCode
	if initial && code >= 300 {
		d.neg.EndClient(sip.INVITE, seq)
		d.state = StateTerminated
		return nil
	}
	if id := ResponseID(res); id != d.id {
		return ErrWrongDialog
	}
	switch {
	case code < 200:
		if initial && code > 100 {
			return d.refreshTarget(res)
		}
		return nil
	case code < 300:
		if initial {
			if err := d.learnUAC(res); err != nil {
				return err
			}
			d.state = StateConfirmed
		} else if isTargetRefresh(req.Method) {
			if err := d.refreshTarget(res); err != nil {
				return err
			}
		}
	case code == sip.StatusCallTransactionDoesNotExist || code == sip.StatusRequestTimeout:
		d.state = StateTerminated
	}
	d.neg.EndClient(req.Method, seq)
	if req.Method == sip.BYE {
		d.state = StateTerminated
	}
	return nil
}

// contactTarget is the URI of m's first Contact, or fallback when m has
// none (or a "*"); a Contact that does not parse is an error. The URI may
// share m's memory: packDialog copies it.
func contactTarget(m contactHolder, fallback sip.URI) (sip.URI, error) {
	c, ok, err := m.FirstContact()
	if err != nil {
		return sip.URI{}, malformed("Contact", err)
	}
	if ok && !c.Wildcard {
		return c.URI, nil
	}
	return fallback, nil
}

// refreshTarget replaces the remote target with the first Contact URI, if
// there is one (§12.2.1.2, §12.2.2).
func (d *Dialog) refreshTarget(m contactHolder) error {
	c, ok, err := m.FirstContact()
	if err != nil {
		return malformed("Contact", err)
	}
	if ok && !c.Wildcard {
		d.remoteTarget = detachURI(c.URI)
	}
	return nil
}

// setRoutes stores the route set from Record-Route values, reversed for a
// UAC (§12.1.2) and in order for a UAS (§12.1.1).
func (d *Dialog) setRoutes(rr []sip.Address, reverse bool) {
	d.flags &^= flagStrict
	if len(rr) == 0 {
		d.routes = nil
		return
	}
	routes := make([]string, len(rr))
	for i := range rr {
		j := i
		if reverse {
			j = len(rr) - 1 - i
		}
		routes[i] = rr[j].String()
	}
	first := rr[0]
	if reverse {
		first = rr[len(rr)-1]
	}
	if !first.URI.Params.Has("lr") {
		d.flags |= flagStrict
	}
	d.routes = routes
}

// isTargetRefresh reports the methods that refresh the remote target:
// INVITE (RFC 3261 §12.2), UPDATE (RFC 3311 §5), SUBSCRIBE and NOTIFY
// (RFC 6665 §4.1.2, §4.2.2) and REFER (RFC 3515 with RFC 6665 §7).
func isTargetRefresh(m sip.Method) bool {
	switch m {
	case sip.INVITE, sip.UPDATE, sip.SUBSCRIBE, sip.NOTIFY, sip.REFER:
		return true
	}
	return false
}

// isSecure reports a sips Request-URI on a request whose top Via says TLS
// (or secure WebSocket): the secure flag of §12.1.1 and §12.1.2.
func isSecure(uri sip.URI, m sip.Message) bool {
	if !strings.EqualFold(uri.Scheme, "sips") {
		return false
	}
	v, err := m.TopVia()
	if err != nil {
		return false
	}
	return strings.EqualFold(v.Transport, sip.TransportTLS) || strings.EqualFold(v.Transport, sip.TransportWSS)
}

// setTag returns p with tag set, or without tag when tag is "".
func setTag(p sip.Params, tag string) sip.Params {
	if tag == "" {
		return p.Del("tag")
	}
	return p.Set("tag", tag)
}

// detachURI copies u into one fresh string and parses it back, so the
// result shares nothing with the message u came from.
func detachURI(u sip.URI) sip.URI {
	v, err := sip.ParseURI(u.String())
	if err != nil {
		return u
	}
	return v
}

// mustAddress parses an address the dialog wrote itself.
func mustAddress(s string) sip.Address {
	a, _ := sip.ParseAddress(s)
	return a
}

func malformed(header string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, header, err)
}

// toTag returns the To tag of m, or "".
func toTag(m sip.Message) string {
	to, err := m.To()
	if err != nil {
		return ""
	}
	return to.Tag()
}
