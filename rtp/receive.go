package rtp

import (
	"net/netip"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/jitter"
)

// isRTCP tells RTCP from RTP on a multiplexed port by the packet type
// octet (RFC 5761 §4): RTCP packet types 192-223.
func isRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }

// arrivalUnits returns now in RTP timestamp units since the session began,
// for the jitter estimate (RFC 3550 §A.8).
func (s *Session) arrivalUnits(now time.Time) uint32 {
	return uint32(now.Sub(s.epoch).Nanoseconds() * int64(s.codec.clockRate()) / int64(time.Second))
}

// handleRTP processes one RTP packet b from from, received at now, with h
// as scratch, and appends the DTMF digits that ended to digits.
// Audio (PCMU, PCMA) goes to the jitter buffer and telephone events to the
// DTMF receiver; other payload types are counted and ignored, and so are
// packets that are not RTP version 2.
func (s *Session) handleRTP(h *pionrtp.Header, b []byte, from netip.AddrPort, now time.Time, digits []dtmf.Digit) []dtmf.Digit {
	n, err := h.Unmarshal(b)
	bad := err != nil || h.Version != 2
	var payload []byte
	if !bad {
		payload = b[n:]
		if h.Padding {
			// RFC 3550 §5.1: the last octet counts the padding, itself included.
			if pad := len(payload); pad == 0 || payload[pad-1] == 0 || int(payload[pad-1]) > pad {
				bad = true
			} else {
				payload = payload[:pad-int(payload[pad-1])]
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bad {
		s.rx.malformed++
		return digits
	}
	isEvent := s.hasTE && h.PayloadType == s.tePT
	isCN := s.hasCN && h.PayloadType == s.cnPT
	if !isEvent && !isCN && !s.codec.accepts(h.PayloadType) {
		s.rx.unknownPT++
		return digits
	}
	if !s.cfg.DisableSymmetric && !s.rtpLatched && from.IsValid() {
		if s.rtpDest != from {
			s.debug("rtp latched", "raddr", from.String(), "signalled", s.signalledRTP.String())
		}
		s.rtpDest = from
		s.rtpLatched = true
		if s.rtcpOnRTP || s.remoteMux {
			s.rtcpDest = from
			s.rtcpLatched = true
		}
	}
	if !s.haveRemote || h.SSRC != s.remoteSSRC {
		s.haveRemote = true
		s.remoteSSRC = h.SSRC
		s.src = newSourceStats(h.SequenceNumber)
		s.dtmfRx.Reset()
	}
	s.src.updateSeq(h.SequenceNumber)
	s.rx.packets++
	s.rx.octets += uint64(len(payload))
	s.rtcp.remoteSent = true
	if isEvent {
		digits, _ = s.dtmfRx.Push(digits, now, h.Timestamp, payload)
		h.Timestamp = s.codec.jitterTS(h.Timestamp)
		s.jb.Skip(h, now) // its sequence number is not lost audio
		return digits
	}
	if isCN {
		s.handleComfortNoiseLocked(h, payload, now)
		return digits
	}
	s.audioArrivedLocked()
	s.src.updateJitter(h.Timestamp, s.arrivalUnits(now))
	h.Timestamp = s.codec.jitterTS(h.Timestamp)
	if s.codec.op != nil {
		s.recoverOpusLocked(h, payload, now)
	}
	if err := s.jb.Push(h, payload, now); err != nil {
		s.rx.undecodable++
	}
	return digits
}

// playoutLocked plays out one frame at the tick with deadline into the
// receive queue: the jitter buffer's frame, or comfort noise (after the
// peer's CN packet) or silence when it has none.
func (s *Session) playoutLocked(deadline time.Time) {
	// Without a rate conversion the frame is decoded straight into the
	// receive queue's next slot, which push then finds in place.
	inPlace := s.hostConv.toHost == nil && cap(s.rx.q.tail()) >= s.frameSamples
	dst := s.rx.pcm[:0]
	if inPlace {
		dst = s.rx.q.tail()
	}
	frame, st := s.jb.Pop(deadline, dst)
	if st == jitter.Empty {
		frame = s.emptyFrameLocked()
	} else {
		if !inPlace {
			s.rx.pcm = frame[:0]
		}
		frame = s.toHostRateLocked(frame)
		s.audioPlayedLocked()
	}
	if _, dropped := s.rx.q.push(frame, 0, true); dropped {
		s.rx.overruns++
	}
}
