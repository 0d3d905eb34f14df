//go:build interop

package interop

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMediaCallsUnderLossFromUs: issue 21 §2's "the same through ua ↔ ua
// with media". uaload (package ua, -media: each call with the UA's own RTP
// session, sending silence) calls examples/dial, which answers with
// media, across the lossy pair: SIP (port sippPort on both sides) lost at
// 10, 20 or 30 % each way, every other datagram (RTP, RTCP) at
// lossCallsRTPLoss; lossCalls calls at lossCallsRate a second, each held
// lossCallsHold. A call may fail only by Timer B or F, within the bound
// of the odds (as TestCallsUnderLossFromUs, dial retransmitting its 2xx
// from its T1); every call that ended well carried a media session and
// received RTP; the loss uaload measured on dial's streams fits the
// binomial range at lossCallsRTPLoss (a false failure under 10⁻⁶, plus
// what the kernel counted lost to full receive buffers); the E-model MOS
// per rate is the figure, its median above mediaLossMinMOS.
func TestMediaCallsUnderLossFromUs(t *testing.T) {
	t.Parallel() // as TestCallsUnderLossFromUs: each rate in its own namespaces
	requireRootTools(t)
	calls := lossCalls(t)
	run := time.Duration(calls)*time.Second/lossCallsRate + lossCallsHold + 2*64*fromUsT1 + 10*time.Second
	ctx, cancel := context.WithTimeout(t.Context(), run+60*time.Second)
	t.Cleanup(cancel) // the parallel subtests run after this function returns
	bin := buildProgram(t, ctx, "uaload")
	dial := buildExample(t, ctx, "dial")

	for _, rate := range lossCallsRates {
		t.Run(fmt.Sprintf("%.0f%%", 100*rate), func(t *testing.T) {
			t.Parallel()
			pair := newLossyPair(t, ctx, 0)
			pair.setLoss(t, ctx, strconv.Itoa(sippPort), rate, lossCallsRTPLoss)
			d, target, dialOut := startDialCallee(t, ctx, pair, dial, true)
			out := filepath.Join(artifacts(t), "uaload.out")
			defer func() { logTails(t, out, dialOut) }()

			start := time.Now()
			uacErr := exitErrOrNil(runToFile(ctx, out, "ip", "netns", "exec", pair.ns[1], bin,
				"-target", "sip:dial@"+target.String(),
				"-listen", netip.AddrPortFrom(pair.ip[1], sippPort).String(), "-media",
				"-calls", strconv.Itoa(calls), "-rate", strconv.Itoa(lossCallsRate),
				"-hold", lossCallsHold.String(),
				"-t1", fromUsT1.String(), "-call-timeout", (64*fromUsT1 + 5*time.Second).String(),
				"-timeout", run.String(), "-v"))
			elapsed := time.Since(start)
			d.stop()
			require.NoError(t, exitErrOrNil(d.err), "dial's exit")
			sum := summaryOf(t, out)
			o := ualoadOutcome(t, sum, rate, calls, dialCalleeT1)
			mediaCalls, recv, lost := o.num(t, "media-calls"), o.num(t, "rtp-received"), o.num(t, "rtp-lost")
			trials := max(recv+lost-2*mediaCalls, 0) // RFC 3550 loss: between each call's first and last packet
			overflows := pair.udpRcvbufErrors(t, 0) + pair.udpRcvbufErrors(t, 1)
			arrived, dropped := pair.mediaCounts(t, 1)
			t.Logf("FIGURE ua ↔ dial with media, %.0f %% SIP and %.0f %% RTP loss each way, %d calls in %s: %d successful, %d failed "+
				"(%d Timer B, %d Timer F; %d allowed); set-up p50 %s p99 %s max %s; %s retransmissions by uaload a call; "+
				"RTP: %d calls with media, %s received nothing; sent %s, received %d, lost %d (%.2f %% of %d counted; %d dropped of %d arriving at uaload); "+
				"MOS min %s median %s max %s; receive buffers overflowed %d times",
				100*rate, 100*lossCallsRTPLoss, calls, elapsed.Round(time.Millisecond), o.ok, o.failed, o.timeoutsB, o.timeoutsF, o.allowed,
				sum["setup-p50"], sum["setup-p99"], sum["setup-max"], sum["retransmits-per-call"],
				mediaCalls, sum["rtp-silent"], sum["rtp-sent"], recv, lost, 100*float64(lost)/float64(max(trials, 1)), trials,
				dropped, arrived, sum["mos-min"], sum["mos-p50"], sum["mos-max"], overflows)
			o.check(t, uacErr)

			require.Equal(t, o.ok, mediaCalls, "a media session in every call that ended well")
			require.Zero(t, o.num(t, "rtp-silent"), "calls that received no RTP")
			lo, hi := binomialInterval(trials, lossCallsRTPLoss, lossCallsRTPChance)
			hi += overflows
			require.True(t, lost >= lo && lost <= hi,
				"RTP lost at uaload: %d of %d counted, outside [%d, %d] (%d lost to full receive buffers allowed)", lost, trials, lo, hi, overflows)
			mos, err := strconv.ParseFloat(sum["mos-p50"], 64)
			require.NoError(t, err, "uaload mos-p50=%q", sum["mos-p50"])
			require.Greater(t, mos, mediaLossMinMOS, "median MOS at %.0f %% RTP loss", 100*lossCallsRTPLoss)
		})
	}
}

// mediaLossMinMOS is below what the E-model gives G.711 with concealment
// at lossCallsRTPLoss (about 3.9: Ie-eff about 16): the median call must
// rate above it.
const mediaLossMinMOS = 3.0
