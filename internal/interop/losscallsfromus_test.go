//go:build interop

package interop

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Calls from us (uaload, package ua) to SIPp across the lossy pair: the
// reverse of TestCallsUnderLoss.
const (
	// fromUsT1 is uaload's T1 (-t1), dial's as the callee in
	// TestCallsUnderLoss (dialCalleeT1): Timer B and F are 64 s. An
	// INVITE goes out 7 times (0, 1, 3 … 63 s), a BYE 18 times (0, 1, 3,
	// 7, 11 … 63 s: T2 4 s).
	fromUsT1 = time.Second
	// fromUsT2 is uaload's T2, RFC 3261's default.
	fromUsT2 = 4 * time.Second
	// fromUsMargin is left for the answer to a last send before Timer B
	// or F: a send or 2xx copy later than 64·T1 - fromUsMargin is not
	// counted in the odds.
	fromUsMargin = 250 * time.Millisecond
	// sipp2xxFirstRetrans is SIPp's first retransmission of its 200 to
	// the INVITE (retrans="500" in testdata/uas_loss.xml).
	sipp2xxFirstRetrans = 500 * time.Millisecond
	// fromUsTimewait is how long SIPp's call stays after it answered the
	// BYE (the timewait of uas_loss.xml, raised): past Timer F, so that
	// every copy of our BYE that reaches SIPp is answered. With the 4 s of
	// uas_loss.xml, a BYE whose first copy arrived but whose 200 was lost
	// would get no answer to its copies after 4 s.
	fromUsTimewait = 64*fromUsT1 + time.Second
	// fromUsChance is the chance, at most, that a run fails although
	// every failure was a legitimate timeout: the bound on them is the
	// least count that more failures exceed with a chance under it.
	fromUsChance = 1e-6
)

// TestCallsUnderLossFromUs runs N calls from uaload (ua.UA.Dial, then
// Call.Hangup; T1 fromUsT1) in namespace 0, lossCallsRate a second, to
// SIPp's UAS (testdata/uas_loss.xml: SIPp's uas without the 180, its
// timewait raised to fromUsTimewait) in namespace 1, at each of
// lossCallsRates each way, SIP only. N is lossCallsDefault (200) unless
// LOSS_CALLS sets it (1,000 for the figures of the README).
//
// A call may fail only by a transaction timer: Timer B, when no 2xx
// reached us in 64·T1 (every INVITE lost, or every 2xx copy SIPp sent in
// time), or Timer F on the BYE (every copy or its 200 lost). The chance
// per call is computed from the sends within 64·T1 and the loss rate
// (inviteTimeout, nonInviteTimeout), and at most failuresAllowed of them
// may fail, a bound that a run exceeds with a chance under fromUsChance;
// any other failure (a non-2xx status, a transport error, a call ended
// otherwise) fails the test. Logged for each rate: failed calls by cause,
// the set-up time (Dial: INVITE sent to 2xx received) p50, p99 and max,
// the requests retransmitted a call (ua.Stats), and the datagrams dropped
// each way.
func TestCallsUnderLossFromUs(t *testing.T) {
	t.Parallel() // as TestCallsUnderLoss
	sipp := sippPath(t)
	requireRootTools(t)
	calls := lossCalls(t)
	// uaload's bound: the last call starts at calls/rate, its set-up
	// lasts up to Timer B and its BYE up to Timer F.
	run := time.Duration(calls)*time.Second/lossCallsRate + 2*64*fromUsT1 + 10*time.Second
	// The rates run at once, each in its own pair of namespaces: most of a
	// rate's time is waiting out the last calls' timers, not load.
	ctx, cancel := context.WithTimeout(t.Context(), run+fromUsTimewait+60*time.Second)
	t.Cleanup(cancel) // the parallel subtests run after this function returns
	bin := buildProgram(t, ctx, "uaload")
	uas := longTimewaitUAS(t)

	for _, rate := range lossCallsRates {
		t.Run(fmt.Sprintf("%.0f%%", 100*rate), func(t *testing.T) {
			t.Parallel()
			pair := newLossyPair(t, ctx, rate)
			target := netip.AddrPortFrom(pair.ip[1], sippPort)
			r, sippCmd := startSippIn(t, ctx, pair, 1, sipp, "uas_from_us", "-sf", uas, "-t", "u1",
				"-m", strconv.Itoa(calls), "-timeout", strconv.Itoa(int((run+fromUsTimewait)/time.Second)),
				"-max_retrans", strconv.Itoa(sippNonInviteRetrans),
				"-max_invite_retrans", strconv.Itoa(sippNonInviteRetrans),
				"-max_non_invite_retrans", strconv.Itoa(sippNonInviteRetrans))
			sippDone := make(chan error, 1)
			go func() { sippDone <- exitErrOrNil(sippCmd.Wait()) }()
			out := filepath.Join(artifacts(t), "uaload.out")
			defer func() { logTails(t, append(r.files(), out)...) }()
			waitUDP(t, ctx, sippCmd.Process.Pid, target)

			start := time.Now()
			uacErr := exitErrOrNil(runToFile(ctx, out, "ip", "netns", "exec", pair.ns[0], bin,
				"-target", "sip:service@"+target.String(),
				"-listen", netip.AddrPortFrom(pair.ip[0], 0).String(),
				"-calls", strconv.Itoa(calls), "-rate", strconv.Itoa(lossCallsRate),
				"-t1", fromUsT1.String(), "-call-timeout", (64*fromUsT1 + 5*time.Second).String(),
				"-timeout", run.String(), "-v"))
			elapsed := time.Since(start)
			// SIPp ends once its last call's timewait is over, unless an
			// INVITE never reached it: then it is stopped.
			var sippErr error
			select {
			case sippErr = <-sippDone:
			case <-time.After(fromUsTimewait + 10*time.Second):
				require.NoError(t, sippCmd.Process.Signal(os.Interrupt))
				sippErr = <-sippDone
			}
			t.Logf("SIPp's exit: %v", sippErr)
			sum := summaryOf(t, out)
			t.Logf("uaload: %v", sum)
			if _, err := os.Stat(r.stat); err == nil {
				logSippFigures(t, r)
			}
			o := ualoadOutcome(t, sum, rate, calls, sipp2xxFirstRetrans)
			t.Logf("FIGURE %.0f %% loss each way, %d calls from uaload in %s: %d successful, %d failed "+
				"(%d Timer B, %d Timer F; %d allowed: %.1e a call); set-up p50 %s p99 %s max %s (%s measured); "+
				"%s retransmissions by uaload a call; datagrams dropped %d to SIPp, %d to uaload",
				100*rate, calls, elapsed.Round(time.Millisecond), o.ok, o.failed, o.timeoutsB, o.timeoutsF, o.allowed, o.q,
				sum["setup-p50"], sum["setup-p99"], sum["setup-max"], sum["setup-n"],
				sum["retransmits-per-call"], pair.dropped(t, 1), pair.dropped(t, 0))
			o.check(t, uacErr)
		})
	}
}

// ualoadRun is what a uaload run across a lossy pair came to (its
// summary line), with the failures the odds allow.
type ualoadRun struct {
	sum                              map[string]string
	calls                            int
	ok, failed, timeoutsB, timeoutsF int
	allowed                          int
	q                                float64 // the chance a call fails by Timer B or F
}

// ualoadOutcome reads uaload's summary sum of calls at loss each way,
// the callee retransmitting its 2xx to the INVITE from first.
func ualoadOutcome(t *testing.T, sum map[string]string, loss float64, calls int, first time.Duration) ualoadRun {
	t.Helper()
	o := ualoadRun{sum: sum, calls: calls}
	o.ok, o.failed = o.num(t, "ok"), o.num(t, "failed")
	o.timeoutsB, o.timeoutsF = o.num(t, "invite-timeouts"), o.num(t, "bye-timeouts")
	qB := inviteTimeout(loss, clientSends(fromUsT1, fromUsT2, true, fromUsMargin), first, 64*fromUsT1, fromUsMargin)
	qF := nonInviteTimeout(loss, clientSends(fromUsT1, fromUsT2, false, fromUsMargin))
	o.q = qB + qF
	o.allowed = failuresAllowed(o.q, calls, fromUsChance)
	return o
}

// num is the integer field k of the summary.
func (o ualoadRun) num(t *testing.T, k string) int {
	t.Helper()
	n, err := strconv.Atoi(o.sum[k])
	require.NoError(t, err, "uaload %s=%q", k, o.sum[k])
	return n
}

// check asserts that every call started and succeeded or failed by
// Timer B or F, no more of them than allowed, each answered call with its
// set-up time, and uaload's exit status (uacErr) clean when none failed.
func (o ualoadRun) check(t *testing.T, uacErr error) {
	t.Helper()
	require.Equal(t, strconv.Itoa(o.calls), o.sum["calls"])
	require.Zero(t, o.num(t, "not-started"), "calls uaload did not start before its -timeout")
	for _, k := range []string{"invite-status", "invite-other", "bye-other"} {
		require.Zero(t, o.num(t, k), "uaload %s: a failure other than a timer's", k)
	}
	require.Equal(t, o.calls, o.ok+o.timeoutsB+o.timeoutsF, "every call succeeded or timed out")
	require.LessOrEqual(t, o.timeoutsB+o.timeoutsF, o.allowed, "timeouts (%.1e a call)", o.q)
	require.Equal(t, o.ok+o.timeoutsF, o.num(t, "setup-n"), "a set-up time per answered call")
	if o.failed == 0 {
		require.NoError(t, uacErr, "uaload exit status (0: every call successful)")
	}
}

// lossCalls is the number of calls a rate of the loss tests: LOSS_CALLS,
// or lossCallsDefault.
func lossCalls(t *testing.T) int {
	t.Helper()
	s := os.Getenv(lossCallsEnv)
	if s == "" {
		return lossCallsDefault
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%s=%q", lossCallsEnv, s)
	require.Positive(t, n, "%s", lossCallsEnv)
	return n
}

// longTimewaitUAS writes testdata/uas_loss.xml with its timewait raised to
// fromUsTimewait into the test's artifacts and returns its path.
func longTimewaitUAS(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(scenario(t, "uas_loss.xml"))
	require.NoError(t, err)
	const tw = `<timewait milliseconds="4000"/>`
	require.Equal(t, 1, strings.Count(string(b), tw), "the timewait of uas_loss.xml")
	s := strings.Replace(string(b), tw, fmt.Sprintf(`<timewait milliseconds="%d"/>`, fromUsTimewait.Milliseconds()), 1)
	p := filepath.Join(artifacts(t), "uas_loss_timewait.xml")
	require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	return p
}
