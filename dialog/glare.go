package dialog

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Negotiation tracks the INVITE transactions and the SDP offers in progress
// on a dialog in each direction, which is what decides glare: whether a
// received INVITE or UPDATE gets 491 or 500, and whether we may send one
// (RFC 3261 §14.1 and §14.2, RFC 3311 §5.1 and §5.2).
//
// "Client" is a request we sent, "server" one we received; each is known
// by its method and CSeq number, so that the end of an older request (a
// late retransmission of its 2xx, or the answer to a request that glare
// refused) does not end a newer one. An INVITE is in progress from the
// moment it is built or accepted until its final response; an offer is
// outstanding from then until the final response to that request (which
// carries the answer or refuses the offer), or until OfferAnswered says
// the answer came earlier (a reliable provisional response or PRACK, RFC
// 3262). The late-offer window between a 2xx carrying an offer and its ACK
// is not tracked.
//
// The zero value has nothing in progress. Dialog keeps its Negotiation
// current; the methods are exported for tests and for callers that track
// transactions of their own.
type Negotiation struct {
	inviteOut, updateOut pending
	inviteIn, updateIn   pending
}

// pending is one INVITE or UPDATE in progress.
type pending struct {
	seq    uint32
	active bool
	offer  bool // it carried an offer not answered yet
}

func (n *Negotiation) slot(m sip.Method, out bool) *pending {
	switch {
	case m == sip.INVITE && out:
		return &n.inviteOut
	case m == sip.INVITE:
		return &n.inviteIn
	case m == sip.UPDATE && out:
		return &n.updateOut
	case m == sip.UPDATE:
		return &n.updateIn
	}
	return nil
}

func (n *Negotiation) offerOut() bool {
	return n.inviteOut.active && n.inviteOut.offer || n.updateOut.active && n.updateOut.offer
}

func (n *Negotiation) offerIn() bool {
	return n.inviteIn.active && n.inviteIn.offer || n.updateIn.active && n.updateIn.offer
}

// CheckSend returns nil when we may start a request of method m (offer
// says whether its body is an SDP offer), or ErrRequestPending when it
// would cross a request in progress: an INVITE while any INVITE is in
// progress either way (§14.1), or an offer while one is outstanding either
// way (RFC 3311 §5.1).
func (n *Negotiation) CheckSend(m sip.Method, offer bool) error {
	if m == sip.INVITE && (n.inviteOut.active || n.inviteIn.active) {
		return ErrRequestPending
	}
	if offer && (m == sip.INVITE || m == sip.UPDATE) && (n.offerOut() || n.offerIn()) {
		return ErrRequestPending
	}
	return nil
}

// StartClient records that we sent a request of method m with CSeq
// number seq; only INVITE, and UPDATE with an offer, are tracked.
func (n *Negotiation) StartClient(m sip.Method, seq uint32, offer bool) {
	n.start(n.slot(m, true), m, seq, offer)
}

// EndClient records the final response (or failure) of our request of
// method m with CSeq number seq.
func (n *Negotiation) EndClient(m sip.Method, seq uint32) { n.end(n.slot(m, true), seq) }

// CheckReceive returns the status to answer a received request of method
// m (offer: its body is an SDP offer) with, or 0 to process it:
//   - 491 for an INVITE while our INVITE is in progress (§14.2), or for an
//     INVITE or UPDATE with an offer while our offer is outstanding
//     (RFC 3311 §5.2);
//   - 500 for an INVITE while the peer's previous INVITE has no final
//     response yet (§14.2), or for an offer while the peer's previous offer
//     is unanswered (RFC 3311 §5.2). Send it with a Retry-After of
//     OverlapRetryAfter.
func (n *Negotiation) CheckReceive(m sip.Method, offer bool) int {
	switch m {
	case sip.INVITE:
		switch {
		case n.inviteOut.active:
			return sip.StatusRequestPending
		case n.inviteIn.active:
			return sip.StatusServerInternalError
		}
	case sip.UPDATE:
	default:
		return 0
	}
	if !offer {
		return 0
	}
	switch {
	case n.offerOut():
		return sip.StatusRequestPending
	case n.offerIn():
		return sip.StatusServerInternalError
	}
	return 0
}

// StartServer records that we accepted a received request of method m
// with CSeq number seq.
func (n *Negotiation) StartServer(m sip.Method, seq uint32, offer bool) {
	n.start(n.slot(m, false), m, seq, offer)
}

// EndServer records that we sent the final response to a received request
// of method m with CSeq number seq.
func (n *Negotiation) EndServer(m sip.Method, seq uint32) { n.end(n.slot(m, false), seq) }

// OfferAnswered records that the outstanding offer we sent (ours) or
// received (!ours) has its answer before the final response of its
// request: in a reliable provisional response or a PRACK (RFC 3262).
func (n *Negotiation) OfferAnswered(ours bool) {
	if ours {
		n.inviteOut.offer, n.updateOut.offer = false, false
	} else {
		n.inviteIn.offer, n.updateIn.offer = false, false
	}
}

func (n *Negotiation) start(p *pending, m sip.Method, seq uint32, offer bool) {
	if p == nil || m == sip.UPDATE && !offer {
		return
	}
	*p = pending{seq: seq, active: true, offer: offer}
}

func (n *Negotiation) end(p *pending, seq uint32) {
	if p != nil && p.active && p.seq == seq {
		*p = pending{}
	}
}

// Pending reports whether an INVITE is in progress in either direction.
func (n *Negotiation) Pending() (out, in bool) { return n.inviteOut.active, n.inviteIn.active }

// OfferPending reports whether an offer is outstanding in either direction.
func (n *Negotiation) OfferPending() (out, in bool) { return n.offerOut(), n.offerIn() }

// Rand is the random source of the back-off functions. IntN returns a
// uniform number in [0, n). *math/rand/v2.Rand satisfies it; nil means
// crypto/rand.
type Rand interface {
	IntN(n int) int
}

// Glare back-off bounds of RFC 3261 §14.1, in units of BackoffStep.
const (
	// BackoffStep is the unit of the §14.1 back-off: 10 ms.
	BackoffStep = 10 * time.Millisecond
	// OwnerBackoffMin and OwnerBackoffMax bound the back-off of the UA
	// that generated the dialog's Call-ID: 2.1 s to 4 s.
	OwnerBackoffMin = 2100 * time.Millisecond
	OwnerBackoffMax = 4 * time.Second
	// OtherBackoffMax bounds the back-off of the other UA: 0 to 2 s.
	OtherBackoffMax = 2 * time.Second
	// OverlapRetryAfterMax bounds the Retry-After of a 500 sent for an
	// overlapping offer: 0 to 10 s (RFC 3311 §5.2).
	OverlapRetryAfterMax = 10 * time.Second
)

// GlareBackoff returns how long to wait before retrying a re-INVITE (or
// UPDATE) that got 491, as RFC 3261 §14.1 says: when we own the Call-ID
// (we generated it: we were the dialog's UAC), a random time from 2.1 s to
// 4 s in 10 ms steps, else from 0 to 2 s in 10 ms steps. Both bounds are
// included. r nil uses crypto/rand.
func GlareBackoff(ownsCallID bool, r Rand) time.Duration {
	if ownsCallID {
		return OwnerBackoffMin + randSteps(r, OwnerBackoffMax-OwnerBackoffMin)
	}
	return randSteps(r, OtherBackoffMax)
}

// GlareBackoff returns the §14.1 back-off for this dialog (see the
// function GlareBackoff).
func (d *Dialog) GlareBackoff(r Rand) time.Duration { return GlareBackoff(d.OwnsCallID(), r) }

// OverlapRetryAfter returns a random Retry-After, 0 to 10 s in whole
// seconds, for the 500 that refuses an overlapping offer (RFC 3311 §5.2)
// or INVITE (RFC 3261 §14.2). r nil uses crypto/rand.
func OverlapRetryAfter(r Rand) time.Duration {
	return time.Duration(intN(r, int(OverlapRetryAfterMax/time.Second)+1)) * time.Second
}

// randSteps returns a multiple of BackoffStep in [0, upper].
func randSteps(r Rand, upper time.Duration) time.Duration {
	return time.Duration(intN(r, int(upper/BackoffStep)+1)) * BackoffStep
}

func intN(r Rand, n int) int {
	if r != nil {
		return r.IntN(n)
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	// The modulo bias is below n/2^64: nothing for a few hundred steps.
	return int(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}
