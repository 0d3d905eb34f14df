package ua

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// Reliable provisional responses, RFC 3262, as the caller: a 1xx that
// requires 100rel is acknowledged with a PRACK in its early dialog, once
// per RSeq (the UAS retransmits it until the PRACK arrives; a PRACK lost
// on the way is retransmitted by its own transaction).

// ReliablePolicy says how a UA's INVITEs ask for reliable provisional
// responses (RFC 3262).
type ReliablePolicy uint8

// Reliable provisional policies.
const (
	// ReliableSupported: Supported says 100rel; reliable 1xx are
	// PRACKed, and ours are sent reliably when the INVITE requires it
	// (the default).
	ReliableSupported ReliablePolicy = iota
	// ReliableOff: 100rel is neither offered, accepted nor PRACKed; an
	// INVITE requiring it gets 420.
	ReliableOff
	// ReliableRequired: our INVITEs say Require: 100rel, and our 1xx go
	// reliably to every INVITE that supports it.
	ReliableRequired
)

// reliableFor is the policy of line's calls: the line's
// (LineConfig.Reliable) unless it is ReliableSupported, the zero value,
// which leaves the UA's (Config.Reliable).
func (u *UA) reliableFor(line *Line) ReliablePolicy {
	if line != nil && line.cfg.Reliable != ReliableSupported {
		return line.cfg.Reliable
	}
	return u.cfg.Reliable
}

// reliableUsed reports whether the UA or one of its lines sends or takes
// reliable provisionals: PRACK is then allowed and 100rel supported.
func reliableUsed(cfg *Config) bool {
	if cfg.Reliable != ReliableOff {
		return true
	}
	for _, l := range cfg.Lines {
		if l.Reliable == ReliableRequired {
			return true
		}
	}
	return false
}

// advertiseInvite adds to an initial INVITE of line what RFC 3262 asks
// for with ReliableRequired: Require: 100rel (Supported has it unless
// reliable provisionals are off).
func (u *UA) advertiseInvite(req *sip.Request, line *Line) {
	switch u.reliableFor(line) {
	case ReliableRequired:
		req.Add("Require", "100rel")
	case ReliableOff:
		// The UA supports 100rel for another line; this one does not.
		var tags []string
		for t := range strings.SplitSeq(u.supported, ", ") {
			if t != "100rel" && t != "" {
				tags = append(tags, t)
			}
		}
		req.Set("Supported", strings.Join(tags, ", "))
	}
}

// isReliable reports a provisional response sent reliably: Require:
// 100rel and an RSeq (RFC 3262 §3), and its RSeq.
func isReliable(res *sip.Response) (uint32, bool) {
	if res.StatusCode <= 100 || res.StatusCode >= 200 {
		return 0, false
	}
	required := false
	for _, t := range res.Require() {
		if strings.EqualFold(t, "100rel") {
			required = true
		}
	}
	if !required {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(res.Header("RSeq")), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// newReliable reports whether res is a reliable provisional response
// (its RSeq, 0 when it is not, or when reliable provisionals are off for
// the call) received in the early dialog d, and whether it is new: not
// a retransmission of one whose PRACK is on its way. An unreliable
// response is always new.
func (o *outgoing) newReliable(res *sip.Response, d *dialog.Dialog) (rseq uint32, fresh bool) {
	c := o.c
	if c.u.reliableFor(c.line) == ReliableOff || d == nil {
		return 0, true
	}
	rseq, ok := isReliable(res)
	if !ok {
		return 0, true
	}
	tag := d.ID().RemoteTag
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rseq == nil {
		c.rseq = map[string]uint32{}
	}
	if last, seen := c.rseq[tag]; seen && rseq <= last {
		return rseq, false // a retransmission: its PRACK is on its way
	}
	c.rseq[tag] = rseq
	return rseq, true
}

// prack acknowledges res, a new reliable provisional response (RSeq
// rseq) to invite, received in the early dialog d, with a PRACK (RFC
// 3262 §4). The PRACK carries our answer when res brings the peer's
// offer, or a new offer of the host's when res answered ours (§5,
// prackreoffer.go). lock guards d (the INVITE session's lock).
func (o *outgoing) prack(invite *sip.Request, res *sip.Response, d *dialog.Dialog, lock func() func(), rseq uint32, answered bool) {
	c, u := o.c, o.c.u
	cs, err := invite.CSeq()
	if err != nil {
		return
	}
	tag := d.ID().RemoteTag
	body := o.answerEarlyOffer(res, tag)
	var x *prackOffer
	if body == nil && answered {
		if x = o.prackOfferFor(res, tag); x != nil {
			body = x.offer
		}
	}
	unlock := lock()
	req, err := d.NewRequest(sip.PRACK, body, "application/sdp")
	unlock()
	if err != nil {
		x.finish(nil, err)
		return
	}
	req.Set("RAck", strconv.FormatUint(uint64(rseq), 10)+" "+strconv.FormatUint(uint64(cs.Seq), 10)+" INVITE")
	u.addCommon(req)
	// The callee may send an UPDATE as soon as it has answered this PRACK
	// (RFC 3311 §5.1), and that UPDATE may be served before the 200 below:
	// it waits on sent for the early dialog to be recorded.
	var sent chan struct{}
	if answered || body != nil {
		sent = make(chan struct{})
		c.mu.Lock()
		c.prackSent = sent
		c.mu.Unlock()
	}
	done := func() {
		if sent != nil {
			close(sent)
		}
	}
	if !u.goTrack(func() {
		defer done()
		tx, err := u.send(u.baseCtx, u.baseCtx, req, c.network)
		if err != nil {
			u.log.Debug("PRACK not sent", "call_id", c.callID, "error", err.Error())
			x.finish(nil, err)
			return
		}
		pres, err := tx.Final(u.baseCtx)
		if err == nil && !pres.IsSuccess() {
			u.log.Debug("PRACK refused", "call_id", c.callID, "status", pres.StatusCode)
		}
		x.finish(pres, err)
		if err == nil && pres.IsSuccess() && (answered || body != nil) {
			c.earlyAnswered(d, lock, allows(res, sip.UPDATE))
		}
	}) {
		done()
		x.finish(nil, ErrClosed)
	}
}

// answerEarlyOffer answers the offer in res, a reliable provisional
// response to our INVITE without SDP, from the call's session (RFC 3262
// §5: the answer goes in the PRACK), once per early dialog (tag); the 2xx
// then repeats that offer and the ACK carries no SDP. It returns nil when
// res carries no offer to answer.
func (o *outgoing) answerEarlyOffer(res *sip.Response, tag string) []byte {
	c := o.c
	if !o.opts.NoOffer || c.media == nil || len(res.Body()) == 0 || res.ContentType() != "application/sdp" {
		return nil
	}
	c.mu.Lock()
	_, done := c.earlyOffer[tag]
	c.mu.Unlock()
	if done {
		return nil
	}
	answer, err := c.media.answer(res.Body())
	if err != nil {
		c.u.log.Debug("offer in reliable provisional not answered", "call_id", c.callID, "error", err.Error())
		return nil
	}
	c.mu.Lock()
	if c.earlyOffer == nil {
		c.earlyOffer = map[string][]byte{}
	}
	c.earlyOffer[tag] = bytes.Clone(res.Body())
	c.local = answer
	c.mu.Unlock()
	return answer
}
