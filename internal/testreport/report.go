package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// needsPrefix starts the reason of a skip for a missing requirement
// (internal/testenv.SkipPrefix; not imported, to keep this command free of
// test-only code).
const needsPrefix = "needs "

// maxLine bounds one line of go test -json output.
const maxLine = 16 << 20

// options are the command-line settings.
type options struct {
	// count names top-level tests whose subtests the summary counts
	// ("sip TestTorture: 74 subtests: 74 passed, 0 failed, 0 skipped"),
	// so that a corpus a test walks shows how much of it ran.
	count      []string
	progress   bool
	failOnSkip bool
	title      string
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string // build-output, build-fail
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

type testKey struct{ pkg, test string }

// skip is one skipped test and why.
type skip struct {
	pkg, test, reason string
}

// report accumulates a run.
type report struct {
	w     io.Writer
	opt   options
	start time.Time

	output  map[testKey][]string // lines of each running test
	pkgOut  map[string][]string  // each package's own lines
	passed  int
	failed  []testKey
	unended []testKey // running when their package failed
	skipped []skip

	counted map[testKey]*[3]int // passed, failed, skipped subtests of -count tests

	packages    int
	pkgFailed   []string
	buildFailed []string
	noTests     int
}

func newReport(w io.Writer, opt options) *report {
	return &report{w: w, opt: opt, output: map[testKey][]string{}, pkgOut: map[string][]string{},
		counted: map[testKey]*[3]int{}}
}

// read consumes the whole input; lines that are not JSON events (a
// compiler's error, a panic before the test binary started) are printed
// as they are.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(r.w, string(line))
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	if r.start.IsZero() && !e.Time.IsZero() {
		r.start = e.Time
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.w, e.Output)
		return
	case "build-fail":
		r.buildFailed = append(r.buildFailed, e.ImportPath)
		return
	}
	if e.Test == "" {
		r.handlePackage(e)
		return
	}
	k := testKey{e.Package, e.Test}
	r.countSubtest(e)
	switch e.Action {
	case "run", "cont": // a parallel test runs from "cont" on
		if r.opt.progress {
			verb := map[string]string{"run": "RUN ", "cont": "CONT"}[e.Action]
			fmt.Fprintf(r.w, "%s %s %s\n", r.stamp(e), verb, e.Test)
		}
	case "output":
		r.output[k] = append(r.output[k], e.Output)
	case "pass":
		r.passed++
		r.progress(e, "PASS", "")
		delete(r.output, k)
	case "skip":
		s := skip{pkg: e.Package, test: e.Test, reason: skipReason(r.output[k])}
		r.skipped = append(r.skipped, s)
		r.progress(e, "SKIP", s.reason)
		delete(r.output, k)
	case "fail":
		r.failed = append(r.failed, k)
		r.progress(e, "FAIL", "")
		fmt.Fprintf(r.w, "--- output of %s (%s):\n", e.Test, e.Package)
		for _, l := range r.output[k] {
			fmt.Fprint(r.w, l)
		}
		delete(r.output, k)
	}
}

// handlePackage keeps a package's own lines (its result line with the
// coverage, the shuffle seed, whatever the test binary printed outside any
// test: a panic, goleak's report) and prints, when the package ends, only
// its result line if it passed, all of them if it failed.
func (r *report) handlePackage(e event) {
	switch e.Action {
	case "output":
		r.pkgOut[e.Package] = append(r.pkgOut[e.Package], e.Output)
	case "pass", "skip": // skip: no test files
		r.packages++
		if e.Action == "skip" {
			r.noTests++
		}
		if l := resultLine(r.pkgOut[e.Package]); l != "" {
			fmt.Fprint(r.w, l)
		}
		delete(r.pkgOut, e.Package)
	case "fail":
		r.packages++
		r.pkgFailed = append(r.pkgFailed, e.Package)
		r.printUnended(e.Package)
		for _, l := range r.pkgOut[e.Package] {
			fmt.Fprint(r.w, l)
		}
		delete(r.pkgOut, e.Package)
	}
}

// printUnended prints the output of the package's tests that never ended:
// when the test binary dies (-timeout's panic, a crash in a goroutine) the
// tests still running get no result, and their lines hold the reason.
func (r *report) printUnended(pkg string) {
	var unended []testKey
	for k := range r.output {
		if k.pkg == pkg {
			unended = append(unended, k)
		}
	}
	slices.SortFunc(unended, func(a, b testKey) int { return strings.Compare(a.test, b.test) })
	for _, k := range unended {
		r.unended = append(r.unended, k)
		fmt.Fprintf(r.w, "--- %s never ended (%s); its output:\n", k.test, k.pkg)
		for _, l := range r.output[k] {
			fmt.Fprint(r.w, l)
		}
		delete(r.output, k)
	}
}

// resultLine returns the last non-empty line of a package's output: go
// test's "ok  pkg  1.2s  coverage: …" or "?  pkg  [no test files]".
func resultLine(lines []string) string {
	for _, l := range slices.Backward(lines) {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return ""
}

func (r *report) stamp(e event) string {
	if e.Time.IsZero() || r.start.IsZero() {
		return "[    ]"
	}
	return fmt.Sprintf("[%4.0fs]", e.Time.Sub(r.start).Seconds())
}

func (r *report) progress(e event, verdict, reason string) {
	if !r.opt.progress {
		return
	}
	line := fmt.Sprintf("%s %s %s (%.2fs)", r.stamp(e), verdict, e.Test, e.Elapsed)
	if reason != "" {
		line += ": " + reason
	}
	fmt.Fprintln(r.w, line)
}

// logLine is a line of t.Log/t.Skip output: "    file_test.go:12: text".
var logLine = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: ?(.*)$`)

// skipReason returns the message of the last t.Skip (or t.Log) line of a
// test's output: the reason it gave.
func skipReason(lines []string) string {
	for _, l := range slices.Backward(lines) {
		if m := logLine.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
			return strings.TrimSpace(m[1])
		}
	}
	return "(no reason given)"
}

// countSubtest counts the end of a subtest of a test named by -count.
func (r *report) countSubtest(e event) {
	top, _, sub := strings.Cut(e.Test, "/")
	if !sub || !slices.Contains(r.opt.count, top) {
		return
	}
	i := map[string]int{"pass": 0, "fail": 1, "skip": 2}
	n, ok := i[e.Action]
	if !ok {
		return
	}
	k := testKey{e.Package, top}
	c := r.counted[k]
	if c == nil {
		c = new([3]int)
		r.counted[k] = c
	}
	c[n]++
}

// summarize prints the summary and reports whether the run is a success.
func (r *report) summarize() bool {
	ok := true
	fmt.Fprintf(r.w, "\n== %s: packages %d (%d without tests); tests and subtests: %d passed, %d failed, %d skipped\n",
		r.opt.title, r.packages, r.noTests, r.passed, len(r.failed), len(r.skipped))
	for _, name := range r.opt.count {
		found := false
		for k, c := range r.counted {
			if k.test != name {
				continue
			}
			found = true
			fmt.Fprintf(r.w, "%s %s: %d subtests: %d passed, %d failed, %d skipped\n",
				shortPkg(k.pkg), name, c[0]+c[1]+c[2], c[0], c[1], c[2])
		}
		if !found {
			fmt.Fprintf(r.w, "FAIL: %s ran no subtest (-count)\n", name)
			ok = false
		}
	}
	if len(r.skipped) > 0 {
		var needs int
		for _, s := range r.skipped {
			if strings.HasPrefix(s.reason, needsPrefix) {
				needs++
			}
		}
		fmt.Fprintf(r.w, "skipped (%d for a missing requirement, %d for another reason):\n", needs, len(r.skipped)-needs)
		for _, s := range r.skipped {
			fmt.Fprintf(r.w, "  SKIP %s %s: %s\n", shortPkg(s.pkg), s.test, s.reason)
		}
		if r.opt.failOnSkip {
			fmt.Fprintf(r.w, "FAIL: %d skipped where nothing may skip (-fail-on-skip)\n", len(r.skipped))
			ok = false
		}
	}
	for _, k := range r.failed {
		fmt.Fprintf(r.w, "  FAIL %s %s\n", shortPkg(k.pkg), k.test)
		ok = false
	}
	for _, k := range r.unended {
		fmt.Fprintf(r.w, "  NEVER ENDED %s %s (the test binary died: see its output above)\n", shortPkg(k.pkg), k.test)
		ok = false
	}
	for _, p := range r.pkgFailed {
		fmt.Fprintf(r.w, "  FAIL package %s\n", p)
		ok = false
	}
	for _, p := range r.buildFailed {
		fmt.Fprintf(r.w, "  FAIL build %s\n", p)
		ok = false
	}
	if r.packages == 0 {
		fmt.Fprintln(r.w, "FAIL: no test result in the input")
		ok = false
	}
	// The closing line in the plain form any CI reader understands.
	fmt.Fprintf(r.w, "%s: %d passed, %d failed, %d skipped\n", r.opt.title, r.passed, len(r.failed), len(r.skipped))
	return ok
}

// shortPkg drops the module path.
func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/dialtone/dialtone/")
}
