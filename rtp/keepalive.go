package rtp

import (
	"strings"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// cnSilenceLevel is the noise level of the comfort-noise packets sent
// while the host plays nothing: 127, i.e. −127 dBov, the digital silence
// the session would otherwise send (RFC 3389 §3).
const cnSilenceLevel = 127

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

// appendKeepAliveLocked queues one keep-alive with timestamp ts: a
// comfort-noise packet when CN was negotiated, else a frame of silence.
func (s *Session) appendKeepAliveLocked(ts uint32) {
	if !s.hasCN {
		s.appendAudioLocked(s.tx.silence[:s.frameSamples], ts)
		return
	}
	t := &s.tx
	h := &t.hdr
	h.Version = 2
	h.Padding = false
	h.Extension = false
	h.Marker = false
	h.PayloadType = s.cnPT
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
	buf = append(buf[:n], cnSilenceLevel)
	t.seq++
	t.out = append(t.out, outPacket{b: buf, to: s.rtpDest})
	t.packets++
	t.octets++
	s.rtcp.weSent = true
}
