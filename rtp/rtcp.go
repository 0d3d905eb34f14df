package rtp

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/pion/rtcp"
)

// RTCP timing and bandwidth settings (RFC 3550 §6.2, §6.3).
const (
	// RTCPDefaultMinInterval is the minimum interval between RTCP reports
	// Tmin of RFC 3550 §6.2, used when SessionConfig.RTCPInterval is zero.
	// The first report comes after half of it (§6.3.1, "initial").
	RTCPDefaultMinInterval = 5 * time.Second
	// RTCPBandwidthFraction is the share of the session bandwidth given to
	// RTCP (RFC 3550 §6.2).
	RTCPBandwidthFraction = 0.05
	// RTCPSenderBandwidthFraction is the share of the RTCP bandwidth given
	// to senders when they are at most this share of the members
	// (RFC 3550 §6.3.1, RTCP_SENDER_BW_FRACTION).
	RTCPSenderBandwidthFraction = 0.25
	// rtcpCompensation is e - 3/2, which divides the randomized interval to
	// compensate for timer reconsideration (RFC 3550 §6.3.1, §A.7).
	rtcpCompensation = math.E - 1.5
	// rtcpInitialAvgSize is the assumed size of the first RTCP packet, in
	// octets with UDP and IP headers: an SR with one report block, a CNAME
	// and the 28-byte UDP/IPv4 header.
	rtcpInitialAvgSize = 100
	// rtcpIPUDPOverhead is what UDP over IPv4 adds to an RTCP packet for the
	// average size (RFC 3550 §6.2: sizes include lower-layer headers).
	rtcpIPUDPOverhead = 28
)

// RFC 3550 §A.1 sequence number validation constants.
const (
	rtpMaxDropout    = 3000
	rtpMaxMisorder   = 100
	rtpMinSequential = 2
	rtpSeqMod        = 1 << 16
)

// rtcpIntervalParams are the inputs of the RFC 3550 §6.3.1 interval
// computation (§A.7 rtcp_interval).
type rtcpIntervalParams struct {
	members     int           // session members, including us
	senders     int           // members that sent RTP recently, including us
	bandwidth   float64       // RTCP bandwidth in octets per second
	avgSize     float64       // average compound RTCP size in octets (avg_rtcp_size)
	weSent      bool          // we sent RTP in the last two intervals
	initial     bool          // no RTCP packet sent yet
	minInterval time.Duration // Tmin; 0 means RTCPDefaultMinInterval
}

// rtcpInterval returns the time until the next RTCP report per RFC 3550
// §6.3.1: the deterministic interval Td from the members, the senders and
// the RTCP bandwidth, at least Tmin (halved for the first report), scaled by
// a factor uniform in [0.5, 1.5) — u is a uniform random number in [0, 1) —
// and divided by e-3/2. It is a pure function.
func rtcpInterval(p rtcpIntervalParams, u float64) time.Duration {
	tmin := p.minInterval
	if tmin <= 0 {
		tmin = RTCPDefaultMinInterval
	}
	minSec := tmin.Seconds()
	if p.initial {
		minSec /= 2
	}
	n := float64(max(p.members, 1))
	bw := p.bandwidth
	if float64(p.senders) <= float64(p.members)*RTCPSenderBandwidthFraction {
		if p.weSent {
			bw *= RTCPSenderBandwidthFraction
			n = float64(max(p.senders, 1))
		} else {
			bw *= 1 - RTCPSenderBandwidthFraction
			n -= float64(p.senders)
		}
	}
	td := minSec
	if bw > 0 {
		td = max(p.avgSize*n/bw, minSec)
	}
	u = min(max(u, 0), 1)
	t := td * (u + 0.5) / rtcpCompensation
	return time.Duration(t * float64(time.Second))
}

// ntpEpochOffset is the number of seconds from the NTP epoch (1900) to the
// Unix epoch (1970).
const ntpEpochOffset = 2208988800

// ntpTime returns t as a 64-bit NTP timestamp (RFC 3550 §4): seconds since
// 1900 in the high 32 bits, the fraction in the low 32 bits.
func ntpTime(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return sec<<32 | frac
}

// ntpCompact returns the middle 32 bits of an NTP timestamp, the form of
// LSR and of the arrival time in the RTT computation (RFC 3550 §6.4.1).
func ntpCompact(ntp uint64) uint32 { return uint32(ntp >> 16) }

// compactDuration converts a duration to units of 1/65536 s (DLSR).
func compactDuration(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32((uint64(d) << 16) / uint64(time.Second))
}

// roundTripTime returns the round-trip time from a report block received
// when the compact NTP time was arrival, carrying LSR lsr and DLSR dlsr
// (RFC 3550 §6.4.1, figure 2: A - LSR - DLSR). It returns false when the
// block carries no LSR (the peer has seen no SR of ours) or when the result
// would be negative, which clock steps can cause.
func roundTripTime(arrival, lsr, dlsr uint32) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	rtt := arrival - lsr - dlsr
	if rtt >= 1<<31 {
		return 0, false
	}
	return time.Duration((uint64(rtt) * uint64(time.Second)) >> 16), true
}

// sourceStats are the reception statistics of one remote source: sequence
// validation per RFC 3550 §A.1, loss per §A.3 and interarrival jitter per
// §A.8. It is a passive value owned by the session.
type sourceStats struct {
	maxSeq        uint16
	cycles        uint32
	baseSeq       uint32
	badSeq        uint32
	probation     int
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
	transit       int32
	jitter        uint32 // scaled by 16 (§A.8)
	haveTransit   bool
}

// newSourceStats starts the statistics of a source whose first packet has
// sequence number seq, on probation (§A.1).
func newSourceStats(seq uint16) sourceStats {
	var s sourceStats
	s.initSeq(seq)
	s.maxSeq = seq - 1
	s.probation = rtpMinSequential
	return s
}

func (s *sourceStats) initSeq(seq uint16) {
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = rtpSeqMod + 1
	s.cycles = 0
	s.received = 0
	s.receivedPrior = 0
	s.expectedPrior = 0
}

// updateSeq validates sequence number seq (§A.1 update_seq) and reports
// whether the packet counts as a valid one of the source.
func (s *sourceStats) updateSeq(seq uint16) bool {
	udelta := seq - s.maxSeq
	if s.probation > 0 {
		if seq == s.maxSeq+1 {
			s.probation--
			s.maxSeq = seq
			if s.probation == 0 {
				s.initSeq(seq)
				s.received++
				return true
			}
		} else {
			s.probation = rtpMinSequential - 1
			s.maxSeq = seq
		}
		return false
	}
	switch {
	case udelta < rtpMaxDropout:
		if seq < s.maxSeq {
			s.cycles += rtpSeqMod // wrapped
		}
		s.maxSeq = seq
	case uint32(udelta) <= rtpSeqMod-rtpMaxMisorder:
		// A large jump: accept it only when the next packet confirms it.
		if uint32(seq) == s.badSeq {
			s.initSeq(seq)
		} else {
			s.badSeq = (uint32(seq) + 1) & (rtpSeqMod - 1)
			return false
		}
	default:
		// Duplicate or reordered packet.
	}
	s.received++
	return true
}

// updateJitter adds one packet with RTP timestamp ts that arrived at
// arrival, in timestamp units, to the jitter estimate (§6.4.1, §A.8).
func (s *sourceStats) updateJitter(ts, arrival uint32) {
	transit := int32(arrival - ts)
	if !s.haveTransit {
		s.transit = transit
		s.haveTransit = true
		return
	}
	d := transit - s.transit
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += uint32(d) - ((s.jitter + 8) >> 4)
}

// extendedMax returns the extended highest sequence number received.
func (s *sourceStats) extendedMax() uint32 { return s.cycles + uint32(s.maxSeq) }

// cumulativeLost returns the packets lost since the start (§A.3); it is
// negative when duplicates outnumber losses.
func (s *sourceStats) cumulativeLost() int64 {
	if s.probation > 0 {
		return 0
	}
	expected := int64(s.extendedMax()) - int64(s.baseSeq) + 1
	return expected - int64(s.received)
}

// jitterUnits returns the interarrival jitter in timestamp units.
func (s *sourceStats) jitterUnits() uint32 { return s.jitter >> 4 }

// report returns the reception report block for ssrc and starts a new
// interval for the fraction lost (§6.4.1, §A.3).
func (s *sourceStats) report(ssrc uint32) rtcp.ReceptionReport {
	expected := s.extendedMax() - s.baseSeq + 1
	expectedInterval := expected - s.expectedPrior
	s.expectedPrior = expected
	receivedInterval := s.received - s.receivedPrior
	s.receivedPrior = s.received
	lostInterval := int64(expectedInterval) - int64(receivedInterval)
	var fraction uint8
	if expectedInterval != 0 && lostInterval > 0 {
		fraction = uint8((lostInterval << 8) / int64(expectedInterval))
	}
	lost := s.cumulativeLost()
	// The field is a 24-bit signed number (§6.4.1): clamp it.
	lost = min(max(lost, -0x800000), 0x7FFFFF)
	return rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xFFFFFF,
		LastSequenceNumber: s.extendedMax(),
		Jitter:             s.jitterUnits(),
	}
}

// totalLost decodes the 24-bit signed cumulative loss of a report block.
func totalLost(v uint32) int64 {
	v &= 0xFFFFFF
	if v&0x800000 != 0 {
		return int64(v) - 0x1000000
	}
	return int64(v)
}

// RTCPStats are the RTCP-derived statistics of a session (RFC 3550 §6.4).
type RTCPStats struct {
	// Sent and Received count compound RTCP packets.
	Sent, Received uint64
	// Malformed counts RTCP packets that failed to parse.
	Malformed uint64
	// RemoteCNAME is the peer's SDES CNAME (RFC 3550 §6.5.1), once known.
	RemoteCNAME string
	// RemoteBye reports that the peer sent an RTCP BYE (RFC 3550 §6.6).
	RemoteBye bool
	// RemotePacketsSent and RemoteOctetsSent are the counters of the peer's
	// last sender report (RFC 3550 §6.4.1).
	RemotePacketsSent, RemoteOctetsSent uint32
	// HaveRemoteReport reports that the peer sent a report block about our
	// stream; the Remote* fields below come from its latest one.
	HaveRemoteReport bool
	// RemoteFractionLost is the share of our packets the peer lost in its
	// last report interval, in [0, 1).
	RemoteFractionLost float64
	// RemotePacketsLost is the peer's cumulative loss of our packets.
	RemotePacketsLost int64
	// RemoteJitter is the peer's interarrival jitter estimate of our stream.
	RemoteJitter time.Duration
	// RTT is the latest round-trip time computed from LSR and DLSR
	// (RFC 3550 §6.4.1); zero until one is known (it needs an SR of ours
	// and a report of the peer's that refers to it). On loopback it may
	// stay zero: the units are 1/65536 s (about 15 µs).
	RTT time.Duration
	// SRsEchoed counts the peer's report blocks that named an SR of ours
	// (a non-zero LSR): proof the peer read our reports, each an RTT sample.
	SRsEchoed uint64
	// NextReport is the time of the next scheduled report.
	NextReport time.Time
}

// rtcpState is the session's RTCP bookkeeping, guarded by Session.mu.
type rtcpState struct {
	stats        RTCPStats
	next         time.Time
	initial      bool
	avgSize      float64
	weSent       bool // RTP sent since the previous report
	weSentPrev   bool // … or in the interval before it
	remoteSent   bool
	lastSR       uint32    // compact NTP of the peer's last SR
	lastSRAt     time.Time // when it arrived
	reportBlocks [1]rtcp.ReceptionReport
}

// rtcpBandwidth returns the RTCP bandwidth in octets per second: the
// configured bits per second, or RTCPBandwidthFraction of the bandwidth of
// the G.711 stream at ptime (payload, RTP, UDP and IPv4 headers).
func rtcpBandwidth(cfgBits int, ptime time.Duration) float64 {
	if cfgBits > 0 {
		return float64(cfgBits) / 8
	}
	frameBytes := float64(audio.SampleRate)*ptime.Seconds() + 12 + 8 + 20
	session := frameBytes / ptime.Seconds() // octets per second
	return session * RTCPBandwidthFraction
}

// scheduleRTCPLocked sets the time of the next report after one sent (or
// the first) at now.
func (s *Session) scheduleRTCPLocked(now time.Time) {
	r := &s.rtcp
	members, senders := 1, 0
	if s.haveRemote {
		members++
		if r.remoteSent {
			senders++
		}
	}
	weSent := r.weSent || r.weSentPrev
	if weSent {
		senders++
	}
	p := rtcpIntervalParams{
		members:     members,
		senders:     senders,
		bandwidth:   rtcpBandwidth(s.cfg.RTCPBandwidth, s.ptime),
		avgSize:     r.avgSize,
		weSent:      weSent,
		initial:     r.initial,
		minInterval: s.cfg.RTCPInterval,
	}
	r.next = now.Add(rtcpInterval(p, randomUnit()))
	r.stats.NextReport = r.next
}

// buildRTCPLocked returns a compound RTCP packet: an SR when we sent RTP
// since the last report, else an RR, with a report block about the peer if
// we heard from it, an SDES CNAME, and a BYE when bye is set (RFC 3550
// §6.1, §6.4, §6.5.1, §6.6). It updates the reporting state.
func (s *Session) buildRTCPLocked(now time.Time, bye bool) ([]byte, error) {
	r := &s.rtcp
	var reports []rtcp.ReceptionReport
	if s.haveRemote && s.src.probation == 0 {
		rr := s.src.report(s.remoteSSRC)
		if r.lastSR != 0 {
			rr.LastSenderReport = r.lastSR
			rr.Delay = compactDuration(now.Sub(r.lastSRAt))
		}
		r.reportBlocks[0] = rr
		reports = r.reportBlocks[:1]
	}
	pkts := make([]rtcp.Packet, 0, 3)
	if r.weSent {
		pkts = append(pkts, &rtcp.SenderReport{
			SSRC:        s.ssrc,
			NTPTime:     ntpTime(now),
			RTPTime:     s.rtpTimeAt(now),
			PacketCount: uint32(s.tx.packets),
			OctetCount:  uint32(s.tx.octets),
			Reports:     reports,
		})
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports})
	}
	pkts = append(pkts, rtcp.NewCNAMESourceDescription(s.ssrc, s.cname))
	if s.voipMetrics && s.haveRemote {
		pkts = append(pkts, s.voipMetricsLocked())
	}
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return nil, err
	}
	r.avgSize = float64(len(b)+rtcpIPUDPOverhead)/16 + r.avgSize*15/16
	r.weSentPrev, r.weSent = r.weSent, false
	r.remoteSent = false
	r.initial = false
	r.stats.Sent++
	return b, nil
}

// rtpTimeAt returns the RTP timestamp corresponding to wall-clock time now
// on the media clock (for the SR, RFC 3550 §6.4.1).
func (s *Session) rtpTimeAt(now time.Time) uint32 {
	d := now.Sub(s.tx.lastTickAt)
	return s.tx.lastTickTS + uint32(d.Nanoseconds()*int64(s.codec.clockRate())/int64(time.Second))
}

// handleRTCP processes one received compound RTCP packet that arrived at
// now. It is called by whatever reads the sockets (engine worker or reader).
func (s *Session) handleRTCP(b []byte, from netip.AddrPort, now time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.rtcp
	if err != nil || len(pkts) == 0 {
		r.stats.Malformed++
		return
	}
	// §A.2: a compound packet starts with an SR or RR.
	switch pkts[0].(type) {
	case *rtcp.SenderReport, *rtcp.ReceiverReport:
	default:
		r.stats.Malformed++
		return
	}
	r.stats.Received++
	r.avgSize = float64(len(b)+rtcpIPUDPOverhead)/16 + r.avgSize*15/16
	if !s.cfg.DisableSymmetric && !s.rtcpLatched && from.IsValid() {
		if s.rtcpDest != from {
			s.debug("rtcp latched", "raddr", from.String())
		}
		s.rtcpDest = from
		s.rtcpLatched = true
	}
	arrival := ntpCompact(ntpTime(now))
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			r.lastSR = ntpCompact(p.NTPTime)
			r.lastSRAt = now
			r.remoteSent = true
			r.stats.RemotePacketsSent = p.PacketCount
			r.stats.RemoteOctetsSent = p.OctetCount
			s.applyReportBlocksLocked(p.Reports, arrival)
		case *rtcp.ReceiverReport:
			s.applyReportBlocksLocked(p.Reports, arrival)
		case *rtcp.SourceDescription:
			for _, c := range p.Chunks {
				for _, it := range c.Items {
					if it.Type == rtcp.SDESCNAME && (!s.haveRemote || c.Source == s.remoteSSRC) {
						r.stats.RemoteCNAME = it.Text
					}
				}
			}
		case *rtcp.Goodbye:
			r.stats.RemoteBye = true
		}
	}
}

func (s *Session) applyReportBlocksLocked(blocks []rtcp.ReceptionReport, arrival uint32) {
	r := &s.rtcp
	for _, b := range blocks {
		if b.SSRC != s.ssrc {
			continue
		}
		r.stats.HaveRemoteReport = true
		r.stats.RemoteFractionLost = float64(b.FractionLost) / 256
		r.stats.RemotePacketsLost = totalLost(b.TotalLost)
		r.stats.RemoteJitter = time.Duration(uint64(b.Jitter) * uint64(time.Second) / uint64(s.codec.clockRate()))
		if b.LastSenderReport != 0 {
			r.stats.SRsEchoed++
		}
		if rtt, ok := roundTripTime(arrival, b.LastSenderReport, b.Delay); ok {
			r.stats.RTT = rtt
		}
	}
}

// randomUnit returns a uniform random number in [0, 1) from crypto/rand,
// for the RTCP interval randomization (RFC 3550 §6.3.1).
func randomUnit() float64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
}
