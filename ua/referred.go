package ua

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// Transfer as the transferee, RFC 3515: a REFER in a call, the host's
// decision, the new call, and its progress reported in NOTIFYs with
// message/sipfrag (none when the transferor asked Refer-Sub: false, RFC
// 4488).

// ReferExpires is the lifetime of a REFER's implicit subscription we
// grant: the new call's set-up must end within it (RFC 3515 leaves it to
// the notifier).
const ReferExpires = 2 * time.Minute

// IncomingRefer is a REFER received in a call, as Config.OnRefer gets it.
// Accept places the call it asks for; Reject refuses it. One of them must
// be called, once.
type IncomingRefer struct {
	u      *UA
	c      *Call
	w      transaction.ResponseWriter
	req    *sip.Request
	target sip.URI // Refer-To without its headers
	// replaces is the Replaces header the new INVITE carries (attended
	// transfer), "" for a blind one.
	replaces string
	noSub    bool // Refer-Sub: false honoured: no NOTIFY

	mu    sync.Mutex
	final bool
	id    string // the Event id of our NOTIFYs
	// progressed lists the provisional codes of the new call already
	// reported; settled stops further ones once the call has its outcome;
	// notifying counts the progress NOTIFYs in flight, which the last one
	// waits for (CSeq order).
	progressed []int
	settled    bool
	notifying  sync.WaitGroup
}

// Call returns the call the REFER came in (the one to transfer).
func (r *IncomingRefer) Call() *Call { return r.c }

// Target returns the Refer-To URI, without its headers.
func (r *IncomingRefer) Target() sip.URI { return r.target }

// Replaces returns the Replaces value of an attended transfer ("" for a
// blind one): the dialog at the target our new call replaces.
func (r *IncomingRefer) Replaces() string { return r.replaces }

// ReferredBy returns the Referred-By value (RFC 3892), "" when absent.
func (r *IncomingRefer) ReferredBy() string { return r.req.Header("Referred-By") }

// Request returns the REFER (read-only).
func (r *IncomingRefer) Request() *sip.Request { return r.req }

// Reject refuses the REFER with code (400–699; others give 603 Decline).
func (r *IncomingRefer) Reject(code int, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final {
		return ErrAnswered
	}
	r.final = true
	if code < 400 || code > 699 {
		code = sip.StatusDecline
	}
	r.c.mu.Lock()
	res := r.c.d.NewResponse(r.req, code, reason)
	r.c.mu.Unlock()
	r.u.respond(r.w, res)
	return nil
}

// Accept accepts the REFER (202 Accepted, then NOTIFY 100 Trying) and
// places the call it asks for, from the call's line, with Referred-By and,
// for an attended transfer, Replaces; it reports the call's final status
// in a last NOTIFY and returns the new call (or the Dial error). opts
// shape the new call (its Line, SDP…; Headers are added to those of the
// transfer). ctx bounds the new call's set-up as for Dial.
func (r *IncomingRefer) Accept(ctx context.Context, opts DialOptions) (*Call, error) {
	u, c := r.u, r.c
	r.mu.Lock()
	if r.final {
		r.mu.Unlock()
		return nil, ErrAnswered
	}
	r.final = true
	c.mu.Lock()
	res := c.d.NewResponse(r.req, sip.StatusAccepted, "")
	c.mu.Unlock()
	if r.noSub {
		res.Set("Refer-Sub", "false")
	}
	u.advertise(res)
	r.mu.Unlock()
	u.respond(r.w, res)
	r.notify(ctx, fragment{code: sip.StatusTrying, reason: "Trying"}, false)

	if opts.Line == nil {
		opts.Line = c.line
	}
	hs := append([]sip.Header(nil), opts.Headers...)
	if by := r.ReferredBy(); by != "" {
		hs = append(hs, sip.Header{Name: "Referred-By", Value: by})
	}
	if r.replaces != "" {
		hs = append(hs, sip.Header{Name: "Replaces", Value: r.replaces})
	}
	opts.Headers = hs
	opts.progress = func(res *sip.Response) { r.progress(ctx, res) }
	nc, err := u.DialURI(ctx, r.target, opts)
	r.mu.Lock()
	r.settled = true
	r.mu.Unlock()
	r.notifying.Wait()
	final := fragment{code: sip.StatusOK, reason: "OK"}
	if err != nil {
		final = fragment{code: sip.StatusServiceUnavailable, reason: "Service Unavailable"}
		if se, ok := err.(*StatusError); ok && se.Response != nil {
			final = fragment{code: se.Response.StatusCode, reason: se.Response.Reason}
		}
	}
	// The last NOTIFY goes out whatever ctx became: it is the outcome.
	r.notify(u.baseCtx, final, true)
	return nc, err
}

// progress reports a provisional response of the new call (180 Ringing,
// 183…) in a NOTIFY (RFC 3515 §2.4.5), once per status code; it runs on
// the new call's response loop, so the NOTIFY goes from a goroutine.
func (r *IncomingRefer) progress(ctx context.Context, res *sip.Response) {
	if r.noSub || res.StatusCode <= sip.StatusTrying {
		return
	}
	r.mu.Lock()
	if r.settled || slices.Contains(r.progressed, res.StatusCode) {
		r.mu.Unlock()
		return
	}
	r.progressed = append(r.progressed, res.StatusCode)
	r.notifying.Add(1)
	r.mu.Unlock()
	f := fragment{code: res.StatusCode, reason: res.Reason}
	if !r.u.goTrack(func() {
		defer r.notifying.Done()
		r.notify(ctx, f, false)
	}) {
		r.notifying.Done()
	}
}

// notify sends a NOTIFY of the REFER's subscription in the call's dialog
// with f as message/sipfrag; last terminates the subscription. Nothing
// is sent when the transferor declined the subscription.
func (r *IncomingRefer) notify(ctx context.Context, f fragment, last bool) {
	if r.noSub {
		return
	}
	u, c := r.u, r.c
	c.mu.Lock()
	if c.d == nil || c.d.State() == dialog.StateTerminated {
		c.mu.Unlock()
		return
	}
	body := []byte("SIP/2.0 " + strconv.Itoa(f.code) + " " + f.reason + "\r\n")
	req, err := c.d.NewRequest(sip.NOTIFY, body, "message/sipfrag;version=2.0")
	c.mu.Unlock()
	if err != nil {
		return
	}
	req.Set("Event", "refer;id="+r.id)
	st := dialog.SubscriptionState{State: dialog.SubActive, Expires: ReferExpires}
	if last {
		st = dialog.SubscriptionState{State: dialog.SubTerminated, Reason: dialog.ReasonNoResource}
	}
	req.Set("Subscription-State", st.String())
	u.addCommon(req)
	tx, err := u.send(ctx, u.baseCtx, req, c.network)
	if err != nil {
		return
	}
	res, err := tx.Final(ctx)
	c.mu.Lock()
	if err == nil || ctx.Err() == nil {
		_ = c.d.ReceiveResponse(req, res)
	}
	c.mu.Unlock()
}

// incomingRefer serves a REFER in call c (RFC 3515 §2.4.2): the host's
// OnRefer decides; without one, or when Refer-To is missing or not a SIP
// URI, it is refused. A REFER the host leaves unanswered gets 603.
func (u *UA) incomingRefer(ctx context.Context, w transaction.ResponseWriter, req *sip.Request, c *Call) {
	c.mu.Lock()
	if !u.admitInDialog(w, req, &c.mu, c.d, c.state == CallEnded || c.d == nil) {
		return
	}
	refuse := func(code int) {
		res := c.d.NewResponse(req, code, "")
		c.mu.Unlock()
		if code == sip.StatusMethodNotAllowed {
			res.Set("Allow", u.allow)
		}
		u.respond(w, res)
	}
	if u.cfg.OnRefer == nil {
		refuse(sip.StatusMethodNotAllowed)
		return
	}
	target, replaces, err := referTarget(req)
	if err != nil {
		refuse(sip.StatusBadRequest)
		return
	}
	cs, _ := req.CSeq()
	r := &IncomingRefer{u: u, c: c, w: w, req: req, target: target, replaces: replaces,
		id:    strconv.FormatUint(uint64(cs.Seq), 10),
		noSub: strings.EqualFold(strings.TrimSpace(req.Header("Refer-Sub")), "false")}
	c.mu.Unlock()
	u.cfg.OnRefer(u.baseCtx, r)
	_ = r.Reject(sip.StatusDecline, "")
}

// referTarget reads Refer-To: the SIP URI to call, and the Replaces
// header it carries, if any (RFC 3515 §2.1, RFC 3891 §7).
func referTarget(req *sip.Request) (sip.URI, string, error) {
	v := req.Header("Refer-To")
	if v == "" {
		return sip.URI{}, "", fmt.Errorf("%w: no Refer-To", ErrBadTarget)
	}
	a, err := sip.ParseAddress(v)
	if err != nil || !a.URI.IsSIP() {
		return sip.URI{}, "", fmt.Errorf("%w: Refer-To %q", ErrBadTarget, v)
	}
	uri := a.URI
	var replaces string
	if uri.Headers != "" {
		q, err := url.ParseQuery(uri.Headers)
		if err != nil {
			return sip.URI{}, "", fmt.Errorf("%w: Refer-To headers %q", ErrBadTarget, uri.Headers)
		}
		for k, vs := range q {
			if strings.EqualFold(k, "Replaces") && len(vs) > 0 {
				replaces = vs[0]
			}
		}
		uri.Headers = ""
	}
	uri.Params = uri.Params.Del("method")
	return uri, replaces, nil
}
