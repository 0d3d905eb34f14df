package rtp

import (
	"net/netip"
	"time"
)

// PacketTrace is one RTP or RTCP datagram of a Session, as its
// SessionConfig.Tracer sees it.
type PacketTrace struct {
	// Time is when the datagram was handed to the socket (Sent) or read
	// from it (its kernel arrival time where the platform gives one).
	Time time.Time
	// Sent is true for a datagram the session sent, false for one it
	// received.
	Sent bool
	// RTCP tells an RTCP packet from an RTP one (RFC 5761 §4: by the
	// packet type octet; everything read on the RTCP socket is RTCP).
	RTCP bool
	// Local is the session's socket the datagram left from or arrived on
	// (an unspecified address when the session binds every interface);
	// Remote is the peer's address.
	Local, Remote netip.AddrPort
	// Data is the datagram. It is only valid during the TracePacket call:
	// copy it to keep it.
	Data []byte
}

// PacketTracer sees every datagram a Session sends and receives, for
// captures and debugging: a host can, for example, write them into the
// same pcap file as its SIP messages (transport.PcapTracer takes them as
// UDP TraceEvents). TracePacket is called from the engine worker that
// ticks the session (and from Close, for the final RTCP BYE; from the
// socket readers where the platform has them), possibly concurrently for
// different sessions, and must not block: it holds up the media of every
// session of that worker. Datagrams are traced as they are handed to the
// socket, so a send that fails is traced too (SessionStats.SendErrors
// counts those).
type PacketTracer interface {
	TracePacket(p PacketTrace)
}

// traceOut traces the packets queued in s.tx.out and not yet in the
// worker's send batch, about to be sent at now. It runs on the engine
// worker without the session lock.
func (s *Session) traceOut(now time.Time) {
	t := s.cfg.Tracer
	if t == nil || s.socks == nil {
		return
	}
	for i := s.tx.batched; i < len(s.tx.out); i++ {
		o := &s.tx.out[i]
		s.tracePacket(now, true, o.onRTCP || isRTCP(o.b), o.onRTCP, o.to, o.b)
	}
}

// traceIn traces a datagram read at now from from, on the RTCP socket
// when rtcpSock is set.
func (s *Session) traceIn(now time.Time, rtcpSock bool, from netip.AddrPort, b []byte) {
	if s.cfg.Tracer != nil {
		s.tracePacket(now, false, rtcpSock || isRTCP(b), rtcpSock, from, b)
	}
}

func (s *Session) tracePacket(now time.Time, sent, rtcp, rtcpSock bool, remote netip.AddrPort, b []byte) {
	s.cfg.Tracer.TracePacket(PacketTrace{
		Time:   now,
		Sent:   sent,
		RTCP:   rtcp,
		Local:  s.socks.LocalAddr(rtcpSock),
		Remote: remote,
		Data:   b,
	})
}
