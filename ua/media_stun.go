package ua

import (
	"context"

	"github.com/dialtone/dialtone/rtp"
)

// STUN for the media sockets (issue 14 §2; RFC 8489): a call of a line
// with a STUN server announces in its SDP (c=, m=, and a=rtcp when the NAT
// did not keep the RTP+1 pairing, RFC 3605) the public mapping of its RTP
// and RTCP sockets, learnt by binding requests sent from those very
// sockets. rtp.Session consumes the answers among the RTP it reads (RFC
// 7983 first byte). A server that does not answer within
// MediaConfig.STUNTimeout leaves the SDP on the Contact's address: the
// registrar's received/rport, or the SIP socket's STUN mapping.

// mediaMapping asks line's STUN server for the public side of sess's
// sockets; ok is false when the line has none, media STUN is off, or the
// server did not answer in time.
func (u *UA) mediaMapping(ctx context.Context, line *Line, sess *rtp.Session) (rtp.Mapping, bool) {
	timeout := u.cfg.Media.STUNTimeout
	if line == nil || line.cfg.STUNServer == "" || timeout < 0 {
		return rtp.Mapping{}, false
	}
	if timeout == 0 {
		timeout = DefaultMediaSTUNTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	srv, err := line.stunServer(ctx)
	if err != nil {
		u.log.Warn("media: STUN server unusable; announcing the Contact's address", "server", line.cfg.STUNServer, "error", err.Error())
		return rtp.Mapping{}, false
	}
	m, err := sess.DiscoverMapping(ctx, srv)
	if err != nil {
		u.log.Warn("media: no STUN mapping for the RTP socket; announcing the Contact's address",
			"server", srv.String(), "local", sess.LocalAddr().String(), "error", err.Error())
		return rtp.Mapping{}, false
	}
	if a := m.RTP.Addr(); a.IsUnspecified() || a.IsMulticast() {
		u.log.Warn("media: STUN mapping unusable", "mapped", m.RTP.String())
		return rtp.Mapping{}, false
	}
	u.log.Debug("media: STUN mapping", "local", sess.LocalAddr().String(), "rtp", m.RTP.String(), "rtcp", m.RTCP.String())
	return m, true
}
