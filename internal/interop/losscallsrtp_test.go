//go:build interop

package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The media of TestCallsUnderLoss (issue 21 §2): dial sends its silence,
// 50 packets a second, from its answer to the end of each call; SIPp
// echoes every RTP packet back to where it came from (-rtp_echo on its
// media port), and the lossy pair drops lossCallsRTPLoss of every UDP
// datagram that is not SIP, each way. A packet dial gets back crossed the
// pair twice: dial's quality line per call counts the round trip, the
// drop rules' counters each way.
const (
	// lossCallsRTPLoss is the share of the datagrams other than SIP (RTP,
	// RTCP) dropped each way.
	lossCallsRTPLoss = 0.05
	// lossCallsHold is how long each call lasts from SIPp's ACK to its BYE
	// (-d): 100 packets each way, the run 1.8 s longer than with SIPp's
	// 200 ms.
	lossCallsHold = 2 * time.Second
	// lossCallsMediaPort is SIPp's media port (-mp), where it echoes.
	lossCallsMediaPort = 6000
	// lossCallsPacket is dial's packet time: the packets a call sends are
	// its length over it.
	lossCallsPacket = 20 * time.Millisecond
	// lossCallsRTPChance bounds the chance that a loss count falls outside
	// the range the test allows although every packet was dropped at the
	// rate of the rule, independently (the binomial tails).
	lossCallsRTPChance = 1e-6
)

// echoRTP is what the media of one rate of TestCallsUnderLoss came to.
type echoRTP struct {
	// arrived and dropped count the datagrams other than SIP that reached
	// each namespace of the pair (0: dial's, 1: SIPp's) and that its media
	// rule dropped; overflows those a full socket buffer dropped there.
	arrived, dropped, overflows [2]int
	// calls is the calls dial saw ended by SIPp's BYE, and quality their
	// quality lines; sent, received and lost sum those lines' counts.
	calls, quality       int
	sent, received, lost int
	trials               int      // the packets whose fate counts (see check)
	silent, inconsistent []string // calls with nothing back; with more back than sent
	endReasons           map[string]int
}

// readEchoRTP reads the pair's counters and dial's quality lines once the
// run is over (dial stopped).
func readEchoRTP(t *testing.T, pair *lossyPair, d *daemon) echoRTP {
	t.Helper()
	var e echoRTP
	for i := range 2 {
		e.arrived[i], e.dropped[i] = pair.mediaCounts(t, i)
		e.overflows[i] = pair.udpRcvbufErrors(t, i)
	}
	quality := map[string]map[string]string{}
	for _, l := range d.logLines(" quality call=") {
		quality[callOf(l)] = parseQuality(l)
	}
	e.endReasons = map[string]int{}
	for _, l := range d.logLines(" ended call=") {
		_, why, _ := strings.Cut(l, ": ")
		e.endReasons[why]++
		if why != "hung up by peer" {
			continue
		}
		e.calls++
		id := callOf(l)
		q, ok := quality[id]
		if !ok {
			e.silent = append(e.silent, id+" (no quality line)")
			continue
		}
		e.quality++
		sent, received, lost := qInt(t, q, "sent"), qInt(t, q, "received"), qInt(t, q, "lost")
		e.sent += sent
		e.received += received
		e.lost += lost
		e.trials += max(received+lost-2, 0)
		switch {
		case received == 0:
			e.silent = append(e.silent, id)
		case received+lost > sent:
			e.inconsistent = append(e.inconsistent, fmt.Sprintf("%s: sent %d, received %d, lost %d", id, sent, received, lost))
		}
	}
	return e
}

// callOf returns the X of a dial line "… call=X: …".
func callOf(l string) string {
	_, rest, _ := strings.Cut(l, " call=")
	id, _, _ := strings.Cut(rest, ": ")
	return id
}

// roundTripLoss is the chance that a packet dial sends does not come back:
// lost on its way to SIPp or on the echo's way back.
func roundTripLoss(each float64) float64 { return 1 - (1-each)*(1-each) }

// logFigure logs the FIGURE line of the media of a rate.
func (e echoRTP) logFigure(t *testing.T, sipRate float64) {
	t.Helper()
	share := func(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }
	t.Logf("FIGURE RTP at %.0f %% SIP and %.0f %% RTP loss each way, SIPp echoing dial's stream: "+
		"datagrams other than SIP dropped %d of %d to SIPp (%.2f %%), %d of %d to dial (%.2f %%); "+
		"dial over %d calls ended by SIPp's BYE (%d quality lines): sent %d, received %d back, lost %d "+
		"(%.2f %% of the %d packets between each call's first and last back; %.2f %% expected); receive buffers overflowed %d times at SIPp, %d at dial; "+
		"dial's calls ended by reason %v",
		100*sipRate, 100*lossCallsRTPLoss,
		e.dropped[1], e.arrived[1], share(e.dropped[1], e.arrived[1]),
		e.dropped[0], e.arrived[0], share(e.dropped[0], e.arrived[0]),
		e.calls, e.quality, e.sent, e.received, e.lost,
		share(e.lost, e.trials), e.trials, 100*roundTripLoss(lossCallsRTPLoss),
		e.overflows[1], e.overflows[0], e.endReasons)
}

// check asserts what the media of a rate must show, for calls ended by
// SIPp's BYE (minCalls of them at least):
//
//   - each has a quality line and got packets back (RTP went both ways in
//     every call), never more than it sent;
//   - the packets sent come to between 0.9 and 2 times the calls'
//     lossCallsHold (dial sends from its answer until the BYE, which
//     comes lossCallsHold after SIPp got the answer, plus retransmissions);
//   - each drop rule dropped a share of what reached it, and dial lost a
//     share of the round trip, that the binomial odds allow at
//     lossCallsRTPLoss (roundTripLoss for dial) but for a chance of
//     lossCallsRTPChance each.
//
// dial's count is the RFC 3550 cumulative loss of each call: packets
// between the first and the last it got back, those two excepted, each
// lost independently. Those are the trials: received + lost - 2 a call.
// A datagram may also be lost to a full receive buffer: SIPp echoes from
// one socket, at the kernel's default size (212,992 bytes: a few tens of
// milliseconds of the 5,000 packets a second of 100 calls at once), and a
// loaded machine can hold its echo thread that long (42 overflows in one
// run at load average 7). Those the kernel counted in either
// namespace (overflows) are allowed on top of the binomial range, no more.
func (e echoRTP) check(t *testing.T, minCalls int) {
	t.Helper()
	require.GreaterOrEqual(t, e.calls, minCalls, "calls dial saw ended by SIPp's BYE")
	require.Empty(t, e.silent, "calls ended by SIPp's BYE in which dial got no RTP back")
	require.Empty(t, e.inconsistent, "calls in which dial got more packets back than it sent")
	want := float64(e.calls) * float64(lossCallsHold/lossCallsPacket)
	require.GreaterOrEqual(t, float64(e.sent), 0.9*want, "packets dial sent in %d calls", e.calls)
	require.LessOrEqual(t, float64(e.sent), 2*want, "packets dial sent in %d calls", e.calls)

	for i, to := range []string{"dial", "SIPp"} {
		lo, hi := binomialInterval(e.arrived[i], lossCallsRTPLoss, lossCallsRTPChance)
		require.True(t, e.dropped[i] >= lo && e.dropped[i] <= hi,
			"datagrams other than SIP dropped to %s: %d of %d, outside [%d, %d]", to, e.dropped[i], e.arrived[i], lo, hi)
	}
	q := roundTripLoss(lossCallsRTPLoss)
	lo, hi := binomialInterval(e.trials, q, lossCallsRTPChance)
	hi += e.overflows[0] + e.overflows[1]
	require.True(t, e.lost >= lo && e.lost <= hi,
		"packets dial lost: %d of %d counted (%.2f %%), outside [%d, %d] (%.2f %% expected; %d datagrams lost to full receive buffers allowed)",
		e.lost, e.trials, 100*float64(e.lost)/float64(max(e.trials, 1)), lo, hi, 100*q, e.overflows[0]+e.overflows[1])
}
