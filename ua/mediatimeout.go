package ua

import (
	"errors"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"
)

// ErrMediaTimeout ends a call whose peer sent no RTP and no RTCP for
// MediaConfig.RTPTimeout while it was to send: a peer that vanished
// (crashed, unplugged, its network gone) and will never send BYE.
var ErrMediaTimeout = errors.New("ua: no RTP or RTCP from the peer within the RTP timeout")

// mediaWatch is a call's RTP inactivity check.
type mediaWatch struct {
	timer  *clockTimer
	seen   uint64    // RTP and RTCP packets received at the last check
	seenAt time.Time // when seen last changed, or the peer last stopped sending
}

// armMediaWatchLocked starts the RTP inactivity check of an established
// call with a media session, when MediaConfig.RTPTimeout is set: every
// quarter of the timeout it looks at the packets received, and hangs up
// with ErrMediaTimeout once none came for the whole timeout while the
// session was sendrecv (a hold, in either direction, pauses the count:
// many phones send nothing while they hold, RFC 3264 §8.4). c.mu is held.
func (c *Call) armMediaWatchLocked() {
	d := c.u.cfg.Media.RTPTimeout
	if d <= 0 || c.media == nil || c.media.sess == nil || !c.upLocked() || c.mw != nil {
		return
	}
	c.mw = &mediaWatch{seenAt: time.Now()}
	c.scheduleMediaWatchLocked(d)
}

func (c *Call) scheduleMediaWatchLocked(d time.Duration) {
	u := c.u
	c.mw.timer = u.afterFunc(d/4, func() { u.goTrack(func() { c.checkMedia(d) }) })
}

// checkMedia is one look of the inactivity check.
func (c *Call) checkMedia(d time.Duration) {
	c.mu.Lock()
	mw := c.mw
	if mw == nil || !c.upLocked() || c.media == nil || c.media.sess == nil {
		c.mu.Unlock()
		return
	}
	sess := c.media.sess
	c.mu.Unlock()
	st := sess.Stats()
	now := time.Now()
	seen := st.PacketsReceived + st.RTCP.Received
	c.mu.Lock()
	if c.mw != mw || !c.upLocked() {
		c.mu.Unlock()
		return
	}
	if seen != mw.seen || st.Direction != sdp.SendRecv {
		mw.seen, mw.seenAt = seen, now
	}
	if now.Sub(mw.seenAt) >= d {
		c.mu.Unlock()
		c.u.log.Info("no media from the peer: hanging up", "call_id", c.callID, "rtp_timeout", d)
		_ = c.bye(c.u.baseCtx, ErrMediaTimeout)
		return
	}
	c.scheduleMediaWatchLocked(d)
	c.mu.Unlock()
}

// stopMediaWatchLocked ends the check of an ending call. c.mu is held.
func (c *Call) stopMediaWatchLocked() {
	if c.mw != nil {
		c.mw.timer.Stop()
		c.mw = nil
	}
}

// upLocked reports an answered call (established, or waiting for the
// ACK of our 2xx). c.mu is held.
func (c *Call) upLocked() bool { return c.state == CallAnswered || c.state == CallEstablished }
