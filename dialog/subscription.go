package dialog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Subscriptions, RFC 6665: the Subscription-State and Event headers, the
// dialog a NOTIFY creates, and the lease a subscription holds. Pure state:
// the user agent sends, answers and keeps the timers.

// ErrBadSubscriptionState is wrapped by the errors of
// ParseSubscriptionState.
var ErrBadSubscriptionState = errors.New("dialog: malformed Subscription-State")

// SubState is the state of a subscription (RFC 6665 §4.1.3).
type SubState uint8

// Subscription states.
const (
	// SubPending: the subscription awaits the notifier's authorization.
	SubPending SubState = iota + 1
	// SubActive: the subscription is accepted.
	SubActive
	// SubTerminated: the subscription has ended (Reason says why).
	SubTerminated
)

// String returns the state as Subscription-State writes it.
func (s SubState) String() string {
	switch s {
	case SubPending:
		return "pending"
	case SubActive:
		return "active"
	case SubTerminated:
		return "terminated"
	}
	return "unknown"
}

// Reasons of a terminated subscription (RFC 6665 §4.1.3).
const (
	ReasonDeactivated = "deactivated"
	ReasonProbation   = "probation"
	ReasonRejected    = "rejected"
	ReasonTimeout     = "timeout"
	ReasonGiveUp      = "giveup"
	ReasonNoResource  = "noresource"
	ReasonInvariant   = "invariant"
)

// SubscriptionState is a Subscription-State header value.
type SubscriptionState struct {
	State SubState
	// Expires is the time left (the expires parameter), zero when absent.
	Expires time.Duration
	// Reason is the reason parameter of a terminated subscription, lower
	// case ("" when absent).
	Reason string
	// RetryAfter is the retry-after parameter, zero when absent.
	RetryAfter time.Duration
}

// ParseSubscriptionState parses a Subscription-State value, such as
// "active;expires=3599" or "terminated;reason=timeout". An unknown state
// is taken as pending, as RFC 6665 §4.1.3 asks ("extension" states).
func ParseSubscriptionState(v string) (SubscriptionState, error) {
	var s SubscriptionState
	parts := strings.Split(v, ";")
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "":
		return s, fmt.Errorf("%w: empty", ErrBadSubscriptionState)
	case "active":
		s.State = SubActive
	case "terminated":
		s.State = SubTerminated
	default:
		s.State = SubPending
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		switch k {
		case "expires", "retry-after":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return s, fmt.Errorf("%w: %s=%q", ErrBadSubscriptionState, k, val)
			}
			d := time.Duration(n) * time.Second
			if k == "expires" {
				s.Expires = d
			} else {
				s.RetryAfter = d
			}
		case "reason":
			s.Reason = strings.ToLower(val)
		}
	}
	return s, nil
}

// String formats s as a Subscription-State value: expires for pending and
// active, reason and retry-after for terminated.
func (s SubscriptionState) String() string {
	b := s.State.String()
	if s.State != SubTerminated {
		return b + ";expires=" + strconv.Itoa(int(s.Expires/time.Second))
	}
	if s.Reason != "" {
		b += ";reason=" + s.Reason
	}
	if s.RetryAfter > 0 {
		b += ";retry-after=" + strconv.Itoa(int(s.RetryAfter/time.Second))
	}
	return b
}

// Resubscribe reports whether a subscriber may subscribe again after a
// subscription ended with reason, and after how long (RFC 6665 §4.1.3:
// at once for deactivated and timeout, after retry-after for probation
// and giveup; never for rejected, noresource and invariant, nor for an
// unknown reason).
func (s SubscriptionState) Resubscribe() (bool, time.Duration) {
	switch s.Reason {
	case ReasonDeactivated, ReasonTimeout:
		return true, 0
	case ReasonProbation, ReasonGiveUp:
		return true, s.RetryAfter
	}
	return false, 0
}

// EventPackage splits an Event header value into its package and its id
// parameter (RFC 6665 §8.2.1): "dialog;id=7" gives "dialog", "7". The
// package is lower case: package names compare case-insensitively.
func EventPackage(v string) (pkg, id string) {
	parts := strings.Split(v, ";")
	pkg = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "id") {
			id = strings.TrimSpace(val)
		}
	}
	return pkg, id
}

// NewNotified creates the subscriber's dialog that a NOTIFY creates (RFC
// 6665 §4.1.2.4): the first NOTIFY of a notifier may come before the 2xx
// to our SUBSCRIBE, and a forked SUBSCRIBE gets NOTIFYs from several
// notifiers, each with its own From tag and dialog. subscribe is our
// SUBSCRIBE as sent, notify the NOTIFY received, whose To tag is our
// SUBSCRIBE's From tag.
//
// The dialog is confirmed, we own its Call-ID (as the UAC of the
// SUBSCRIBE), its local sequence number is the SUBSCRIBE's CSeq, its route
// set the NOTIFY's Record-Route in order and its remote target the
// NOTIFY's Contact (as §12.1.1 does for a request received). The remote
// sequence number stays unset: pass the NOTIFY to ReceiveRequest next,
// which records it. It fails with ErrWrongDialog when the NOTIFY's
// Call-ID or To tag is not the SUBSCRIBE's, and ErrNotDialogResponse when
// the NOTIFY has no From tag.
func NewNotified(subscribe, notify *sip.Request) (*Dialog, error) {
	from, to, cs, err := inviteHeaders(subscribe)
	if err != nil {
		return nil, err
	}
	nfrom, err := notify.From()
	if err != nil {
		return nil, malformed("From", err)
	}
	if nfrom.Tag() == "" {
		return nil, fmt.Errorf("%w: NOTIFY without From tag", ErrNotDialogResponse)
	}
	if notify.CallID() != subscribe.CallID() || toTag(notify) != from.Tag() {
		return nil, ErrWrongDialog
	}
	rr, err := notify.RecordRoutes()
	if err != nil {
		return nil, malformed("Record-Route", err)
	}
	d := &Dialog{
		id:       ID{CallID: subscribe.CallID(), LocalTag: from.Tag(), RemoteTag: nfrom.Tag()}.detach(),
		role:     RoleUAC,
		localSeq: cs.Seq,
		flags:    flagLocalSeq,
		local:    from.String(),
		state:    StateConfirmed,
	}
	to.Params = setTag(to.Params, nfrom.Tag())
	d.remote = to.String()
	d.contact = firstContact(subscribe)
	if isSecure(subscribe.URI, subscribe) {
		d.flags |= flagSecure
	}
	d.setRoutes(rr, false)
	d.remoteTarget = detachURI(subscribe.URI)
	if err := d.refreshTarget(notify); err != nil {
		return nil, err
	}
	return d, nil
}
