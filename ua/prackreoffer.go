package ua

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/sip"
)

// A new offer in a PRACK, RFC 3262 §5, as the caller. When a reliable
// provisional response answered our INVITE's offer, the PRACK may carry a
// new offer, answered in the PRACK's 200. As sofia-sip lets an
// application send its own PRACK with an SDP of its choice, the host is
// asked, once per early dialog, through DialOptions.PrackOffer, on the
// call's INVITE reader: it changes the call's session (codecs, direction)
// or, when it brings its own SDP, gives the offer. The answer is applied
// when the PRACK's 200 brings it (the RTP then goes where it says, with
// the codec it picks) and reported as EventCallUpdated; a PRACK refused,
// lost or answered without SDP leaves the session as it was (RFC 3264
// §8). While the exchange is open, the INVITE's further responses wait
// for its end, so that a 2xx overtaking the PRACK's 200 on the wire is not
// taken for the answer. The 2xx then normally repeats the PRACK's answer
// (RFC 6337 §3.1.2) and changes nothing.

// ErrPrackOfferRefused: the peer did not answer the new offer of our
// PRACK (an error response, none, or a 200 without SDP); the session
// stays as it was. EventCallUpdated carries it, wrapped.
var ErrPrackOfferRefused = errors.New("ua: new offer in PRACK not answered")

// MediaChange is a new offer of an early call's media, made in a PRACK
// (DialOptions.PrackOffer). For a call with a session of ours it sets
// the session's codecs and direction from this offer on; the peer's
// answer picks the codec, as in a re-INVITE (RFC 3264 §8).
type MediaChange struct {
	// Codecs are offered in preference order (the session's offers and
	// answers use them from then on); nil: those offered so far.
	Codecs []audio.Codec
	// Direction offered: sdp.SendRecv (the zero value), sdp.SendOnly,
	// sdp.RecvOnly or sdp.Inactive.
	Direction sdp.Direction
	// SDP is the offer as it is, for a call whose host brings its SDP
	// (DialOptions.SDP); it must be set for those, and is refused for a
	// call with a session of ours (Codecs and Direction make that offer).
	SDP []byte
}

// prackOffer is the open exchange of a new offer in one PRACK: the
// INVITE's reader waits on done before it reads another response's SDP.
type prackOffer struct {
	o     *outgoing
	offer []byte
	prev  sdp.Config // the session's configuration before the change
	done  chan struct{}
}

// prackOfferFor asks the host for a new offer to put in the PRACK of res,
// a reliable provisional response of the early dialog tag whose SDP
// answered our offer, and prepares it. It returns nil (no offer) when
// the host gives none, was asked already in this dialog, or the offer
// cannot be made (logged).
func (o *outgoing) prackOfferFor(res *sip.Response, tag string) *prackOffer {
	c := o.c
	hook := o.opts.PrackOffer
	if hook == nil || o.opts.NoOffer || o.reoffered[tag] {
		return nil
	}
	if o.reoffered == nil {
		o.reoffered = map[string]bool{}
	}
	o.reoffered[tag] = true
	ch := hook(c, res)
	if ch == nil {
		return nil
	}
	x := &prackOffer{o: o, done: make(chan struct{})}
	var err error
	switch {
	case c.media == nil && len(ch.SDP) == 0:
		err = errors.New("no SDP for a call whose host brings its own")
	case c.media == nil:
		x.offer = bytes.Clone(ch.SDP)
	case len(ch.SDP) > 0:
		err = errors.New("SDP given for a call with a media session of ours")
	default:
		x.offer, x.prev, err = c.media.reoffer(ch)
	}
	if err != nil {
		c.u.log.Warn("no new offer in PRACK", "call_id", c.callID, "error", err.Error())
		return nil
	}
	o.reoffer = x
	return x
}

// finish ends the exchange with the PRACK's final response (nil with
// err when there is none): the answer is applied, or the offer withdrawn.
// A nil x does nothing.
func (x *prackOffer) finish(res *sip.Response, err error) {
	if x == nil {
		return
	}
	defer close(x.done)
	c := x.o.c
	switch {
	case err != nil:
		err = fmt.Errorf("%w: %w", ErrPrackOfferRefused, err)
	case !res.IsSuccess():
		err = fmt.Errorf("%w: %w", ErrPrackOfferRefused, &StatusError{Response: res})
	case len(res.Body()) == 0 || res.ContentType() != "application/sdp":
		err = fmt.Errorf("%w: its 200 carries no SDP", ErrPrackOfferRefused)
	case c.media != nil:
		if err = c.media.applyAnswer(res.Body(), true); err != nil {
			err = fmt.Errorf("ua: media: %w", err)
		}
	}
	if err != nil && c.media != nil {
		c.media.cancelReoffer(x.prev)
	}
	if err == nil {
		c.mu.Lock()
		c.local, c.remote = x.offer, bytes.Clone(res.Body())
		c.mu.Unlock()
	}
	e := Event{Kind: EventCallUpdated, Line: c.line, Call: c, CallID: c.callID, Response: res, Err: err}
	if res != nil {
		e.SDP = res.Body()
	}
	c.u.emit(e)
}

// awaitPrackOffer waits for the end of an open exchange of a new offer in
// a PRACK (bounded by the PRACK's transaction).
func (o *outgoing) awaitPrackOffer() {
	if x := o.reoffer; x != nil {
		<-x.done
		o.reoffer = nil
	}
}

// reoffer makes a new offer of the session with ch's codecs and
// direction, and returns it with the configuration it replaced (for
// cancelReoffer).
func (m *callMedia) reoffer(ch *MediaChange) ([]byte, sdp.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.neg.Config()
	if ch.Direction > sdp.Inactive {
		return nil, prev, fmt.Errorf("%w: direction %v", sdp.ErrOfferConfig, ch.Direction)
	}
	cfg := prev
	if ch.Codecs != nil {
		cfg.Codecs = slices.Clone(ch.Codecs)
	}
	cfg.Direction = ch.Direction
	err := m.neg.SetConfig(cfg)
	if err == nil {
		err = m.prepareOfferLocked()
	}
	var offer []byte
	if err == nil {
		offer, err = m.neg.CreateOffer()
	}
	if err != nil {
		_ = m.neg.SetConfig(prev)
		return nil, prev, err
	}
	return offer, prev, nil
}

// cancelReoffer withdraws the pending offer of reoffer and puts the
// configuration before it back: the session stays as it was.
func (m *callMedia) cancelReoffer(prev sdp.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.neg.CancelOffer()
	_ = m.neg.SetConfig(prev)
}
