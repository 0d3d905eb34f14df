package rtp

import (
	"slices"
	"testing"
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

	// Since: an interval's samples out of the running histogram.
	snap := h
	var later LatenessHistogram
	for _, d := range []time.Duration{0, 2 * time.Millisecond, 7350 * time.Microsecond} {
		h.Add(d)
		later.Add(d)
	}
	d := h.Since(&snap)
	require.Equal(t, later.Count(), d.Count())
	require.Equal(t, later.Mean(), d.Mean())
	require.Equal(t, later.Quantile(0.5), d.Quantile(0.5))
	require.Equal(t, 7400*time.Microsecond, d.Max(), "upper bound of the top bucket")
	h = snap

	var m LatenessHistogram
	m.Merge(&h)
	m.Merge(&h)
	require.Equal(t, 2*h.Count(), m.Count())
	require.Equal(t, h.Max(), m.Max())
	require.Equal(t, h.Quantile(0.99), m.Quantile(0.99))
}
