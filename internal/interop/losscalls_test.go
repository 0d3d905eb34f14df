//go:build interop

package interop

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Calls across the lossy pair at several loss rates (issue 21 §2): how
// many complete by retransmission, how long they take to set up, and how
// many retransmissions they cost.
const (
	// lossCallsDefault is the number of calls at each rate of
	// TestCallsUnderLoss, the one CI runs; the environment variable
	// lossCallsEnv (LOSS_CALLS=1000) sets another for a figure run.
	lossCallsDefault = 200
	lossCallsEnv     = "LOSS_CALLS"
	// lossCallsRate is the calls SIPp places a second.
	lossCallsRate = 50
	// lossCallsTail bounds what a run lasts past its last call's start:
	// the last INVITE's retransmissions (51.1 s) and BYE's (60 s, T2 4 s),
	// with some slack.
	lossCallsTail = 75 * time.Second
	// lossCallsMaxGiveUps is how many calls at lossCallsWorst may fail
	// because SIPp ran out of retransmissions, and only for that reason:
	// the chance that one call does is under 10⁻⁵ (see sippInviteRetrans),
	// so 3 or more in a run of 1,000 is below 2·10⁻⁷.
	lossCallsMaxGiveUps = 2
)

// lossCallsRates are the loss rates (each way, every UDP datagram) of
// TestCallsUnderLoss; lossCallsWorst, the last, is the one where SIPp's
// own retransmission limits may fail a call.
var lossCallsRates = []float64{0.10, 0.20, 0.30}

const lossCallsWorst = 0.30

// TestCallsUnderLoss runs N calls from SIPp's UAC (testdata/uac_loss.xml)
// to one examples/dial across the lossy pair at each of lossCallsRates
// of the SIP datagrams, each way, and lossCallsRTPLoss (5 %) of the
// others, RTP and RTCP: each call lasts lossCallsHold, dial sends its
// silence and SIPp echoes it back (losscallsrtp_test.go). N is
// lossCallsDefault (200) unless LOSS_CALLS sets it (1,000 for the figures
// of the README). Every call must complete by retransmission at 10 and
// 20 %: SIPp counts it successful once dial answered its INVITE and its
// BYE, and dial reports it ended by SIPp's BYE. At 30 % a call may fail
// only because SIPp gave up retransmitting (FailedMaxUDPRetrans), at most
// lossCallsMaxGiveUps of them. Logged for each rate: failed calls, the
// set-up time (INVITE to 200, SIPp's rtd, per call with -trace_rtt) p50
// and p99, SIPp's retransmissions per call, and the media's figures;
// the media must have flowed both ways in every call ended by SIPp's
// BYE, at the loss the rules were set to (echoRTP.check).
func TestCallsUnderLoss(t *testing.T) {
	// In its own namespaces, at 50 calls/s: beside the other parallel
	// tests, which mostly wait too.
	t.Parallel()
	sipp := sippPath(t)
	requireRootTools(t)
	calls := lossCalls(t)
	run := time.Duration(calls)*time.Second/lossCallsRate + lossCallsHold + lossCallsTail
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(len(lossCallsRates))*(run+30*time.Second))
	defer cancel()
	dial := buildExample(t, ctx, "dial")

	for _, rate := range lossCallsRates {
		t.Run(fmt.Sprintf("%.0f%%", 100*rate), func(t *testing.T) {
			pair := newLossyPair(t, ctx, rate)
			pair.setLoss(t, ctx, strconv.Itoa(sippPort), rate, lossCallsRTPLoss)
			d, listen, out := startDialCallee(t, ctx, pair, dial, true)
			start := time.Now()
			r, cmd := startLossUAC(t, ctx, pair, sipp, "calls_uac", calls, lossCallsRate, lossCallsHold, listen,
				"-timeout", strconv.Itoa(int(run/time.Second)),
				"-trace_rtt", "-rtt_freq", "1",
				"-mp", strconv.Itoa(lossCallsMediaPort), "-rtp_echo")
			defer func() { logTails(t, append(r.files(), out)...) }()
			sippErr := exitErrOrNil(cmd.Wait())
			elapsed := time.Since(start)
			d.stop()
			require.NoError(t, exitErrOrNil(d.err), "dial's exit")
			st, _ := logSippFigures(t, r)
			ok, failed := st.int(t, "SuccessfulCall(C)"), st.int(t, "FailedCall(C)")
			giveUps := st.int(t, "FailedMaxUDPRetrans(C)")
			setup := readRTT(t, r.dir)
			ends := 0
			for _, l := range d.logLines(" ended ") {
				if _, why, _ := strings.Cut(l, ": "); why == "hung up by peer" {
					ends++
				}
			}
			t.Logf("FIGURE %.0f %% SIP loss each way, %d calls in %s: %d successful, %d failed (%d SIPp gave up on); "+
				"set-up p50 %s p99 %s max %s (%d measured, to SIPp's 1 ms); %.2f retransmissions by SIPp a call; "+
				"datagrams dropped %d to SIPp, %d to dial; dial saw %d ended by SIPp's BYE",
				100*rate, calls, elapsed.Round(time.Millisecond), ok, failed, giveUps,
				percentile(setup, 0.50), percentile(setup, 0.99), percentile(setup, 1), len(setup),
				float64(st.int(t, "Retransmissions(C)"))/float64(calls),
				pair.dropped(t, 1), pair.dropped(t, 0), ends)
			media := readEchoRTP(t, pair, d)
			media.logFigure(t, rate)

			require.Equal(t, calls, ok+failed, "every call ended at SIPp")
			if rate < lossCallsWorst {
				require.NoError(t, sippErr, "sipp exit status (0: every call successful)")
				require.Zero(t, failed, "failed calls")
				require.Equal(t, calls, ends, "calls dial saw ended by SIPp's BYE")
			} else {
				require.Equal(t, giveUps, failed, "a call fails only when SIPp gives up retransmitting")
				require.LessOrEqual(t, failed, lossCallsMaxGiveUps)
			}
			require.Len(t, setup, ok, "one set-up time per successful call")
			media.check(t, ok)
		})
	}
}

// readRTT reads the response times SIPp wrote with -trace_rtt -rtt_freq 1
// into the run's directory (SCENARIO_PID_rtt.csv: Date_ms;
// response_time_ms;rtd_no, one row a call, in whole milliseconds), sorted.
func readRTT(t *testing.T, dir string) []time.Duration {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	require.NoError(t, err)
	require.Len(t, files, 1, "SIPp's -trace_rtt file in %s", dir)
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	require.NoError(t, err, "%s", files[0])
	require.NotEmpty(t, rows, "%s", files[0])
	col := slices.Index(rows[0], "response_time_ms")
	require.GreaterOrEqual(t, col, 0, "no response_time_ms column in %v", rows[0])
	var out []time.Duration
	for _, row := range rows[1:] {
		if col >= len(row) || row[col] == "" {
			continue
		}
		ms, err := strconv.ParseFloat(row[col], 64)
		require.NoError(t, err, "%s: %v", files[0], row)
		out = append(out, time.Duration(ms*float64(time.Millisecond)))
	}
	slices.Sort(out)
	return out
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted durations by
// the nearest-rank method, 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(time.Millisecond)
}
