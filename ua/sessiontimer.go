package ua

import (
	"errors"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// Session timers, RFC 4028: the interval asked for and granted, 422 and
// Min-SE, refreshes by UPDATE (RFC 3311) when the peer allows it and by
// re-INVITE otherwise, at half the interval, and BYE when a session the
// peer should refresh expires. Timers run on the UA's clock.

// DefaultSessionExpires is the session interval asked for and granted
// when Config.SessionExpires (and LineConfig.SessionExpires) are zero.
const DefaultSessionExpires = 1800 * time.Second

// ErrSessionExpired: the session interval passed without a refresh from
// the peer; the call was ended with a BYE (RFC 4028 §10).
var ErrSessionExpired = errors.New("ua: session expired without refresh")

// sessionTimer is a call's session timer.
type sessionTimer struct {
	ask        time.Duration // interval our INVITEs ask for (raised by 422)
	interval   time.Duration // negotiated; 0 while there is none
	refresher  bool          // we refresh
	peerUpdate bool          // the peer accepts UPDATE
	timer      *clockTimer
	tm         clockTimer // where timer points once armed (no allocation)
	// refreshing: the armed timer refreshes (else it ends the call).
	refreshing bool
}

// newSessionTimerLocked makes c's session timer in the room the Call keeps
// for it (no allocation of its own). c.mu is held.
func (c *Call) newSessionTimerLocked(ask time.Duration) *sessionTimer {
	if c.stv.timer != nil {
		c.stv.timer.Stop() // a timer of an earlier one, set aside
	}
	c.stv = sessionTimer{ask: ask}
	return &c.stv
}

// sessionFirer is a Call as the firer of its session timer.
type sessionFirer Call

// fire implements firer: the refresh, or the BYE of an expired session,
// on a goroutine of the UA.
func (f *sessionFirer) fire() {
	c := (*Call)(f)
	u := c.u
	c.mu.Lock()
	st := c.st
	refresh := st != nil && st.refreshing
	c.mu.Unlock()
	if st == nil {
		return // no session timer any more
	}
	if refresh {
		u.goTrack(c.refreshSession)
		return
	}
	u.goTrack(func() { _ = c.bye(u.baseCtx, ErrSessionExpired) })
}

// sessionWant is the interval a call of line asks for, 0 when session
// timers are off.
func (u *UA) sessionWant(line *Line) time.Duration {
	d := u.cfg.SessionExpires
	if line != nil && line.cfg.SessionExpires != 0 {
		d = line.cfg.SessionExpires
	}
	switch {
	case d < 0:
		return 0
	case d == 0:
		return DefaultSessionExpires
	}
	return max(d, u.minSE())
}

// minSE is the smallest interval we accept (Config.MinSessionExpires, at
// least RFC 4028's 90 s).
func (u *UA) minSE() time.Duration { return max(u.cfg.MinSessionExpires, dialog.MinSessionExpires) }

// offerSession puts the session timer headers in an initial INVITE of c.
func (c *Call) offerSession(req *sip.Request) {
	c.mu.Lock()
	if c.st == nil {
		if want := c.u.sessionWant(c.line); want > 0 {
			c.st = c.newSessionTimerLocked(want)
		}
	}
	st := c.st
	c.mu.Unlock()
	if st == nil {
		return
	}
	req.Set("Session-Expires", c.u.seWire(dialog.SessionExpires{Interval: st.ask}))
	req.Set("Min-SE", c.u.seWire(dialog.SessionExpires{Interval: c.u.minSE()}))
}

// retrySession takes a 422 to our INVITE (RFC 4028 §7.3): it reports
// whether to send it again, asking for the response's Min-SE.
func (c *Call) retrySession(res *sip.Response) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		return false
	}
	min := dialog.MinSE(res)
	if min <= c.st.ask {
		return false
	}
	c.st.ask = min
	return true
}

// sessionConfirmed takes the 2xx to our INVITE: the interval and
// refresher it grants, if any (RFC 4028 §7.4), then arms the timer.
func (c *Call) sessionConfirmed(res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		return
	}
	se, err := dialog.ParseSessionExpires(res.Header("Session-Expires"))
	if err != nil {
		c.st = nil // the peer does not do session timers
		return
	}
	c.st.interval = se.Interval
	c.st.refresher = se.Refresher != dialog.RefresherUAS
	c.st.peerUpdate = allows(res, sip.UPDATE)
	c.armSessionLocked()
}

// allows reports whether a message's Allow lists m.
func allows(m sip.Message, method sip.Method) bool {
	return m.HasToken("Allow", string(method))
}

// sessionTooSmall returns the Min-SE to answer 422 with when req asks for
// an interval below ours, else 0.
func (u *UA) sessionTooSmall(req *sip.Request, line *Line) time.Duration {
	if u.sessionWant(line) == 0 {
		return 0
	}
	if a := dialog.AnswerSession(req, u.sessionWant(line), u.minSE()); a.TooSmall {
		return a.MinSE
	}
	return 0
}

// answerSession puts the session timer of our 2xx to req (an initial
// INVITE, a re-INVITE or an UPDATE of c) in res, and records it; the
// caller arms it (armSessionLocked) once the call exists. c.mu is held
// (or c is not shared yet).
func (c *Call) answerSessionLocked(req *sip.Request, res *sip.Response) {
	want := c.u.sessionWant(c.line)
	if c.st != nil && c.st.interval > 0 {
		want = c.st.interval
	}
	if want == 0 {
		return
	}
	a := dialog.AnswerSession(req, want, c.u.minSE())
	if a.TooSmall || a.Expires.Interval == 0 {
		return
	}
	res.Set("Session-Expires", c.u.seWire(a.Expires))
	if a.RequireTimer {
		res.Add("Require", "timer")
	}
	if c.st == nil {
		c.st = c.newSessionTimerLocked(0)
	}
	c.st.interval = a.Expires.Interval
	c.st.refresher = a.Expires.Refresher == dialog.RefresherUAS
	c.st.peerUpdate = c.st.peerUpdate || allows(req, sip.UPDATE)
}

// armSessionLocked (re)arms the call's session timer: a refresh at half
// the interval when we refresh, else the BYE at the interval less
// min(32 s, interval/3) (RFC 4028 §10). c.mu is held.
func (c *Call) armSessionLocked() {
	st := c.st
	if st == nil || st.interval == 0 || c.state == CallEnded {
		return
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.refreshing = st.refresher
	if st.refresher {
		st.timer = c.u.clock.fireIn(&st.tm, st.interval/2, (*sessionFirer)(c))
		return
	}
	st.timer = c.u.clock.fireIn(&st.tm, st.interval-min(32*time.Second, st.interval/3), (*sessionFirer)(c))
}

// stopSession disarms the session timer of an ended call.
func (c *Call) stopSessionLocked() {
	if c.st != nil && c.st.timer != nil {
		c.st.timer.Stop()
		c.st.timer = nil
	}
}

// refreshSession refreshes the session (RFC 4028 §7.4, §8): an UPDATE
// without body when the peer allows UPDATE, else a re-INVITE with our
// current SDP. A failed refresh leaves the session to expire: the BYE
// comes at the interval's end as when we are not the refresher.
func (c *Call) refreshSession() {
	c.mu.Lock()
	st := c.st
	if st == nil || c.state != CallEstablished || c.d == nil {
		c.mu.Unlock()
		return
	}
	useUpdate := st.peerUpdate
	c.mu.Unlock()
	var err error
	if useUpdate {
		err = c.updateRefresh()
	} else {
		var sdp []byte // a media session re-offers itself
		if c.media == nil {
			sdp = c.LocalSDP()
		}
		err = c.Reinvite(c.u.baseCtx, sdp)
	}
	if err != nil {
		c.u.log.Debug("session refresh failed", "call_id", c.callID, "error", err.Error())
		c.mu.Lock()
		if c.st != nil && c.state != CallEnded {
			c.st.refresher = false // expire unless the peer refreshes
			c.armSessionLocked()
		}
		c.mu.Unlock()
	}
}

// updateRefresh sends the refreshing UPDATE and applies its 2xx.
func (c *Call) updateRefresh() error {
	u := c.u
	c.mu.Lock()
	if c.state != CallEstablished || c.d == nil || c.st == nil {
		c.mu.Unlock()
		return ErrCallEnded
	}
	req, err := c.d.NewRequest(sip.UPDATE, nil, "")
	interval := c.st.interval
	c.mu.Unlock()
	if err != nil {
		return err
	}
	req.Set("Session-Expires", c.u.seWire(dialog.SessionExpires{Interval: interval, Refresher: dialog.RefresherUAC}))
	req.Set("Min-SE", c.u.seWire(dialog.SessionExpires{Interval: u.minSE()}))
	u.advertise(req)
	u.addCommon(req)
	tx, err := u.send(u.baseCtx, u.baseCtx, req, c.network)
	if err != nil {
		return err
	}
	res, err := tx.Final(u.baseCtx)
	c.mu.Lock()
	_ = c.d.ReceiveResponse(req, res)
	gone := c.d.State() == dialog.StateTerminated
	c.mu.Unlock()
	if gone {
		c.end(ErrDialogTerminated)
		return ErrDialogTerminated
	}
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return &StatusError{Response: res}
	}
	c.sessionRefreshed(res)
	return nil
}

// sessionRequest puts the session timer in a refreshing request of ours
// (a re-INVITE): Session-Expires with us as refresher.
func (c *Call) sessionRequest(req *sip.Request) {
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	if st == nil || st.interval == 0 {
		return
	}
	req.Set("Session-Expires", c.u.seWire(dialog.SessionExpires{Interval: st.interval, Refresher: dialog.RefresherUAC}))
	req.Set("Min-SE", c.u.seWire(dialog.SessionExpires{Interval: c.u.minSE()}))
}

// sessionRefreshed takes the 2xx to a refreshing request of ours: the
// interval and refresher it grants, and the timer starts again.
func (c *Call) sessionRefreshed(res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil || c.st.interval == 0 {
		return
	}
	if se, err := dialog.ParseSessionExpires(res.Header("Session-Expires")); err == nil {
		c.st.interval = se.Interval
		c.st.refresher = se.Refresher != dialog.RefresherUAS
	}
	c.armSessionLocked()
}

// seValue is a Session-Expires (or Min-SE) value with its wire form.
type seValue struct {
	se   dialog.SessionExpires
	wire string
}

// seWireKept is how many Session-Expires and Min-SE values a UA keeps
// formatted: a UA's calls mostly offer, grant and bound the same few.
const seWireKept = 4

// seWire returns se's wire form, kept for the last seWireKept values
// made, so a call's session timer headers are not formatted each time.
func (u *UA) seWire(se dialog.SessionExpires) string {
	for i := range u.seLast {
		if v := u.seLast[i].Load(); v != nil && v.se == se {
			return v.wire
		}
	}
	v := &seValue{se: se, wire: se.String()}
	u.seLast[u.seNext.Add(1)%uint32(len(u.seLast))].Store(v)
	return v.wire
}
