package rtp

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacerDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const period = 20 * time.Millisecond
	tests := []struct {
		name      string
		n         int64
		now       time.Duration // after t0
		skip, run int
	}{
		{name: "early", n: 0, now: -time.Millisecond},
		{name: "on time", n: 0, now: 0, run: 1},
		{name: "late within the period", n: 1, now: period + 19*time.Millisecond, run: 1},
		{name: "two due", n: 1, now: 2 * period, run: 2},
		{name: "catch up limit", n: 0, now: time.Duration(SendMaxCatchUpFrames-1) * period, run: SendMaxCatchUpFrames},
		{name: "skip the oldest", n: 10, now: 19 * period, skip: 10 - SendMaxCatchUpFrames, run: SendMaxCatchUpFrames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pacer{start: t0, period: period, n: tt.n}
			skip, run := p.due(t0.Add(tt.now), SendMaxCatchUpFrames)
			require.Equal(t, tt.skip, skip)
			require.Equal(t, tt.run, run)
		})
	}
}

func TestPacerSetPeriod(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := pacer{start: t0, period: 20 * time.Millisecond, n: 5}
	p.setPeriod(30 * time.Millisecond)
	require.Equal(t, t0.Add(100*time.Millisecond), p.deadline(), "the next tick keeps its time")
	p.n = 2
	require.Equal(t, t0.Add(160*time.Millisecond), p.deadline())
}

// runPacer in virtual time: every tick is handled at its deadline
// start + n·period although the handler itself takes time, so the cadence
// does not drift; a stall of several periods is caught up by at most
// SendMaxCatchUpFrames ticks and the older ones are skipped.
func TestRunPacerNoDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const period = 20 * time.Millisecond
		const ticks = 3000 // one minute
		const stallAt, stall = 1000, 7*period + period/2
		start := time.Now()
		p := &pacer{start: start, period: period}
		quit := make(chan struct{})
		done := make(chan struct{})
		var handled, skipped []int64
		var late LatenessHistogram
		go func() {
			defer close(done)
			runPacer(quit, p, func(now time.Time, p *pacer) {
				skip, run := p.due(now, SendMaxCatchUpFrames)
				for range skip {
					skipped = append(skipped, p.n)
					p.n++
				}
				for range run {
					late.Add(now.Sub(p.deadline()))
					handled = append(handled, p.n)
					p.n++
				}
				// The work of a tick takes 3 ms; once, the process stalls.
				time.Sleep(3 * time.Millisecond)
				if p.n == stallAt {
					time.Sleep(stall)
				}
				if p.n >= ticks {
					close(quit)
				}
			})
		}()
		<-done
		require.Equal(t, start.Add(ticks*period), p.deadline(), "no drift")
		require.Len(t, append(slices.Clone(handled), skipped...), ticks)
		// After tick stallAt-1 (handled at its deadline) the handler ran for
		// 3 ms plus the stall; every tick due by then came at once.
		wokeAt := time.Duration(stallAt-1)*period + 3*time.Millisecond + stall
		due := int((wokeAt-stallAt*period)/period) + 1
		require.Greater(t, due, SendMaxCatchUpFrames)
		require.Len(t, skipped, due-SendMaxCatchUpFrames)
		require.Equal(t, int64(stallAt), skipped[0])
		// Every handled tick but the catch-up burst ran exactly on time.
		require.Equal(t, uint64(ticks-len(skipped)), late.Count())
		require.LessOrEqual(t, late.Quantile(0.99), latenessFineStep, "p99 in the first bucket")
		firstRun := time.Duration(stallAt+len(skipped)) * period
		require.Equal(t, wokeAt-firstRun, late.Max())
	})
}

func TestLatenessHistogram(t *testing.T) {
	var h LatenessHistogram
	require.Zero(t, h.Quantile(0.99))
	require.Zero(t, h.Mean())
	var samples []time.Duration
	for i := range 1000 {
		d := time.Duration(i%100) * 37 * time.Microsecond // 0 … 3.66 ms
		if i%250 == 0 {
			d = time.Duration(20+i/10) * time.Millisecond // a few outliers, up to 120 ms
		}
		samples = append(samples, d)
		h.Add(d)
	}
	h.Add(-time.Millisecond) // counts as on time
	samples = append(samples, 0)
	slices.Sort(samples)
	require.Equal(t, uint64(len(samples)), h.Count())
	require.Equal(t, samples[len(samples)-1], h.Max())
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[int(q*float64(len(samples))+0.999999)-1]
		got := h.Quantile(q)
		require.GreaterOrEqual(t, got, exact, "q=%v", q)
		width := latenessFineStep
		if exact >= latenessFineLimit {
			width = latenessCoarseStep
		}
		if exact < latenessCoarseLimit {
			require.LessOrEqual(t, got-exact, width, "q=%v", q)
		}
	}
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	require.Equal(t, sum/time.Duration(len(samples)), h.Mean())

	var m LatenessHistogram
	m.Merge(&h)
	m.Merge(&h)
	require.Equal(t, 2*h.Count(), m.Count())
	require.Equal(t, h.Max(), m.Max())
	require.Equal(t, h.Quantile(0.99), m.Quantile(0.99))
}
