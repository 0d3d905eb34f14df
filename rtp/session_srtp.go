package rtp

import (
	"fmt"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// SRTP in the session (RFC 3711): every RTP and RTCP packet is protected
// in its own send buffer just before it is queued, and every datagram read
// is unprotected in place before it is parsed. Packets refused (replayed,
// failing authentication, malformed) are dropped and counted in
// SessionStats.SRTP. Traces (SessionConfig.Tracer) see the packets as
// they are on the wire, encrypted.

// SetSRTP secures the session's media with SRTP and SRTCP keyed by cfg
// (the local keys protect what we send, the remote keys unprotect what we
// receive), from the next packet on; nil turns SRTP off. A cfg with the
// keys already in use keeps the current context, with its rollover counter
// and replay window, so a re-INVITE that repeats its keys changes nothing;
// new keys (a re-key) start a new one. Invalid keys give an error wrapping
// srtp.ErrContextConfig, and nothing changes.
func (s *Session) SetSRTP(cfg *srtp.ContextConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if cfg == nil {
		if old := s.sec.Swap(nil); old != nil {
			s.retireSRTPLocked(old)
		}
		return nil
	}
	if cur := s.sec.Load(); cur != nil && cur.SameKeys(*cfg) {
		return nil
	}
	c, err := srtp.NewContext(*cfg)
	if err != nil {
		return fmt.Errorf("rtp: SRTP: %w", err)
	}
	if old := s.sec.Swap(c); old != nil {
		s.retireSRTPLocked(old)
	}
	s.debug("srtp on", "suite", cfg.Local.Suite.String()) // never the keys
	return nil
}

// SRTPEnabled reports whether the session's media is secured (SetSRTP).
func (s *Session) SRTPEnabled() bool { return s.sec.Load() != nil }

// SRTPSuite is the suite securing the session's media, by SDES or
// DTLS-SRTP; zero when it is plain.
func (s *Session) SRTPSuite() srtp.Suite {
	if c := s.sec.Load(); c != nil {
		return c.Suite()
	}
	return 0
}

// retireSRTPLocked keeps the counters of a context being replaced.
func (s *Session) retireSRTPLocked(old *srtp.Context) {
	st := old.Stats()
	s.srtpPast.RTP = addCounters(s.srtpPast.RTP, st.RTP)
	s.srtpPast.RTCP = addCounters(s.srtpPast.RTCP, st.RTCP)
}

func addCounters(a, b srtp.Counters) srtp.Counters {
	return srtp.Counters{
		Protected: a.Protected + b.Protected, Unprotected: a.Unprotected + b.Unprotected,
		Replayed: a.Replayed + b.Replayed, AuthFailed: a.AuthFailed + b.AuthFailed, Malformed: a.Malformed + b.Malformed,
	}
}

// srtpStatsLocked is the SRTP counters of the session's lifetime.
func (s *Session) srtpStatsLocked() srtp.Stats {
	st := s.srtpPast
	if c := s.sec.Load(); c != nil {
		cur := c.Stats()
		st.RTP = addCounters(st.RTP, cur.RTP)
		st.RTCP = addCounters(st.RTCP, cur.RTCP)
	}
	return st
}

// queueOutLocked queues an outgoing packet, protected in its own buffer
// when SRTP is on; a packet that cannot be protected is counted as a send
// error and dropped. RTCP waiting for its DTLS keys is dropped.
func (s *Session) queueOutLocked(o outPacket, rtcp bool) {
	if rtcp && s.dtls.rtcpPending.Load() {
		return // SRTCP waits for the RTCP port's DTLS association
	}
	if c := s.sec.Load(); c != nil {
		var err error
		if rtcp {
			o.b, err = c.ProtectRTCP(o.b[:0], o.b)
		} else {
			o.b, err = c.ProtectRTP(o.b[:0], o.b)
		}
		if err != nil {
			s.tx.sendErrors++
			return
		}
	} else if s.waitingForKeys() {
		return // no plain media while DTLS-SRTP keys are pending
	}
	s.tx.out = append(s.tx.out, o)
}

// protectByeLocked protects the closing RTCP BYE; nil if it cannot be.
func (s *Session) protectByeLocked(b []byte) []byte {
	c := s.sec.Load()
	if (c == nil && s.waitingForKeys()) || s.dtls.rtcpPending.Load() {
		return nil
	}
	if c == nil || b == nil {
		return b
	}
	b, err := c.ProtectRTCP(b[:0], b)
	if err != nil {
		return nil
	}
	return b
}

// unprotect unprotects a datagram in place when SRTP is on; ok is false
// for a refused one (counted by the context).
func (s *Session) unprotect(pkt []byte, rtcp bool) ([]byte, bool) {
	if rtcp && s.dtls.rtcpPending.Load() {
		return pkt, false // SRTCP waits for the RTCP port's DTLS association
	}
	c := s.sec.Load()
	if c == nil {
		return pkt, !s.waitingForKeys()
	}
	var err error
	if rtcp {
		pkt, err = c.UnprotectRTCP(pkt[:0], pkt)
	} else {
		pkt, err = c.UnprotectRTP(pkt[:0], pkt)
	}
	return pkt, err == nil
}
