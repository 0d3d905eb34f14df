package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Phases of a soak run, the CSV's phase column.
const (
	PhaseBaseline = "baseline" // before the load
	PhaseLoad     = "load"     // while SIPp places calls
	PhaseAfter    = "after"    // after the load stopped
)

// MaxTrend is the pass bound of the issue: after warm-up, RSS and
// goroutines may not grow by more than 5 % over the run.
const MaxTrend = 0.05

// Columns are the CSV's columns, in order; soak.sh writes them.
var Columns = []string{"time_s", "phase", "rss_bytes", "heap_inuse_bytes", "goroutines", "open_fds",
	"gc_pause_max_s", "calls_active", "calls_established", "call_failures", "rtp_packets_received", "rtp_packets_lost"}

// Sample is one row of the CSV.
type Sample struct {
	T     float64 // seconds since the start
	Phase string
	V     map[string]float64 // by column name
}

// ErrShortRun: too few samples after warm-up to tell a trend.
var ErrShortRun = errors.New("soakplot: fewer than 3 load samples after warm-up; run longer or warm up shorter")

// ReadCSV reads a soak CSV with a header row naming at least Columns.
func ReadCSV(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("soakplot: csv: %w", err)
	}
	if len(rows) < 2 {
		return nil, errors.New("soakplot: csv: no data row")
	}
	idx := map[string]int{}
	for i, h := range rows[0] {
		idx[strings.TrimSpace(h)] = i
	}
	for _, c := range Columns {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("soakplot: csv: no column %q", c)
		}
	}
	var out []Sample
	for n, row := range rows[1:] {
		s := Sample{Phase: row[idx["phase"]], V: map[string]float64{}}
		for _, c := range Columns {
			if c == "phase" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(row[idx[c]]), 64)
			if err != nil {
				return nil, fmt.Errorf("soakplot: csv row %d, %s: %w", n+2, c, err)
			}
			s.V[c] = v
		}
		s.T = s.V["time_s"]
		out = append(out, s)
	}
	return out, nil
}

// Verdict is the outcome of the pass criteria.
type Verdict struct {
	// RSSTrend and GoroutineTrend are the growth of the least-squares
	// line through the load samples after warm-up, from the first to the
	// last, relative to the mean.
	RSSTrend, GoroutineTrend float64
	// FDsBaseline is the open descriptors before the load, FDsAfter at
	// the last sample after it.
	FDsBaseline, FDsAfter float64
	// Failures is how many calls failed during the run (ua's counter).
	Failures float64
	// PeakRSS is the largest RSS sampled, in bytes.
	PeakRSS float64
	// Samples is the number of load samples the trends are drawn from.
	Samples int
}

// Pass reports whether every criterion holds, and lists those that do not.
func (v Verdict) Pass() (bool, []string) {
	var why []string
	if v.RSSTrend > MaxTrend {
		why = append(why, fmt.Sprintf("RSS grows %.1f %% after warm-up (bound %.0f %%)", 100*v.RSSTrend, 100*MaxTrend))
	}
	if v.GoroutineTrend > MaxTrend {
		why = append(why, fmt.Sprintf("goroutines grow %.1f %% after warm-up (bound %.0f %%)", 100*v.GoroutineTrend, 100*MaxTrend))
	}
	if v.FDsAfter > v.FDsBaseline {
		why = append(why, fmt.Sprintf("open descriptors %v after the load, %v before", v.FDsAfter, v.FDsBaseline))
	}
	if v.Failures > 0 {
		why = append(why, fmt.Sprintf("%v calls failed", v.Failures))
	}
	return len(why) == 0, why
}

// Analyze computes the verdict of samples, ignoring the first warmup
// seconds of the load.
func Analyze(samples []Sample, warmup float64) (Verdict, error) {
	var v Verdict
	var base, after *Sample
	loadStart := -1.0
	var ts, rss, gor []float64
	for i := range samples {
		s := &samples[i]
		v.PeakRSS = max(v.PeakRSS, s.V["rss_bytes"])
		switch s.Phase {
		case PhaseBaseline:
			if base == nil {
				base = s
			}
		case PhaseLoad:
			if loadStart < 0 {
				loadStart = s.T
			}
			if s.T-loadStart >= warmup {
				ts = append(ts, s.T)
				rss = append(rss, s.V["rss_bytes"])
				gor = append(gor, s.V["goroutines"])
			}
		case PhaseAfter:
			after = s
		default:
			return v, fmt.Errorf("soakplot: unknown phase %q at %v s", s.Phase, s.T)
		}
	}
	if base == nil || after == nil {
		return v, errors.New("soakplot: the run needs a baseline sample and one after the load")
	}
	if len(ts) < 3 {
		return v, ErrShortRun
	}
	v.Samples = len(ts)
	v.RSSTrend = trend(ts, rss)
	v.GoroutineTrend = trend(ts, gor)
	v.FDsBaseline, v.FDsAfter = base.V["open_fds"], after.V["open_fds"]
	v.Failures = after.V["call_failures"] - base.V["call_failures"]
	return v, nil
}

// trend fits y = a + b·x by least squares and returns b·(last x − first
// x) / mean(y): the growth over the span relative to the level.
func trend(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	den := n*sxx - sx*sx
	mean := sy / n
	if den == 0 || mean == 0 {
		return 0
	}
	b := (n*sxy - sx*sy) / den
	return b * (x[len(x)-1] - x[0]) / mean
}
