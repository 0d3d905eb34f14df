// Command soakplot reads the CSV of a soak run (scripts/soak.sh, issue 21
// §4), draws it as a PNG chart (RSS, Go heap, goroutines, open file
// descriptors, GC pause and calls in progress over time) and judges it by
// the criteria: after warm-up, RSS and goroutines do not grow by
// more than 5 % over the run; the open descriptors are back to their
// baseline after the load; no call failed. It prints the figures and
// exits 1 when a criterion fails.
//
//	soakplot -csv soak.csv -png soak.png -warmup 30s
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	in := flag.String("csv", "soak.csv", "the soak run's samples")
	out := flag.String("png", "soak.png", "the chart to write")
	warmup := flag.Duration("warmup", 30*time.Second, "load time left out of the trends")
	title := flag.String("title", "dialtone soak", "the chart's title")
	flag.Parse()
	if err := run(*in, *out, *title, warmup.Seconds()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in, out, title string, warmup float64) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	samples, err := ReadCSV(f)
	f.Close()
	if err != nil {
		return err
	}
	if err := Chart(samples, title, warmup, out); err != nil {
		return err
	}
	v, err := Analyze(samples, warmup)
	if err != nil {
		return err
	}
	fmt.Printf("samples after warm-up: %d\n", v.Samples)
	fmt.Printf("peak RSS: %.1f MiB\n", v.PeakRSS/(1<<20))
	fmt.Printf("RSS trend after warm-up: %+.2f %%\n", 100*v.RSSTrend)
	fmt.Printf("goroutine trend after warm-up: %+.2f %%\n", 100*v.GoroutineTrend)
	fmt.Printf("open fds: %v before the load, %v after\n", v.FDsBaseline, v.FDsAfter)
	fmt.Printf("failed calls (ua): %v\n", v.Failures)
	fmt.Printf("chart: %s\n", out)
	if ok, why := v.Pass(); !ok {
		for _, w := range why {
			fmt.Println("FAIL:", w)
		}
		return fmt.Errorf("soakplot: %d criteria failed", len(why))
	}
	fmt.Println("PASS")
	return nil
}

// createFile creates the chart's file.
func createFile(name string) (*os.File, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("soakplot: %w", err)
	}
	return f, nil
}
