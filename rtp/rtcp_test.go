package rtp

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestRTCPInterval(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	const comp = math.E - 1.5
	// Two G.711 parties: RTCP gets 5% of 80 kbit/s = 500 octets/s.
	const bw = 500.0
	tests := []struct {
		name string
		p    rtcpIntervalParams
		u    float64
		want time.Duration
	}{
		{name: "Tmin, middle of the range", p: rtcpIntervalParams{members: 2, senders: 2, bandwidth: bw, avgSize: 100, weSent: true}, u: 0.5, want: sec(5 / comp)},
		{name: "lowest factor 0.5", p: rtcpIntervalParams{members: 2, senders: 2, bandwidth: bw, avgSize: 100, weSent: true}, u: 0, want: sec(5 * 0.5 / comp)},
		{name: "highest factor 1.5", p: rtcpIntervalParams{members: 2, senders: 2, bandwidth: bw, avgSize: 100, weSent: true}, u: 1, want: sec(5 * 1.5 / comp)},
		{name: "initial report halves Tmin", p: rtcpIntervalParams{members: 2, senders: 1, bandwidth: bw, avgSize: 100, initial: true}, u: 0.5, want: sec(2.5 / comp)},
		{name: "configured Tmin", p: rtcpIntervalParams{members: 2, senders: 2, bandwidth: 1e6, avgSize: 100, minInterval: 100 * time.Millisecond}, u: 0.5, want: sec(0.1 / comp)},
		{name: "bandwidth term above Tmin", p: rtcpIntervalParams{members: 200, senders: 100, bandwidth: bw, avgSize: 100}, u: 0.5, want: sec(100 * 200 / bw / comp)},
		{
			// Senders are at most a quarter of the members: a sender shares
			// a quarter of the bandwidth with the other senders only.
			name: "sender share", p: rtcpIntervalParams{members: 400, senders: 10, bandwidth: bw, avgSize: 100, weSent: true},
			u: 0.5, want: sec(100 * 10 / (bw * 0.25) / comp),
		},
		{
			// … and a receiver shares three quarters with the receivers.
			name: "receiver share", p: rtcpIntervalParams{members: 400, senders: 10, bandwidth: bw, avgSize: 100},
			u: 0.5, want: sec(100 * 390 / (bw * 0.75) / comp),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rtcpInterval(tt.p, tt.u)
			require.InDelta(t, float64(tt.want), float64(got), float64(time.Microsecond))
		})
	}
}

func TestRTCPBandwidth(t *testing.T) {
	// 20 ms of G.711: 160 octets + 40 octets of RTP/UDP/IPv4, 50 times a second.
	require.InDelta(t, (160+40)*50*RTCPBandwidthFraction, rtcpBandwidth(0, 20*time.Millisecond), 1e-9)
	require.InDelta(t, 1000.0, rtcpBandwidth(8000, 20*time.Millisecond), 1e-9)
}

func TestNTPTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		sec  uint32
		frac uint32
	}{
		{t: time.Unix(0, 0), sec: ntpEpochOffset, frac: 0},
		{t: time.Unix(1, int64(time.Second/2)), sec: ntpEpochOffset + 1, frac: 1 << 31},
		{t: time.Unix(100, int64(time.Second/4)), sec: ntpEpochOffset + 100, frac: 1 << 30},
	}
	for _, tt := range tests {
		n := ntpTime(tt.t)
		require.Equal(t, tt.sec, uint32(n>>32))
		require.Equal(t, tt.frac, uint32(n))
		require.Equal(t, tt.sec<<16|tt.frac>>16, ntpCompact(n))
	}
	require.Equal(t, uint32(1<<16), compactDuration(time.Second))
	require.Equal(t, uint32(1<<15), compactDuration(time.Second/2))
	require.Zero(t, compactDuration(-time.Second))
}

func TestRoundTripTime(t *testing.T) {
	// RFC 3550 §6.4.1 example: A = 0xb710:8000 (46864.500 s), LSR =
	// 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s) → 6.125 s.
	tests := []struct {
		name         string
		a, lsr, dlsr uint32
		want         time.Duration
		ok           bool
	}{
		{name: "RFC example", a: 0xb7108000, lsr: 0xb7052000, dlsr: 0x00054000, want: 6125 * time.Millisecond, ok: true},
		{name: "no SR seen", a: 0xb7108000, lsr: 0, dlsr: 0, ok: false},
		{name: "negative", a: 0xb7050000, lsr: 0xb7052000, dlsr: 0, ok: false},
		{name: "wraps", a: 0x00000100, lsr: 0xffffff00, dlsr: 0x100, want: time.Duration(0x100) * time.Second >> 16, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := roundTripTime(tt.a, tt.lsr, tt.dlsr)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTotalLost(t *testing.T) {
	for _, v := range []int64{0, 1, 1000, 0x7FFFFF, -1, -1000, -0x800000} {
		require.Equal(t, v, totalLost(uint32(v)&0xFFFFFF))
	}
}

// sourceStats follows RFC 3550 §A.1 and §A.3: probation, wrap-around,
// duplicates, loss and fraction lost per interval.
func TestSourceStats(t *testing.T) {
	seqs := func(from, to int, skip ...int) []uint16 {
		var out []uint16
	next:
		for i := from; i <= to; i++ {
			for _, s := range skip {
				if s == i {
					continue next
				}
			}
			out = append(out, uint16(i))
		}
		return out
	}
	tests := []struct {
		name         string
		seqs         []uint16
		wantMax      uint32
		wantLost     int64
		wantFraction uint8
	}{
		// The first packet only starts probation (MIN_SEQUENTIAL = 2): the
		// counting starts at the second.
		{name: "in order", seqs: seqs(100, 110), wantMax: 110, wantLost: 0},
		{name: "two lost", seqs: seqs(100, 110, 105, 106), wantMax: 110, wantLost: 2, wantFraction: 2 * 256 / 10},
		{name: "wrap", seqs: seqs(65530, 65540), wantMax: 65540, wantLost: 0},
		{name: "duplicate", seqs: append(seqs(100, 110), 108), wantMax: 110, wantLost: -1},
		{name: "reordered", seqs: []uint16{1, 2, 4, 3, 5}, wantMax: 5, wantLost: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSourceStats(tt.seqs[0])
			for _, q := range tt.seqs {
				s.updateSeq(q)
			}
			require.Equal(t, tt.wantMax, s.extendedMax())
			require.Equal(t, tt.wantLost, s.cumulativeLost())
			rr := s.report(7)
			require.Equal(t, uint32(7), rr.SSRC)
			require.Equal(t, tt.wantFraction, rr.FractionLost)
			require.Equal(t, tt.wantLost, totalLost(rr.TotalLost))
			require.Equal(t, tt.wantMax, rr.LastSequenceNumber)
			// A second report with nothing new has no fraction lost.
			require.Zero(t, s.report(7).FractionLost)
		})
	}
}

// A large jump is accepted only when the next packet confirms it (§A.1).
func TestSourceStatsJump(t *testing.T) {
	s := newSourceStats(10)
	for q := uint16(10); q <= 20; q++ {
		s.updateSeq(q)
	}
	require.False(t, s.updateSeq(30000))
	require.Equal(t, uint32(20), s.extendedMax())
	require.True(t, s.updateSeq(30001))
	require.Equal(t, uint32(30001), s.extendedMax())
	require.Zero(t, s.cumulativeLost())
}

// The jitter estimate converges to the mean deviation of the transit time:
// packets alternately on time and D late give |D| every time (§A.8).
func TestSourceStatsJitter(t *testing.T) {
	const d = 40 // timestamp units: 5 ms
	tests := []struct {
		name  string
		delay func(i int) uint32
		want  float64
	}{
		{name: "constant delay", delay: func(int) uint32 { return 123 }, want: 0},
		{name: "alternating", delay: func(i int) uint32 { return uint32(i%2) * d }, want: d},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sourceStats
			for i := range 500 {
				ts := uint32(1000 + 160*i)
				s.updateJitter(ts, 5000+160*uint32(i)+tt.delay(i))
			}
			require.InDelta(t, tt.want, float64(s.jitterUnits()), 1)
		})
	}
}

// testSession returns a session without sockets or goroutines, with its
// remote set to peer.
func testSession(t testing.TB, peer netip.AddrPort) *Session {
	t.Helper()
	s, err := newSession(SessionConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SetRemote(sdp.MediaParams{
		RemoteRTP: peer, RemoteRTCP: peer, Codec: audio.PCMU(),
		TelephoneEvent: audio.TelephoneEvent(), HasTelephoneEvent: true, Direction: sdp.SendRecv,
	}))
	return s
}

// An SR from a, answered by b's RR, gives a the round-trip time: the
// time between sending the SR and receiving the RR, less the time b held
// it (DLSR), in virtual time.
func TestRTCPRoundTripExchange(t *testing.T) {
	addrA := netip.MustParseAddrPort("192.0.2.1:4000")
	addrB := netip.MustParseAddrPort("192.0.2.2:5000")
	a, b := testSession(t, addrB), testSession(t, addrA)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	// a sends five packets to b, one of them lost.
	frame := make([]int16, audio.FrameSamples)
	var h pionrtp.Header
	for i := range 5 {
		if i == 3 {
			continue
		}
		pkt, err := g711.AppendPacket(nil, &pionrtp.Header{
			PayloadType: audio.PayloadTypePCMU, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(160 * i), SSRC: a.ssrc,
		}, g711.ULaw, frame)
		require.NoError(t, err)
		b.handleRTP(&h, pkt, addrA, t0.Add(time.Duration(i)*20*time.Millisecond), nil)
	}
	a.rtcp.weSent = true
	a.tx.packets, a.tx.octets = 5, 5*audio.FrameSamples

	const flight, hold = 10 * time.Millisecond, 5 * time.Millisecond
	sr, err := a.buildRTCPLocked(t0.Add(100*time.Millisecond), false)
	require.NoError(t, err)
	b.handleRTCP(sr, addrA, t0.Add(100*time.Millisecond+flight))
	rr, err := b.buildRTCPLocked(t0.Add(100*time.Millisecond+flight+hold), false)
	require.NoError(t, err)
	a.handleRTCP(rr, addrB, t0.Add(100*time.Millisecond+2*flight+hold))

	// b's report: an RR (b sent nothing), a block about a, and a CNAME.
	pkts, err := rtcp.Unmarshal(rr)
	require.NoError(t, err)
	require.Len(t, pkts, 2)
	report, ok := pkts[0].(*rtcp.ReceiverReport)
	require.True(t, ok)
	require.Len(t, report.Reports, 1)
	block := report.Reports[0]
	require.Equal(t, a.ssrc, block.SSRC)
	require.Equal(t, uint32(104), block.LastSequenceNumber)
	require.Equal(t, int64(1), totalLost(block.TotalLost))
	require.Equal(t, uint8(256/4), block.FractionLost, "1 of the 4 packets after probation")
	require.Equal(t, compactDuration(hold), block.Delay)
	sdes, ok := pkts[1].(*rtcp.SourceDescription)
	require.True(t, ok)
	require.Equal(t, b.cname, sdes.Chunks[0].Items[0].Text)

	st := a.rtcp.stats
	require.InDelta(t, float64(2*flight), float64(st.RTT), float64(2*time.Second>>16))
	require.Equal(t, uint64(1), st.SRsEchoed, "b's block named a's SR")
	require.True(t, st.HaveRemoteReport)
	require.Equal(t, int64(1), st.RemotePacketsLost)
	require.InDelta(t, 0.25, st.RemoteFractionLost, 1e-9)
	require.Equal(t, b.cname, st.RemoteCNAME)
	require.Equal(t, uint32(5), b.rtcp.stats.RemotePacketsSent)

	// A BYE ends the compound packet.
	bye, err := a.buildRTCPLocked(t0.Add(time.Second), true)
	require.NoError(t, err)
	b.handleRTCP(bye, addrA, t0.Add(time.Second))
	require.True(t, b.rtcp.stats.RemoteBye)

	// Garbage is counted, not trusted.
	b.handleRTCP([]byte{0x80, 201, 0, 9}, addrA, t0)
	require.Equal(t, uint64(1), b.rtcp.stats.Malformed)
}
