package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// run builds a CSV: a baseline sample, load samples every 10 s for
// loadSecs with rss(t) and goroutines 50, then two after the load.
func makeCSV(loadSecs int, rss func(t float64) float64, fdsAfter, failures int) string {
	var b strings.Builder
	b.WriteString(strings.Join(Columns, ",") + "\n")
	row := func(t float64, phase string, rss, gor, fds, fail float64) {
		fmt.Fprintf(&b, "%v,%s,%v,%v,%v,%v,0.0004,%v,%v,%v,100,0\n", t, phase, rss, rss/2, gor, fds, gor/2, t, fail)
	}
	row(0, PhaseBaseline, 20e6, 10, 12, 0)
	for t := 10; t <= 10+loadSecs; t += 10 {
		row(float64(t), PhaseLoad, rss(float64(t)), 50, 40, 0)
	}
	end := float64(10 + loadSecs)
	row(end+10, PhaseAfter, rss(end), 10, 20, float64(failures))
	row(end+20, PhaseAfter, rss(end), 10, float64(fdsAfter), float64(failures))
	return b.String()
}

func TestAnalyze(t *testing.T) {
	flat := func(float64) float64 { return 40e6 }
	tests := []struct {
		name     string
		csv      string
		warmup   float64
		pass     bool
		err      error
		whyHas   string
		rssTrend float64
	}{
		{name: "flat", csv: makeCSV(120, flat, 12, 0), warmup: 30, pass: true},
		{name: "growth in warm-up only", csv: makeCSV(120, func(t float64) float64 { return 40e6 * min(1, t/30) }, 12, 0), warmup: 30, pass: true},
		{name: "leak", csv: makeCSV(120, func(t float64) float64 { return 40e6 + 1e5*t }, 12, 0), warmup: 30, whyHas: "RSS grows"},
		{name: "fds not back", csv: makeCSV(120, flat, 13, 0), warmup: 30, whyHas: "open descriptors 13 after the load, 12 before"},
		{name: "failed calls", csv: makeCSV(120, flat, 12, 2), warmup: 30, whyHas: "2 calls failed"},
		{name: "too short", csv: makeCSV(20, flat, 12, 0), warmup: 30, err: ErrShortRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples, err := ReadCSV(strings.NewReader(tt.csv))
			require.NoError(t, err)
			v, err := Analyze(samples, tt.warmup)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			ok, why := v.Pass()
			require.Equal(t, tt.pass, ok, "%v", why)
			if tt.whyHas != "" {
				require.Contains(t, strings.Join(why, "; "), tt.whyHas)
			}
		})
	}
}

func TestTrend(t *testing.T) {
	x := []float64{0, 10, 20, 30}
	require.InDelta(t, 0, trend(x, []float64{5, 5, 5, 5}), 1e-12)
	// 100 → 130 over the span, mean 115.
	require.InDelta(t, 30.0/115, trend(x, []float64{100, 110, 120, 130}), 1e-12)
	require.Less(t, trend(x, []float64{130, 120, 110, 100}), 0.0)
}

func TestReadCSVErrors(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("time_s,phase\n1,load\n"))
	require.ErrorContains(t, err, "no column")
	_, err = ReadCSV(strings.NewReader(strings.Join(Columns, ",") + "\n"))
	require.ErrorContains(t, err, "no data row")
	bad := strings.Replace(makeCSV(40, func(float64) float64 { return 1 }, 12, 0), "0.0004", "x", 1)
	_, err = ReadCSV(strings.NewReader(bad))
	require.ErrorContains(t, err, "gc_pause_max_s")
}

// TestRun: the program writes a PNG and fails on a leaking run.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "soak.csv"), filepath.Join(dir, "soak.png")
	require.NoError(t, os.WriteFile(in, []byte(makeCSV(120, func(float64) float64 { return 40e6 }, 12, 0)), 0o644))
	require.NoError(t, run(in, out, "test", 30))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "a PNG")

	require.NoError(t, os.WriteFile(in, []byte(makeCSV(120, func(t float64) float64 { return 40e6 + 1e5*t }, 12, 0)), 0o644))
	require.ErrorContains(t, run(in, out, "test", 30), "criteria failed")
}
