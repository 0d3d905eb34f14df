package rtp

import (
	"slices"
	"strings"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// cnSilenceLevel is the noise level of the comfort-noise packets sent
// while the host plays nothing: 127, i.e. −127 dBov, the digital silence
// the session would otherwise send (RFC 3389 §3).
const cnSilenceLevel = 127

// Dynamic payload types (RFC 3551 §3), among which the keep-alive of RFC
// 6263 §4.6 takes one the answer did not map.
const (
	dynamicPTFirst = 96
	dynamicPTLast  = 127
)

// comfortNoise returns the payload type of the RFC 3389 comfort-noise
// format among codecs at the audio clock rate, if negotiated.
func comfortNoise(codecs []audio.Codec, rate uint32) (uint8, bool) {
	if rate == 0 {
		rate = audio.SampleRate
	}
	for _, c := range codecs {
		if strings.EqualFold(c.Name, "CN") && (c.ClockRate == rate || c.ClockRate == 0) {
			return c.PayloadType, true
		}
	}
	return 0, false
}

// unmappedPT returns a dynamic payload type that none of codecs nor the
// payload types in use maps: the payload type of the RFC 6263 §4.6
// keep-alive. With all 32 taken (no real answer does that), 127.
func unmappedPT(codecs []audio.Codec, used ...uint8) uint8 {
	for pt := uint8(dynamicPTFirst); pt <= dynamicPTLast; pt++ {
		taken := slices.Contains(used, pt) ||
			slices.ContainsFunc(codecs, func(c audio.Codec) bool { return c.PayloadType == pt })
		if !taken {
			return pt
		}
	}
	return dynamicPTLast
}

// keepAliveDueLocked reports whether the tick with deadline is to send a
// keep-alive: the session sent no RTP for IdleKeepAlive (or ever).
func (s *Session) keepAliveDueLocked(deadline time.Time) bool {
	d := s.cfg.IdleKeepAlive
	if d < 0 {
		return false
	}
	if d == 0 {
		d = DefaultIdleKeepAlive
	}
	return s.tx.lastRTPAt.IsZero() || deadline.Sub(s.tx.lastRTPAt) >= d
}

// canReachLocked reports whether the peer's RTP address is known and
// usable, whatever the direction: where keep-alives go on hold.
func (s *Session) canReachLocked() bool {
	return s.remoteSet && s.rtpDest.IsValid() && !s.rtpDest.Addr().IsUnspecified()
}

// appendKeepAliveLocked queues one keep-alive with timestamp ts: a
// comfort-noise packet when CN was negotiated (RFC 6263 §4.2); else,
// when the direction lets us send media, a frame of silence, and when it
// does not (hold), an RTP packet without payload of an unmapped dynamic
// payload type (RFC 6263 §4.6: same SSRC, the next sequence number, the
// media's timestamp, no marker).
func (s *Session) appendKeepAliveLocked(ts uint32, mediaAllowed bool) {
	switch {
	case s.hasCN:
		s.appendComfortNoiseLocked(ts)
	case mediaAllowed:
		s.appendAudioLocked(s.tx.silence[:s.frameSamples], ts)
	default:
		s.appendBareLocked(s.kaPT, ts, nil)
	}
	s.tx.keepAlives++
}

// appendComfortNoiseLocked queues an RFC 3389 comfort-noise packet of
// level cnSilenceLevel with timestamp ts: the noise level octet alone,
// without spectral information (RFC 3389 §3).
func (s *Session) appendComfortNoiseLocked(ts uint32) {
	s.appendBareLocked(s.cnPT, ts, []byte{cnSilenceLevel})
	s.tx.cnSent++
}

// appendBareLocked queues an RTP packet of payload type pt, timestamp ts
// and the given payload, without the marker bit.
func (s *Session) appendBareLocked(pt uint8, ts uint32, payload []byte) {
	t := &s.tx
	h := &t.hdr
	h.Version = 2
	h.Padding = false
	h.Extension = false
	h.Marker = false
	h.PayloadType = pt
	h.SequenceNumber = t.seq
	h.Timestamp = ts
	h.SSRC = s.ssrc
	buf := t.outBuf()
	buf = buf[:h.MarshalSize()]
	n, err := h.MarshalTo(buf)
	if err != nil {
		t.sendErrors++
		return
	}
	buf = append(buf[:n], payload...)
	t.seq++
	s.queueOutLocked(outPacket{b: buf, to: s.rtpDest}, false)
	t.packets++
	t.octets += uint64(len(payload))
	s.rtcp.weSent = true
}
