package rtp

import (
	"time"
)

// E-model constants (ITU-T G.107, with the G.113 Appendix I values for
// G.711).
const (
	// emodelR0 is the default basic rating R0 − Is of G.107 §7 (93.2): no
	// noise, no echo, no equipment impairment.
	emodelR0 = 93.2
	// emodelIeG711 is G.711's equipment impairment Ie (0) and
	// emodelBplG711 its packet-loss robustness Bpl with packet loss
	// concealment (G.113 Appendix I: 25.1; 4.3 without).
	emodelIeG711  = 0
	emodelBplG711 = 25.1
)

// Quality is a call's media quality summary: what was received, lost,
// discarded late and concealed, the jitter and round-trip time, and the
// listening quality they add up to by the ITU-T G.107 E-model.
type Quality struct {
	// PacketsSent and PacketsReceived count RTP packets.
	PacketsSent, PacketsReceived uint64
	// PacketsLost is the peer's packets that never arrived (RFC 3550
	// cumulative loss, not below zero); Late those that arrived after
	// their playout time and were discarded; Concealed the packets'
	// worth of audio the jitter buffer concealed.
	PacketsLost, Late, Concealed uint64
	// LossRate is (lost + late) over the packets expected, in [0, 1].
	LossRate float64
	// Jitter is the RFC 3550 interarrival jitter of the peer's stream.
	Jitter time.Duration
	// RTT is the RTCP round-trip time, 0 until known.
	RTT time.Duration
	// Delay is the estimated one-way mouth-to-ear delay that the E-model
	// rates: half the RTT, plus our packetization and playout delay.
	Delay time.Duration
	// R is the E-model transmission rating (0 to 100) and MOS the
	// estimated mean opinion score (1 to 4.5) of G.107 Annex B.
	R, MOS float64
}

// Quality returns the session's quality figures now; after Close, the
// figures of the whole call.
func (s *Session) Quality() Quality {
	return qualityOf(s.Stats())
}

// qualityOf derives the quality figures from a statistics snapshot.
func qualityOf(st SessionStats) Quality {
	q := Quality{
		PacketsSent:     st.PacketsSent,
		PacketsReceived: st.PacketsReceived,
		PacketsLost:     uint64(max(st.PacketsLost, 0)),
		Late:            st.Playout.Late,
		Concealed:       st.Playout.Concealed,
		Jitter:          st.Jitter,
		RTT:             st.RTCP.RTT,
	}
	if expected := q.PacketsReceived - q.Late + q.PacketsLost; expected > 0 {
		q.LossRate = min(float64(q.PacketsLost+q.Late)/float64(expected), 1)
	}
	q.Delay = st.RTCP.RTT/2 + st.Ptime + st.Playout.Target
	q.R = EModelR(q.Delay, q.LossRate, emodelIeG711, emodelBplG711)
	q.MOS = MOSFromR(q.R)
	return q
}

// EModelR returns the G.107 transmission rating R for a one-way delay, a
// random packet loss rate in [0, 1], and a codec's equipment impairment
// ie and packet-loss robustness bpl, with the default values for every
// other parameter: R = R0 − Is − Id − Ie,eff (+ A = 0). Id uses the
// common simplification of G.107's delay impairment:
// 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3), Ta in ms.
func EModelR(delay time.Duration, loss, ie, bpl float64) float64 {
	ta := float64(delay) / float64(time.Millisecond)
	id := 0.024 * ta
	if ta > 177.3 {
		id += 0.11 * (ta - 177.3)
	}
	ppl := 100 * min(max(loss, 0), 1)
	ieEff := ie + (95-ie)*ppl/(ppl+bpl) // BurstR = 1: random loss
	return min(max(emodelR0-id-ieEff, 0), 100)
}

// MOSFromR maps an E-model rating to an estimated mean opinion score
// (G.107 Annex B): 1 for R ≤ 0, 4.5 for R ≥ 100, and
// 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶ between.
func MOSFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}
