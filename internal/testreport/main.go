// Command testreport reads the output of `go test -json` on its standard
// input and prints what a person reading a CI log needs: each package's
// result line (with its coverage under -cover), the output of every test
// that failed, optionally a line per test as it ends (-progress), and at
// the end a summary of what ran and of every skip with its reason.
//
// It exits with status 1 when a test or a package failed, when a package
// did not build, when the input held no test result at all, or, with
// -fail-on-skip, when anything was skipped. The Makefile pipes `go test
// -json` into it (see `make unit` and `make interop`).
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var opt options
	flag.BoolVar(&opt.progress, "progress", false, "print a line as each test starts and ends")
	flag.BoolVar(&opt.failOnSkip, "fail-on-skip", false, "exit 1 when any test was skipped")
	flag.StringVar(&opt.title, "title", "tests", "name of the run in the summary")
	flag.Func("count", "a top-level test whose subtests the summary counts (repeatable)", func(s string) error {
		opt.count = append(opt.count, s)
		return nil
	})
	flag.Parse()
	r := newReport(os.Stdout, opt)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if !r.summarize() {
		os.Exit(1)
	}
}
