//go:build interop

package interop

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Calls with media between two examples/dial across the lossy pair
// (issue 21 §2): the quality each side measures at each loss rate, and a
// peer that vanishes mid-call.
const (
	// mediaLossTimeout bounds TestMOSUnderLoss, builds included.
	mediaLossTimeout = 3 * time.Minute
	// mediaCallLength is each call's length (-hangup-after): 500 packets
	// of 20 ms each way, enough to measure a loss rate to about ±1 %.
	mediaCallLength = 10 * time.Second
	// mediaLossCallee is the port the callee dial listens on.
	mediaLossCallee = 5060
	// vanishRTPTimeout is the callee's -rtp-timeout in TestPeerVanishes.
	vanishRTPTimeout = 2 * time.Second
	// vanishTimeout bounds TestPeerVanishes, builds included.
	vanishTimeout = 2 * time.Minute
)

// mediaLossRates are the loss rates (each way, every UDP datagram: SIP,
// RTP and RTCP) of TestMOSUnderLoss.
var mediaLossRates = []float64{0, 0.01, 0.05, 0.10}

// TestMOSUnderLoss places one call with media (dial's silence, 50
// packets a second each way) from dial to dial at each of mediaLossRates
// and reads the quality line each side prints at the end: the loss each
// measures must be the rate the pair drops (within four standard
// deviations of the binomial count), and the mean E-model MOS of the two
// sides must fall as the loss grows. The figures are logged.
func TestMOSUnderLoss(t *testing.T) {
	requireRootTools(t)
	ctx, cancel := context.WithTimeout(t.Context(), mediaLossTimeout)
	defer cancel()
	dial := buildExample(t, ctx, "dial")

	prevMOS := 5.0
	for _, rate := range mediaLossRates {
		t.Run(fmt.Sprintf("%.0f%%", 100*rate), func(t *testing.T) {
			pair := newLossyPair(t, ctx, rate)
			callee := netip.AddrPortFrom(pair.ip[0], mediaLossCallee)
			dir := artifacts(t)
			calleeOut := filepath.Join(dir, "callee.out")
			d := startDaemon(t, "dial callee", calleeOut, "ip", "netns", "exec", pair.ns[0], dial,
				"-listen", callee.String(), "-answer-after", "0", "-t1", dialT1.String())
			waitUDP(t, ctx, d.cmd.Process.Pid, callee)
			callerOut := filepath.Join(dir, "caller.out")
			rctx, rcancel := context.WithTimeout(ctx, mediaCallLength+dialRunTimeout)
			defer rcancel()
			err := runToFile(rctx, callerOut, "ip", "netns", "exec", pair.ns[1], dial,
				"-listen", netip.AddrPortFrom(pair.ip[1], 0).String(), "-t1", dialT1.String(),
				"-hangup-after", mediaCallLength.String(), "sip:dial@"+callee.String())
			defer func() { logTails(t, callerOut, calleeOut) }()
			require.NoError(t, exitErrOrNil(err), "caller dial")
			qc := waitQuality(t, ctx, callerOut)
			qd := waitQuality(t, ctx, calleeOut)
			d.stop()
			require.NoError(t, exitErrOrNil(d.err), "callee dial's exit")

			mean := 0.0
			for _, side := range []struct {
				name string
				q    map[string]string
			}{{"caller", qc}, {"callee", qd}} {
				received, lost := qInt(t, side.q, "received"), qInt(t, side.q, "lost")
				loss, mos := qPercent(t, side.q, "loss"), qFloat(t, side.q, "mos")
				t.Logf("%s at %.0f %% loss: received=%d lost=%d late=%s concealed=%s loss=%.2f %% jitter=%s rtt=%s MOS=%.2f",
					side.name, 100*rate, received, lost, side.q["late"], side.q["concealed"], 100*loss,
					side.q["jitter"], side.q["rtt"], mos)
				n := float64(received + lost)
				require.Greater(t, n, 0.8*float64(mediaCallLength/(20*time.Millisecond)), "%s: packets expected", side.name)
				sigma := math.Sqrt(rate * (1 - rate) / n)
				require.InDelta(t, rate, loss, 4*sigma+0.005, "%s: measured loss", side.name)
				mean += mos / 2
			}
			require.Less(t, mean, prevMOS, "the mean MOS of the two sides falls as the loss grows")
			prevMOS = mean
		})
	}
}

// TestPeerVanishes cuts the caller off in the middle of a call with media;
// the callee, dial with -rtp-timeout, must end the call between
// vanishRTPTimeout and 1.25 times it after the cut (the check runs every
// quarter of the timeout), say why, and stop cleanly (exit status 0) when
// told to. Two ways to vanish:
//
//   - uplink lost: from the cut the callee's namespace drops every
//     datagram from the caller. The callee's BYE still reaches the caller
//     — which ends the call as hung up by the peer, the moment we time the
//     hang-up by, and exits — but the 200 back is lost: the callee reports
//     its BYE timed out, after Timer F (64·T1).
//   - link down: the caller's end of the veth pair is set down (ip link
//     set down), nothing passes either way; the hang-up is timed by the
//     callee's "ended" line, which comes once its BYE has failed or timed
//     out (Timer F at most). The caller, which never hears of it, is
//     stopped.
func TestPeerVanishes(t *testing.T) {
	requireRootTools(t)
	ctx, cancel := context.WithTimeout(t.Context(), vanishTimeout)
	defer cancel()
	dial := buildExample(t, ctx, "dial")
	for _, linkDown := range []bool{false, true} {
		name := "uplink lost"
		if linkDown {
			name = "link down"
		}
		t.Run(name, func(t *testing.T) {
			pair := newLossyPair(t, ctx, 0)
			callee := netip.AddrPortFrom(pair.ip[0], mediaLossCallee)
			dir := artifacts(t)
			calleeOut := filepath.Join(dir, "callee.out")
			d := startDaemon(t, "dial callee", calleeOut, "ip", "netns", "exec", pair.ns[0], dial,
				"-listen", callee.String(), "-answer-after", "0", "-t1", dialT1.String(),
				"-rtp-timeout", vanishRTPTimeout.String())
			waitUDP(t, ctx, d.cmd.Process.Pid, callee)
			callerOut := filepath.Join(dir, "caller.out")
			c := startDaemon(t, "dial caller", callerOut, "ip", "netns", "exec", pair.ns[1], dial,
				"-listen", netip.AddrPortFrom(pair.ip[1], 0).String(), "-t1", dialT1.String(), "sip:dial@"+callee.String())
			defer func() { logTails(t, callerOut, calleeOut) }()

			waitLine(t, ctx, calleeOut, 20*time.Second, "confirmed ")
			time.Sleep(time.Second) // media flows both ways for a while
			cmd := []string{"ip", "netns", "exec", pair.ns[0], "iptables", "-I", "INPUT", "1", "-s", pair.ip[1].String(), "-j", "DROP"}
			if linkDown {
				cmd = []string{"ip", "-n", pair.ns[1], "link", "set", pair.veth[1], "down"}
			}
			// The cut takes effect while the command runs: the callee's last
			// packet came at most one packet (20 ms) before the command began.
			before := time.Now()
			out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).CombinedOutput()
			require.NoError(t, err, "%s: %s", strings.Join(cmd, " "), out)
			cut := time.Now()

			if !linkDown {
				bye := waitLine(t, ctx, callerOut, 2*vanishRTPTimeout, " ended call=")
				took := time.Since(cut)
				t.Logf("caller: %q %s after the cut (the command took %s)", bye, took.Round(time.Millisecond), cut.Sub(before).Round(time.Millisecond))
				require.Contains(t, bye, "hung up by peer", "the callee's BYE")
				require.GreaterOrEqual(t, time.Since(before), vanishRTPTimeout-20*time.Millisecond, "hung up before the RTP timeout")
				require.Less(t, took, vanishRTPTimeout*5/4+time.Second, "hung up late (a second for a loaded machine)")
			}
			ended := waitLine(t, ctx, calleeOut, vanishRTPTimeout*5/4+64*dialT1+2*time.Second, " ended call=")
			took := time.Since(cut)
			t.Logf("callee: %q %s after the cut", ended, took.Round(time.Millisecond))
			require.Contains(t, ended, "failed: no RTP or RTCP from the peer within the RTP timeout")
			require.GreaterOrEqual(t, time.Since(before), vanishRTPTimeout-20*time.Millisecond, "hung up before the RTP timeout")
			if !linkDown {
				require.Contains(t, ended, "(BYE timed out", "the 200 to the BYE was lost")
			}
			q := waitQuality(t, ctx, calleeOut)
			t.Logf("callee's quality: %v", q)
			require.Positive(t, qInt(t, q, "received"), "RTP flowed before the cut")
			d.stop()
			require.NoError(t, exitErrOrNil(d.err), "the callee stops cleanly")
			if linkDown {
				require.False(t, c.exited(), "the caller, cut off, still holds the call")
				c.stop()
				require.NoError(t, exitErrOrNil(c.err), "the caller stops cleanly")
			} else {
				require.NoError(t, exitErrOrNil(waitExit(t, c)), "the caller stops once its call ends")
			}
		})
	}
}

// waitExit waits for a daemon that ends by itself, at most stopTimeout,
// and returns its exit error.
func waitExit(t *testing.T, d *daemon) error {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s did not exit within %s", d.name, stopTimeout)
		d.stop()
	}
	return d.err
}

// waitLine waits up to wait for a line of file holding s and returns it.
func waitLine(t *testing.T, ctx context.Context, file string, wait time.Duration, s string) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if b, err := os.ReadFile(file); err == nil {
			for l := range strings.SplitSeq(string(b), "\n") {
				if strings.Contains(l, s) {
					return l
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("no %q in %s within %s", s, filepath.Base(file), wait)
		}
		// A real process writing a real file: poll.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// waitQuality waits for the quality line dial prints after a call with
// media ("quality call=X: sent=… received=… mos=4.38") and returns its
// key=value fields.
func waitQuality(t *testing.T, ctx context.Context, file string) map[string]string {
	t.Helper()
	return parseQuality(waitLine(t, ctx, file, 10*time.Second, " quality call="))
}

// parseQuality returns the key=value fields of a quality line after its
// "quality call=X: ".
func parseQuality(l string) map[string]string {
	_, rest, _ := strings.Cut(l, ": ")
	q := map[string]string{}
	for f := range strings.FieldsSeq(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			q[k] = v
		}
	}
	return q
}

func qInt(t *testing.T, q map[string]string, k string) int {
	t.Helper()
	n, err := strconv.Atoi(q[k])
	require.NoError(t, err, "quality %s=%q", k, q[k])
	return n
}

func qFloat(t *testing.T, q map[string]string, k string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(q[k], 64)
	require.NoError(t, err, "quality %s=%q", k, q[k])
	return f
}

// qPercent returns a "5.40%" field as a fraction.
func qPercent(t *testing.T, q map[string]string, k string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSuffix(q[k], "%"), 64)
	require.NoError(t, err, "quality %s=%q", k, q[k])
	return f / 100
}

// mediaCallsPerRate is the number of calls with media at each SIP loss
// rate of TestMediaCallsUnderLoss, mediaCallsParallel at a time, each
// mediaCallsLength long; the RTP loss is mediaCallsRTPLoss throughout.
const (
	mediaCallsPerRate  = 12
	mediaCallsParallel = 4
	mediaCallsLength   = 4 * time.Second
	mediaCallsRTPLoss  = 0.05
)

// TestMediaCallsUnderLoss: dial calls dial with media, mediaCallsPerRate
// calls at each SIP loss rate of lossCallsRates (10, 20, 30 % each way)
// with 5 % of RTP and RTCP lost each way. Every call must be set up and
// hung up with its BYE answered (dial's T1 100 ms: see dialT1), and the
// RTP loss each side measures over all calls must be 5 % (within four
// standard deviations); the MOS is logged per rate.
func TestMediaCallsUnderLoss(t *testing.T) {
	requireRootTools(t)
	ctx, cancel := context.WithTimeout(t.Context(), mediaLossTimeout)
	defer cancel()
	dial := buildExample(t, ctx, "dial")
	for _, rate := range lossCallsRates {
		t.Run(fmt.Sprintf("sip %.0f%%", 100*rate), func(t *testing.T) {
			pair := newLossyPair(t, ctx, 0)
			pair.setLoss(t, ctx, fmt.Sprintf("%d:%d", mediaLossCallee, mediaLossCallee+mediaCallsPerRate), rate, mediaCallsRTPLoss)
			callee := netip.AddrPortFrom(pair.ip[0], mediaLossCallee)
			dir := artifacts(t)
			calleeOut := filepath.Join(dir, "callee.out")
			d := startDaemon(t, "dial callee", calleeOut, "ip", "netns", "exec", pair.ns[0], dial,
				"-listen", callee.String(), "-answer-after", "0", "-t1", dialT1.String())
			waitUDP(t, ctx, d.cmd.Process.Pid, callee)

			outs := make([]string, mediaCallsPerRate)
			errs := make([]error, mediaCallsPerRate)
			sem := make(chan struct{}, mediaCallsParallel)
			var wg sync.WaitGroup
			for i := range outs {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					outs[i] = filepath.Join(dir, fmt.Sprintf("caller-%02d.out", i))
					rctx, rcancel := context.WithTimeout(ctx, mediaCallsLength+dialRunTimeout)
					defer rcancel()
					// Each caller on its own SIP port within the SIP rule's
					// range: the callee's port plus 1+i.
					errs[i] = exitErrOrNil(runToFile(rctx, outs[i], "ip", "netns", "exec", pair.ns[1], dial,
						"-listen", netip.AddrPortFrom(pair.ip[1], uint16(mediaLossCallee+1+i)).String(), "-t1", dialT1.String(),
						"-hangup-after", mediaCallsLength.String(), "sip:dial@"+callee.String()))
				})
			}
			wg.Wait()
			defer func() { logTails(t, calleeOut) }()
			var recv, lost int
			var mos []float64
			byes := map[string]int{}
			for i, out := range outs {
				require.NoError(t, errs[i], "caller %d (%s)", i, filepath.Base(out))
				byes[byeOutcome(out)]++
				q := waitQuality(t, ctx, out)
				recv += qInt(t, q, "received")
				lost += qInt(t, q, "lost")
				mos = append(mos, qFloat(t, q, "mos"))
			}
			d.stop()
			require.NoError(t, exitErrOrNil(d.err), "callee dial's exit")
			for _, l := range d.logLines(" quality call=") {
				q := parseQuality(l)
				recv += qInt(t, q, "received")
				lost += qInt(t, q, "lost")
				mos = append(mos, qFloat(t, q, "mos"))
			}
			n := float64(recv + lost)
			loss := float64(lost) / n
			slices.Sort(mos)
			t.Logf("FIGURE SIP %.0f %% / RTP %.0f %% loss each way: %d calls, BYEs %v; RTP loss measured %.2f %% over %.0f packets; MOS min %.2f median %.2f max %.2f (%d sides); SIP datagrams dropped %d to the callee, %d to the callers",
				100*rate, 100*mediaCallsRTPLoss, mediaCallsPerRate, byes, 100*loss, n,
				mos[0], mos[len(mos)/2], mos[len(mos)-1], len(mos), pair.dropped(t, 0), pair.dropped(t, 1))
			allowed := byeFailuresAllowed(rate, mediaCallsPerRate)
			require.GreaterOrEqual(t, byes["answered"], mediaCallsPerRate-allowed,
				"callers' BYEs answered (at %.0f %% loss up to %d may lose every send or answer)", 100*rate, allowed)
			require.Len(t, mos, 2*mediaCallsPerRate, "a quality line per call at each side")
			sigma := math.Sqrt(mediaCallsRTPLoss * (1 - mediaCallsRTPLoss) / n)
			require.InDelta(t, mediaCallsRTPLoss, loss, 4*sigma+0.005, "measured RTP loss")
		})
	}
}

// byeFailuresAllowed bounds how many of n BYEs sent by dial (T1 dialT1:
// six sends within Timer F, at 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s) may time
// out when each datagram is lost at loss each way: one fails when every
// send or its answer is lost, (1-(1-loss)²)⁶ a call. It is the least k
// with a chance under 10⁻³ that more than k fail: 0 at 10 %, 1 at 20 %,
// 3 at 30 % for 12 calls.
func byeFailuresAllowed(loss float64, n int) int {
	return failuresAllowed(math.Pow(exchangeLost(loss), 6), n, 1e-3)
}
