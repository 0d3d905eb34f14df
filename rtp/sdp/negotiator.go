package sdp

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Negotiator runs RFC 3264 offer/answer for one call's audio stream over the
// life of a dialog. It makes offers (initial, re-INVITE, or in a 200 for an
// INVITE without SDP) and applies their answers, and answers the peer's
// offers. It keeps the o= line: one session id, and a version that grows by
// one whenever the SDP it sends differs from the previous one and stays put
// when it does not (RFC 3264 §8). Hold and resume are re-offers with another
// direction (RFC 3264 §8.4).
//
// A Negotiator is not safe for concurrent use; the call that owns it
// serializes offers and answers, as SIP does.
type Negotiator struct {
	cfg       Config
	held      bool
	local     *SessionDescription // last SDP sent
	localWire []byte
	pending   *SessionDescription // our offer awaiting an answer
	remote    *SessionDescription // last SDP received
	params    MediaParams
	hasParams bool
}

// NewNegotiator returns a Negotiator for cfg.
func NewNegotiator(cfg Config) (*Negotiator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Negotiator{cfg: cfg}, nil
}

// Config returns the configuration in use, with defaults filled in.
func (n *Negotiator) Config() Config {
	c := n.cfg
	c.Codecs = slices.Clone(c.Codecs)
	return c
}

// SetConfig replaces the configuration for the next offer or answer, for
// example a new port or codec list. The session id stays.
func (n *Negotiator) SetConfig(cfg Config) error {
	cfg.SessionID = n.cfg.SessionID
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	n.cfg = cfg
	return nil
}

// SetDirection sets the local direction preference used by the next offer or
// answer.
func (n *Negotiator) SetDirection(d Direction) error {
	if d > Inactive {
		return fmt.Errorf("%w: direction %v", ErrOfferConfig, d)
	}
	n.cfg.Direction = d
	return nil
}

// Hold puts the stream on hold for the next offer or answer: a sendrecv
// preference becomes sendonly and a recvonly one inactive (RFC 3264 §8.4).
// Follow it with CreateOffer for a re-INVITE.
func (n *Negotiator) Hold() { n.held = true }

// Resume undoes Hold; the next offer uses the configured direction again.
func (n *Negotiator) Resume() { n.held = false }

// Held reports whether Hold is in effect.
func (n *Negotiator) Held() bool { return n.held }

// direction is the local preference with hold applied.
func (n *Negotiator) direction() Direction {
	if n.held {
		return n.cfg.Direction.Intersect(SendOnly)
	}
	return n.cfg.Direction
}

// Params returns the outcome of the last completed exchange.
func (n *Negotiator) Params() (MediaParams, bool) {
	p := n.params
	p.Codecs = slices.Clone(p.Codecs)
	return p, n.hasParams
}

// LocalDescription returns a copy of the last SDP sent, or nil.
func (n *Negotiator) LocalDescription() *SessionDescription {
	if n.local == nil {
		return nil
	}
	return n.local.Clone()
}

// RemoteDescription returns a copy of the last SDP received, or nil.
func (n *Negotiator) RemoteDescription() *SessionDescription {
	if n.remote == nil {
		return nil
	}
	return n.remote.Clone()
}

// OfferPending reports whether an offer made by CreateOffer awaits its answer.
func (n *Negotiator) OfferPending() bool { return n.pending != nil }

// CreateOffer returns an SDP offer: the initial one (in an INVITE, or in the
// 200 to an INVITE that had none) or a re-offer. A re-offer keeps all m= lines
// of the last SDP sent, in order, with the ones no longer used at port 0
// (RFC 3264 §8). The offer stays pending until ApplyAnswer or CancelOffer;
// while it is pending, another CreateOffer fails with ErrOfferPending.
func (n *Negotiator) CreateOffer() ([]byte, error) {
	if n.pending != nil {
		return nil, ErrOfferPending
	}
	sd := sessionFor(n.cfg)
	audio := audioMediaFor(n.cfg, slices.Clone(n.cfg.Codecs), n.direction(), n.cfg.RTCPMux, false)
	idx := -1
	if n.local != nil {
		if n.hasParams && n.params.Index < len(n.local.Media) {
			idx = n.params.Index
		} else {
			idx = slices.IndexFunc(n.local.Media, func(m MediaDescription) bool {
				return strings.EqualFold(m.Type, "audio") && m.Port != 0
			})
		}
		for i := range n.local.Media {
			if i == idx {
				sd.Media = append(sd.Media, audio)
			} else {
				sd.Media = append(sd.Media, disabledMedia(&n.local.Media[i], n.cfg.Addr))
			}
		}
	}
	if idx < 0 {
		sd.Media = append(sd.Media, audio)
	}
	b, err := n.send(sd)
	if err != nil {
		return nil, err
	}
	n.pending = sd
	return b, nil
}

// CancelOffer forgets the pending offer, for example after the re-INVITE
// carrying it failed (RFC 3264 §8: the session stays as it was). The offer's
// version stays used.
func (n *Negotiator) CancelOffer() { n.pending = nil }

// ApplyAnswer applies the answer to the pending offer (from a 2xx, a reliable
// provisional response, or the ACK of a late offer) and returns the
// negotiated stream. The offer/answer exchange is over whether or not it
// succeeds; on error the previous outcome stays in effect. Errors: those of
// Parse and of the package-level ApplyAnswer, and ErrNoOfferPending.
func (n *Negotiator) ApplyAnswer(answer []byte) (MediaParams, error) {
	offer := n.pending
	if offer == nil {
		return MediaParams{}, ErrNoOfferPending
	}
	n.pending = nil
	sd, err := n.cfg.Limits.Parse(answer)
	if err != nil {
		return MediaParams{}, err
	}
	p, err := ApplyAnswer(offer, sd)
	if err != nil {
		return MediaParams{}, err
	}
	n.remote = sd
	n.params, n.hasParams = p, true
	p.Codecs = slices.Clone(p.Codecs)
	return p, nil
}

// Answer answers the peer's offer (initial or re-offer) as the package-level
// Answer does, with the configured direction (hold applied), and returns the
// answer's wire form and the negotiated stream. It fails with ErrOfferPending
// while our own offer is unanswered (glare, RFC 3261 §14.2), and with an
// error wrapping ErrNotAcceptable (send 488) when nothing can be accepted; in
// both cases nothing changes.
func (n *Negotiator) Answer(offer []byte) ([]byte, MediaParams, error) {
	if n.pending != nil {
		return nil, MediaParams{}, ErrOfferPending
	}
	sd, err := n.cfg.Limits.Parse(offer)
	if err != nil {
		return nil, MediaParams{}, err
	}
	ans, p, err := answerWith(sd, n.cfg, n.direction())
	if err != nil {
		return nil, MediaParams{}, err
	}
	b, err := n.send(ans)
	if err != nil {
		return nil, MediaParams{}, err
	}
	n.remote = sd
	n.params, n.hasParams = p, true
	p.Codecs = slices.Clone(p.Codecs)
	return b, p, nil
}

// send stamps sd's o= line and returns its wire form: the session id, and
// the last version sent if the content is unchanged, else that version plus
// one (RFC 3264 §8). The first SDP has version 1.
func (n *Negotiator) send(sd *SessionDescription) ([]byte, error) {
	sd.Origin.SessionID = n.cfg.SessionID
	sd.Origin.SessionVersion = 1
	if n.local != nil {
		sd.Origin.SessionVersion = n.local.Origin.SessionVersion
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil, err
	}
	if n.local != nil && !bytes.Equal(b, n.localWire) {
		sd.Origin.SessionVersion++
		if b, err = sd.Marshal(); err != nil {
			return nil, err
		}
	}
	n.local, n.localWire = sd.Clone(), b
	return b, nil
}
