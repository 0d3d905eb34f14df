// Command mutate checks that the tests notice small bugs. It reads a list
// of one-line mutations, applies each in turn to a temporary copy of the
// working tree (the real tree is never modified), runs the tests the
// mutation names, and reports KILLED when they fail (or time out) and
// SURVIVED when they pass. It exits non-zero when a mutation survived,
// did not apply (its fragment is not in the file exactly once) or did not
// build, or when the tests fail on the unmutated copy.
//
// Each non-blank line of the list that does not start with # is
//
//	file ||| original fragment ||| replacement ||| go test arguments ||| description
//
// The file is relative to the repository root and may be a glob
// ("ua/*.go"): the fragment must occur exactly once in the files it
// matches; \n and \t in the fragment and the replacement stand
// for a newline and a tab, \\ for a backslash. The go test arguments are
// split on white space (no quoting): packages and flags, for example
// "-race ./ua/ -run TestClose|TestShutdown".
//
// Usage, from the repository root:
//
//	go run ./internal/tools/mutate [-list scripts/mutations.txt] [-baseline-timeout 30m] [-timeout 10m] [-match REGEXP] [-v]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Default bounds of the go test runs: the first one in the temporary copy
// builds every package (minutes on a loaded machine), a mutation's only
// rebuilds what the mutated file touches, and a mutation may make a test
// hang.
const (
	DefaultBaselineTimeout = 30 * time.Minute
	DefaultTimeout         = 10 * time.Minute
)

// sep separates the fields of a mutation line.
const sep = "|||"

// Mutation is one line of the list.
type Mutation struct {
	Line        int // in the list, for messages
	File        string
	From, To    string
	Args        []string
	Description string
}

// Outcome of running the tests against a mutation.
type Outcome string

// Outcomes.
const (
	Killed     Outcome = "KILLED"
	Survived   Outcome = "SURVIVED"
	NotApplied Outcome = "NOT-APPLIED"
	BuildError Outcome = "BUILD-ERROR"
)

var errSyntax = errors.New("mutate: bad mutation line")

// unescape turns \n, \t and \\ into a newline, a tab and a backslash.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%w: trailing backslash", errSyntax)
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf("%w: unknown escape \\%c", errSyntax, s[i])
		}
	}
	return b.String(), nil
}

// Parse reads a mutation list.
func Parse(r io.Reader) ([]Mutation, error) {
	var out []Mutation
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, sep)
		if len(f) != 5 {
			return nil, fmt.Errorf("%w %d: %d fields, want 5 separated by %q", errSyntax, n, len(f), sep)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		m := Mutation{Line: n, File: f[0], Args: strings.Fields(f[3]), Description: f[4]}
		var err error
		if m.From, err = unescape(f[1]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if m.To, err = unescape(f[2]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if m.File == "" || m.From == "" || len(m.Args) == 0 || m.Description == "" {
			return nil, fmt.Errorf("%w %d: empty field", errSyntax, n)
		}
		if m.From == m.To {
			return nil, fmt.Errorf("%w %d: the replacement is the original", errSyntax, n)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Apply returns src with m applied; it fails unless the fragment occurs
// exactly once.
func Apply(src []byte, m Mutation) ([]byte, error) {
	switch c := bytes.Count(src, []byte(m.From)); c {
	case 1:
		return bytes.Replace(src, []byte(m.From), []byte(m.To), 1), nil
	default:
		return nil, fmt.Errorf("fragment found %d times in %s, want once", c, m.File)
	}
}

// locate finds the file of m under root: m.File may be a glob
// (filepath.Match syntax, "ua/*.go"), so that a list survives code moving
// between the files of a package; the fragment must then occur exactly
// once in all the files it matches.
func locate(root string, m Mutation) (string, []byte, error) {
	paths, err := filepath.Glob(filepath.Join(root, m.File))
	if err != nil {
		return "", nil, err
	}
	var found string
	var data []byte
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		if c := bytes.Count(b, []byte(m.From)); c > 0 {
			n += c
			found, data = p, b
		}
	}
	if n != 1 {
		return "", nil, fmt.Errorf("fragment found %d times in %s, want once", n, m.File)
	}
	return found, data, nil
}

// copyTree copies the files git knows in root (tracked, and untracked but
// not ignored, as they are in the working tree) into dst.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for name := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		st, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, data, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// runTests runs go test with args in dir, bounded by timeout, and tells
// whether it passed, timed out or failed to build, with its output.
func runTests(dir string, args []string, timeout time.Duration) (passed, timedOut, buildErr bool, out []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// -trimpath keeps the temporary directory's name out of the build
	// cache keys: a second run of the tool reuses the first one's builds.
	full := append([]string{"test", "-count=1", "-trimpath"}, args...)
	cmd := exec.CommandContext(ctx, "go", full...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return false, true, false, out
	}
	if err == nil {
		return true, false, false, out
	}
	build := bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]"))
	return false, false, build, out
}

// baselines groups the mutations' test runs that differ only in their
// -run pattern into one run each, with the patterns joined by |.
func baselines(ms []Mutation) [][]string {
	var keys []string
	runs := map[string][]string{}
	for _, m := range ms {
		var rest []string
		pattern := ""
		for i := 0; i < len(m.Args); i++ {
			a := m.Args[i]
			switch {
			case a == "-run" && i+1 < len(m.Args):
				pattern = m.Args[i+1]
				i++
			case strings.HasPrefix(a, "-run="):
				pattern = strings.TrimPrefix(a, "-run=")
			default:
				rest = append(rest, a)
			}
		}
		key := strings.Join(rest, " ")
		if _, ok := runs[key]; !ok {
			keys = append(keys, key)
			runs[key] = nil
		}
		if pattern == "" {
			runs[key] = append(runs[key], ".")
		} else if !slices.Contains(runs[key], pattern) {
			runs[key] = append(runs[key], pattern)
		}
	}
	out := make([][]string, 0, len(keys))
	for _, k := range keys {
		args := strings.Fields(k)
		if p := runs[k]; !slices.Contains(p, ".") {
			args = append(args, "-run", strings.Join(p, "|"))
		}
		out = append(out, args)
	}
	return out
}

func main() {
	list := flag.String("list", "scripts/mutations.txt", "the mutation list")
	baseTimeout := flag.Duration("baseline-timeout", DefaultBaselineTimeout, "bound of each test run on the unmutated copy")
	timeout := flag.Duration("timeout", DefaultTimeout, "bound of the test run of one mutation")
	match := flag.String("match", "", "run only the mutations whose description matches this regexp")
	verbose := flag.Bool("v", false, "print the test output of every run")
	flag.Parse()
	os.Exit(run(*list, *baseTimeout, *timeout, *match, *verbose))
}

func run(list string, baseTimeout, timeout time.Duration, match string, verbose bool) int {
	f, err := os.Open(list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ms, err := Parse(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if match != "" {
		re, err := regexp.Compile(match)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		kept := ms[:0]
		for _, m := range ms {
			if re.MatchString(m.Description) {
				kept = append(kept, m)
			}
		}
		ms = kept
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "copy:", err)
		return 2
	}

	// The tests must pass on the unmutated copy, or a kill means nothing.
	for _, args := range baselines(ms) {
		ok, to, _, out := runTests(tmp, args, baseTimeout)
		if !ok {
			fmt.Printf("BASELINE FAILED (timeout=%v): go test %s\n%s\n", to, strings.Join(args, " "), out)
			return 1
		}
		fmt.Printf("baseline passed: go test %s\n", strings.Join(args, " "))
	}

	counts := map[Outcome]int{}
	for _, m := range ms {
		path, orig, err := locate(tmp, m)
		if err != nil {
			fmt.Printf("%-11s %s:%d  %s: %v\n", NotApplied, list, m.Line, m.Description, err)
			counts[NotApplied]++
			continue
		}
		mut, err := Apply(orig, m)
		if err != nil {
			fmt.Printf("%-11s %s:%d  %s: %v\n", NotApplied, list, m.Line, m.Description, err)
			counts[NotApplied]++
			continue
		}
		if err := os.WriteFile(path, mut, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		start := time.Now()
		passed, timedOut, buildErr, out := runTests(tmp, m.Args, timeout)
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		o, note := Killed, ""
		switch {
		case passed:
			o = Survived
		case buildErr:
			o = BuildError
		case timedOut:
			note = " (timeout)"
		}
		counts[o]++
		rel, _ := filepath.Rel(tmp, path)
		fmt.Printf("%-11s %s  %s%s [%s]\n", o, rel, m.Description, note, time.Since(start).Round(time.Second))
		if verbose || o == BuildError {
			fmt.Printf("%s\n", out)
		}
	}
	fmt.Printf("mutations: %d, killed: %d, survived: %d, not applied: %d, build errors: %d\n",
		len(ms), counts[Killed], counts[Survived], counts[NotApplied], counts[BuildError])
	if counts[Killed] != len(ms) {
		return 1
	}
	return 0
}
