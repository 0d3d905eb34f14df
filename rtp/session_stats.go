package rtp

import (
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// SessionStats is a snapshot of a session's counters (RFC 3550 §6.4).
type SessionStats struct {
	// SSRC and CNAME identify our stream; RemoteSSRC the peer's, once a
	// packet arrived.
	SSRC       uint32
	RemoteSSRC uint32
	CNAME      string
	// Remote is where RTP goes now; Latched reports that it was learnt
	// from received packets (symmetric RTP).
	Remote  netip.AddrPort
	Latched bool
	// Direction and Ptime in effect.
	Direction sdp.Direction
	Ptime     time.Duration
	// PacketsSent and OctetsSent count RTP packets and payload octets
	// sent (as in an SR), including telephone events.
	PacketsSent, OctetsSent uint64
	// PacketsReceived and OctetsReceived count valid RTP packets and their
	// payload octets.
	PacketsReceived, OctetsReceived uint64
	// PacketsLost is the cumulative number of the peer's packets lost
	// (RFC 3550 §6.4.1; negative with duplicates), FractionLost the share
	// lost since the previous report we sent.
	PacketsLost  int64
	FractionLost float64
	// Jitter is our interarrival jitter estimate of the peer's stream
	// (RFC 3550 §6.4.1, §A.8).
	Jitter time.Duration
	// SendLateness is how late the pacing sender sent frames.
	SendLateness LatenessHistogram
	// FramesSkipped counts frame periods the sender missed entirely (more
	// than SendMaxCatchUpFrames late). FramesDiscarded counts queued frames
	// not sent: hold, no remote, DTMF in progress, skipped periods.
	FramesSkipped, FramesDiscarded uint64
	// PlayoutOverruns counts received frames dropped because nobody read
	// them in time.
	PlayoutOverruns uint64
	// Malformed, UnknownPayload and Undecodable count received RTP packets
	// ignored; SendErrors and ReadErrors socket errors.
	Malformed, UnknownPayload, Undecodable uint64
	// OpusFECRecovered counts lost Opus packets rebuilt from the next
	// packet's in-band FEC, OpusConcealed the ones before them in a gap
	// concealed by the Opus decoder, OpusDTXFrames the frames Opus DTX did
	// not send (usedtx=1).
	OpusFECRecovered, OpusConcealed, OpusDTXFrames uint64
	// STUNReceived counts STUN messages read on the media sockets (first
	// byte 0-3, RFC 7983) and consumed: answers to DiscoverMapping and
	// anything else of STUN; they are never counted as Malformed.
	STUNReceived           uint64
	SendErrors, ReadErrors uint64
	// DTMFPacketsSent counts telephone-event packets sent; DTMFReceived
	// and DTMFDropped count received digits delivered and dropped.
	DTMFPacketsSent uint64
	// SilenceFramesSent counts the frames of silence sent because the host
	// played nothing (SessionConfig.SuppressSilence off, CN not
	// negotiated). KeepAlivesSent counts the RFC 6263 keep-alives sent
	// while the host played nothing or the direction kept us from sending
	// media (SessionConfig.IdleKeepAlive). ComfortNoiseSent counts RFC 3389
	// packets sent (keep-alives and ends of talkspurts);
	// ComfortNoiseReceived those received, which play as comfort noise.
	SilenceFramesSent, KeepAlivesSent      uint64
	ComfortNoiseSent, ComfortNoiseReceived uint64
	DTMFReceived, DTMFDropped              uint64
	// SRTP counts packets protected, unprotected and refused (replayed,
	// failing authentication, malformed) while SRTP was on (SetSRTP).
	SRTP srtp.Stats
	// DTLS counts the DTLS-SRTP handshakes (HandshakeDTLS).
	DTLS DTLSStats
	// Playout are the jitter buffer's statistics.
	Playout jitter.Stats
	// RTCP are the report statistics, including the round-trip time.
	RTCP RTCPStats
}

// Stats returns a snapshot of the session's statistics.
func (s *Session) Stats() SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Session) statsLocked() SessionStats {
	st := SessionStats{
		SSRC:                 s.ssrc,
		CNAME:                s.cname,
		Remote:               s.rtpDest,
		Latched:              s.rtpLatched,
		Direction:            s.dir,
		Ptime:                s.ptime,
		PacketsSent:          s.tx.packets,
		OctetsSent:           s.tx.octets,
		PacketsReceived:      s.rx.packets,
		OctetsReceived:       s.rx.octets,
		SendLateness:         s.tx.late,
		FramesSkipped:        s.tx.skipped,
		FramesDiscarded:      s.tx.discarded,
		PlayoutOverruns:      s.rx.overruns,
		Malformed:            s.rx.malformed,
		STUNReceived:         s.rx.stun,
		UnknownPayload:       s.rx.unknownPT,
		Undecodable:          s.rx.undecodable,
		OpusFECRecovered:     s.rx.fecRecovered,
		OpusConcealed:        s.rx.plcConcealed,
		OpusDTXFrames:        s.tx.dtxFrames,
		SendErrors:           s.tx.sendErrors,
		ReadErrors:           s.readErrors.Load(),
		DTMFPacketsSent:      s.tx.dtmfSent,
		KeepAlivesSent:       s.tx.keepAlives,
		ComfortNoiseSent:     s.tx.cnSent,
		ComfortNoiseReceived: s.rx.cn.packets,
		DTMFReceived:         s.dtmfReceived.Load(),
		DTMFDropped:          s.dtmfDropped.Load(),
		Playout:              s.jb.Stats(),
		SRTP:                 s.srtpStatsLocked(),
		DTLS:                 s.DTLSStats(),
		RTCP:                 s.rtcp.stats,
	}
	if s.haveRemote {
		st.RemoteSSRC = s.remoteSSRC
		st.PacketsLost = s.src.cumulativeLost()
		st.FractionLost = float64(s.rtcp.reportBlocks[0].FractionLost) / 256
		st.Jitter = time.Duration(uint64(s.src.jitterUnits()) * uint64(time.Second) / uint64(s.codec.clockRate()))
	}
	return st
}
