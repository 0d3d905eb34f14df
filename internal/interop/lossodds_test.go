//go:build interop

package interop

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The odds that RFC 3261's timers give up on a call across a lossy link
// (each datagram lost at the same rate each way, independently): the pass
// bounds of the loss tests are computed from them, not guessed.

// clientSends returns when a UDP client transaction sends its request
// within its timeout of 64·T1 (Timer B or F), first send at 0: Timer A
// doubles without a cap (INVITE), Timer E up to T2 (§17.1.1.2,
// §17.1.2.2). margin leaves room for the last send's answer: a send
// later than 64·T1 - margin is not counted.
func clientSends(t1, t2 time.Duration, invite bool, margin time.Duration) []time.Duration {
	var at []time.Duration
	next, iv := time.Duration(0), t1
	for next < 64*t1-margin {
		at = append(at, next)
		next += iv
		iv *= 2
		if !invite {
			iv = min(iv, t2)
		}
	}
	return at
}

// exchangeLost is the chance that one request and its answer do not both
// get across at loss each way.
func exchangeLost(loss float64) float64 { return 1 - (1-loss)*(1-loss) }

// nonInviteTimeout is the chance that a non-INVITE request sent at sends
// gets no answer: every send or its answer lost, the peer answering each
// copy it gets (a BYE answered in SIPp's timewait).
func nonInviteTimeout(loss float64, sends []time.Duration) float64 {
	return math.Pow(exchangeLost(loss), float64(len(sends)))
}

// inviteTimeout is the chance that an INVITE sent at sends (clientSends)
// gets no 2xx before Timer B (by deadline, minus margin) from a UAS that
// answers the first copy it gets at once and retransmits the 2xx after
// first, 2·first, 4·first … (Timer G doubling without a cap: the fewest
// copies any T2 allows, so the chance is an upper bound). Later INVITE
// copies, which make the UAS send its 2xx again, are not counted either.
// A call fails when every INVITE is lost, or when the first to arrive
// is the k-th and every 2xx copy sent in time is lost.
func inviteTimeout(loss float64, sends []time.Duration, first, deadline, margin time.Duration) float64 {
	q := math.Pow(loss, float64(len(sends)))
	for k, at := range sends {
		copies := 0
		for c, iv := at, first; c < deadline-margin; c, iv = c+iv, 2*iv {
			copies++
		}
		q += math.Pow(loss, float64(k)) * (1 - loss) * math.Pow(loss, float64(copies))
	}
	return q
}

// failuresAllowed is the least k such that more than k of n calls, each
// failing with chance q independently, happens with a chance under
// chance (the binomial tail).
func failuresAllowed(q float64, n int, chance float64) int {
	if q <= 0 {
		return 0
	}
	if q >= 1 {
		return n
	}
	// log of P(X = j), binomial(n, q)
	logP := func(j int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(j + 1))
		c, _ := math.Lgamma(float64(n - j + 1))
		return a - b - c + float64(j)*math.Log(q) + float64(n-j)*math.Log1p(-q)
	}
	for k := 0; k < n; k++ {
		tail := 0.0 // P(X > k)
		for j := n; j > k; j-- {
			tail += math.Exp(logP(j))
		}
		if tail < chance {
			return k
		}
	}
	return n
}

// binomialInterval returns the range [lo, hi] that the count of n
// independent trials, each a success with chance q, falls outside of with
// a chance under chance: below lo with less than chance/2, above hi with
// less than chance/2 (the binomial tails, summed exactly).
func binomialInterval(n int, q, chance float64) (lo, hi int) {
	if n <= 0 || q <= 0 {
		return 0, 0
	}
	if q >= 1 {
		return n, n
	}
	a, _ := math.Lgamma(float64(n + 1))
	p := func(j int) float64 { // P(X = j)
		b, _ := math.Lgamma(float64(j + 1))
		c, _ := math.Lgamma(float64(n - j + 1))
		return math.Exp(a - b - c + float64(j)*math.Log(q) + float64(n-j)*math.Log1p(-q))
	}
	// lo: the largest with P(X < lo) < chance/2.
	below := 0.0
	for lo = 0; lo < n; lo++ {
		if below+p(lo) >= chance/2 {
			break
		}
		below += p(lo)
	}
	// hi: the smallest with P(X > hi) < chance/2.
	above := 0.0
	for hi = n; hi > 0; hi-- {
		if above+p(hi) >= chance/2 {
			break
		}
		above += p(hi)
	}
	return lo, hi
}

// TestLossOdds checks the odds helpers against figures worked by hand.
func TestLossOdds(t *testing.T) {
	sec := time.Second
	require.Equal(t, []time.Duration{0, sec, 3 * sec, 7 * sec, 15 * sec, 31 * sec, 63 * sec},
		clientSends(sec, 4*sec, true, 250*time.Millisecond), "Timer A, T1 1 s")
	bye := clientSends(sec, 4*sec, false, 250*time.Millisecond)
	require.Len(t, bye, 18, "Timer E, T1 1 s, T2 4 s: 0, 1, 3, 7, 11 … 63 s")
	require.Equal(t, 63*sec, bye[len(bye)-1])
	require.Len(t, clientSends(100*time.Millisecond, 4*sec, false, 0), 7, "T1 100 ms: 0, 0.1, 0.3 … 6.3 s")

	// Every INVITE lost; or the first to arrive is the one at 0 and its
	// 2xx copies at 0, 0.5, 1.5 … 63.5 s (8) lost; or it is one at 1 … 31
	// s and its 7 copies in time lost; or the one at 63 s and its copies
	// at 63 and 63.5 s lost.
	inv := clientSends(sec, 4*sec, true, 250*time.Millisecond)
	q := inviteTimeout(0.3, inv, 500*time.Millisecond, 64*sec, 250*time.Millisecond)
	want := math.Pow(0.3, 7) + 0.7*math.Pow(0.3, 8) + math.Pow(0.3, 6)*0.7*math.Pow(0.3, 2)
	for k := 1; k < 6; k++ {
		want += math.Pow(0.3, float64(k)) * 0.7 * math.Pow(0.3, 7)
	}
	require.InDelta(t, want, q, 1e-12)

	require.Equal(t, 0, failuresAllowed(0, 1000, 1e-6))
	require.Equal(t, 3, byeFailuresAllowed(0.3, 12), "as lossmedia_test.go's comment works out")
	require.Equal(t, 1, byeFailuresAllowed(0.2, 12))
	require.Equal(t, 0, byeFailuresAllowed(0.1, 12))
	// Poisson check: q = 10⁻³, n = 1,000 (λ 1): P(X > 6) ≈ 8·10⁻⁵, P(X > 8) ≈ 1·10⁻⁶.
	require.Equal(t, 9, failuresAllowed(1e-3, 1000, 1e-6))

	// Binomial tails: n = 4, q = ½ (P = 1/16, 4/16, 6/16, 4/16, 1/16):
	// below 1 or above 3 each 1/16.
	lo, hi := binomialInterval(4, 0.5, 2.0/16+1e-9)
	require.Equal(t, [2]int{1, 3}, [2]int{lo, hi})
	lo, hi = binomialInterval(4, 0.5, 2.0/16)
	require.Equal(t, [2]int{0, 4}, [2]int{lo, hi}, "a tail of exactly chance/2 is not under it")
	// Normal check: n = 20,000, q = 0.0975 (σ ≈ 42): 10⁻⁶ two-sided is
	// about 4.9σ each side of the mean 1,950, a little more above (skew).
	lo, hi = binomialInterval(20000, 0.0975, 1e-6)
	require.InDelta(t, 1950-4.9*42, lo, 15)
	require.InDelta(t, 1950+4.9*42, hi, 15)
	require.Greater(t, hi-1950, 1950-lo, "the upper tail is the longer")
}
