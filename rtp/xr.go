package rtp

import (
	"time"

	"github.com/dialtone/dialtone/rtp/jitter"

	"github.com/pion/rtcp"
)

// RX config of our VoIP Metrics blocks (RFC 3611 §4.7.6): standard packet
// loss concealment (G.711 Appendix I), adaptive jitter buffer.
const xrRXConfig = 0b10<<6 | 0b11<<4

// voipMetricsLocked returns an RTCP XR packet with a VoIP Metrics report
// block (RFC 3611 §4.7) about the peer's stream: loss and discard rates,
// round-trip and end-system delay, the E-model R factor and MOS, and the
// jitter buffer's delays. Values we do not measure (burst and gap metrics,
// signal, noise and echo levels) carry the RFC's "unavailable" values.
func (s *Session) voipMetricsLocked() *rtcp.ExtendedReport {
	st := s.statsLocked()
	q := qualityOf(st)
	expected := st.PacketsReceived - q.Late + q.PacketsLost
	rate := func(n uint64) uint8 { // fraction of expected, in 1/256
		if expected == 0 {
			return 0
		}
		return uint8(min(n*256/expected, 255))
	}
	ms := func(d time.Duration) uint16 { return uint16(min(d.Milliseconds(), 65535)) }
	mos := func(m float64) uint8 { return uint8(min(max(m*10+0.5, 10), 50)) }
	b := &rtcp.VoIPMetricsReportBlock{
		SSRC:           s.remoteSSRC,
		LossRate:       rate(q.PacketsLost),
		DiscardRate:    rate(q.Late),
		RoundTripDelay: ms(q.RTT),
		EndSystemDelay: ms(st.Ptime + st.Playout.Target),
		SignalLevel:    127, // unavailable
		NoiseLevel:     127,
		RERL:           127,
		Gmin:           16, // the RFC's recommended value
		RFactor:        uint8(min(q.R+0.5, 100)),
		ExtRFactor:     127,
		MOSLQ:          mos(q.MOS),
		MOSCQ:          mos(q.MOS),
		RXConfig:       xrRXConfig,
		JBNominal:      ms(st.Playout.Target),
		JBMaximum:      ms(st.Playout.Depth),
		JBAbsMax:       ms(s.jbMaxDepth()),
	}
	return &rtcp.ExtendedReport{SenderSSRC: s.ssrc, Reports: []rtcp.ReportBlock{b}}
}

// jbMaxDepth is the jitter buffer's largest playout delay.
func (s *Session) jbMaxDepth() time.Duration {
	if d := s.cfg.Jitter.MaxDepth; d > 0 {
		return d
	}
	return max(jitter.DefaultMaxDepth, s.cfg.Jitter.MinDepth)
}
