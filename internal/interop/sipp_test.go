//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// Bounds of one interop run. The runs are bounded by SIPp's own -timeout,
// our programs' -timeout and the test's context, whichever ends first.
const (
	// runTimeout bounds a whole SIPp run (SIPp's -timeout and txuac's).
	runTimeout = 90 * time.Second
	// testTimeout bounds a test, builds and shutdown included.
	testTimeout = 150 * time.Second
	// startTimeout bounds how long a peer may take to start listening.
	startTimeout = 10 * time.Second
	// stopTimeout bounds how long a program may take to exit once
	// interrupted, before it is killed.
	stopTimeout = 10 * time.Second
	// tailLines is how much of each log a failing test prints.
	tailLines = 40
	// loopback is where all the traffic of these tests stays.
	loopback = "127.0.0.1"
)

// sippPath returns the sipp binary, or skips the test when there is none
// (fails it under CI=true, where the peers must be installed).
func sippPath(t *testing.T) string {
	t.Helper()
	return testenv.LookPath(t, "sipp", "sip-tester")
}

// buildProgram builds the command in ./<name> (without -race, for speed)
// into a temporary directory and returns its path.
func buildProgram(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./"+name)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./%s:\n%s", name, b)
	return out
}

// freePort returns a port that is free on loopback for both UDP and TCP at
// the time of the call (SIPp binds both with -t t1 and u1).
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(loopback, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// artifacts returns the test's artifact directory: kept with
// `go test -artifacts -outputdir DIR`, removed otherwise.
func artifacts(t *testing.T) string { return t.ArtifactDir() }

// logTails prints the last lines of each file when the test has failed.
func logTails(t *testing.T, files ...string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	t.Logf("artifacts in %s (kept with -artifacts -outputdir DIR)", artifacts(t))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Logf("--- %s: %v", filepath.Base(f), err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > tailLines {
			lines = lines[len(lines)-tailLines:]
		}
		t.Logf("--- tail of %s:\n%s", filepath.Base(f), strings.Join(lines, "\n"))
	}
}

// program is one of our commands running in the background.
type program struct {
	cmd     *exec.Cmd
	stdout  string // file with its standard output
	stderr  string
	addrs   chan string // "udp 127.0.0.1:5070" for each "listening" line
	done    chan struct{}
	waitErr error
}

// startProgram starts bin with args; its output goes to files in the
// artifact directory. It returns once the program has said where it
// listens on every network in networks.
func startProgram(t *testing.T, ctx context.Context, bin string, networks []string, args ...string) (*program, map[string]string) {
	t.Helper()
	return startProgramEnv(t, ctx, bin, nil, networks, args...)
}

// listeningLine matches the line our programs print for each listener,
// "listening udp 127.0.0.1:5070", after an optional "15:04:05.000 " time.
var listeningLine = regexp.MustCompile(`^(?:\d\d:\d\d:\d\d\.\d{3} )?listening (\S+ \S+)`)

// startProgramEnv is startProgram with env (KEY=value) added to the
// program's environment.
func startProgramEnv(t *testing.T, ctx context.Context, bin string, env, networks []string, args ...string) (*program, map[string]string) {
	t.Helper()
	base := filepath.Base(bin)
	cmd := exec.CommandContext(ctx, bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := launch(t, cmd, base, func(line string) (string, bool) {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			return m[1], true
		}
		return "", false
	})

	got := map[string]string{}
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	missing := func() bool {
		for _, n := range networks {
			if _, ok := got[n]; !ok {
				return true
			}
		}
		return false
	}
	for missing() {
		select {
		case a := <-p.addrs:
			n, addr, _ := strings.Cut(a, " ")
			got[n] = addr
		case <-p.done:
			logTails(t, p.stdout, p.stderr)
			t.Fatalf("%s exited before listening: %v", base, p.waitErr)
		case <-timer.C:
			t.Fatalf("%s did not listen within %s", base, startTimeout)
		}
	}
	return p, got
}

// launch starts cmd, which the test's end interrupts (killed after
// stopTimeout); its output goes to <name>.stdout and <name>.stderr in the
// artifact directory. Each line of its standard output for which watch
// (when not nil) returns true sends watch's value on p.addrs (a few are
// kept; the rest dropped).
func launch(t *testing.T, cmd *exec.Cmd, name string, watch func(line string) (string, bool)) *program {
	t.Helper()
	p := &program{
		cmd:    cmd,
		stdout: filepath.Join(artifacts(t), name+".stdout"),
		stderr: filepath.Join(artifacts(t), name+".stderr"),
		addrs:  make(chan string, 4),
		done:   make(chan struct{}),
	}
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(os.Interrupt) }
	p.cmd.WaitDelay = stopTimeout
	errf, err := os.Create(p.stderr)
	require.NoError(t, err)
	defer errf.Close()
	p.cmd.Stderr = errf
	pipe, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	outf, err := os.Create(p.stdout)
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start(), "start %s", name)
	go func() {
		defer close(p.done)
		defer outf.Close()
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(outf, line)
			if watch == nil {
				continue
			}
			if v, ok := watch(line); ok {
				select {
				case p.addrs <- v:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		p.waitErr = p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop interrupts the program and waits for it (killing it after
// stopTimeout). It is idempotent.
func (p *program) stop(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.waitErr
}

// summary returns the fields of the program's last "summary k=v …" line.
func (p *program) summary(t *testing.T) map[string]string {
	t.Helper()
	return summaryOf(t, p.stdout)
}

func summaryOf(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var line string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "summary ") {
			line = l
		}
	}
	require.NotEmpty(t, line, "no summary line in %s", filepath.Base(file))
	m := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "summary ")) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// sippRun is one SIPp invocation and the files it leaves.
type sippRun struct {
	args   []string
	dir    string
	stat   string // -stf: CSV statistics
	screen string // -screen_file: the screens at exit
	errors string // -error_file: unexpected messages and other errors
	output string // standard output and error
}

// newSipp prepares a SIPp run on loopback port port; scenario is either
// "-sn NAME" or "-sf FILE". The options shared by every run: bounded
// duration, no keyboard, statistics, screen and error files.
func newSipp(t *testing.T, name string, port int, scenario ...string) *sippRun {
	t.Helper()
	dir := artifacts(t)
	r := &sippRun{
		dir:    dir,
		stat:   filepath.Join(dir, name+"_stat.csv"),
		screen: filepath.Join(dir, name+"_screen.log"),
		errors: filepath.Join(dir, name+"_errors.log"),
		output: filepath.Join(dir, name+".out"),
	}
	r.args = append(append([]string{}, scenario...),
		"-i", loopback, "-p", strconv.Itoa(port), "-mi", loopback,
		"-nostdin",
		"-timeout", strconv.Itoa(int(runTimeout/time.Second)), "-timeout_error",
		"-trace_stat", "-stf", r.stat, "-fd", "5",
		"-trace_screen", "-screen_file", r.screen,
		"-trace_err", "-error_file", r.errors,
	)
	return r
}

// start starts SIPp in the foreground (under ctx, interrupted when ctx
// ends) and returns its command; wait with cmd.Wait.
func (r *sippRun) start(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, sippPath(t), append(append([]string{}, r.args...), args...)...)
	cmd.Dir = r.dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopTimeout
	out, err := os.Create(r.output)
	require.NoError(t, err)
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	t.Logf("sipp %s", strings.Join(cmd.Args[1:], " "))
	require.NoError(t, cmd.Start())
	return cmd
}

// files lists the run's logs for logTails.
func (r *sippRun) files() []string { return []string{r.output, r.errors, r.screen} }

// sippStats is the last line of SIPp's statistics file, by column name.
type sippStats map[string]string

func readStats(t *testing.T, file string) sippStats {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err, "SIPp statistics file")
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rows, err := cr.ReadAll()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rows), 2, "SIPp statistics file has no data row")
	head, last := rows[0], rows[len(rows)-1]
	s := sippStats{}
	for i, h := range head {
		if h != "" && i < len(last) {
			s[h] = last[i]
		}
	}
	return s
}

// int returns a counter column.
func (s sippStats) int(t *testing.T, col string) int {
	t.Helper()
	v, ok := s[col]
	require.True(t, ok, "no column %q in SIPp statistics", col)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	require.NoError(t, err, "column %q", col)
	return n
}

// duration returns a time column ("HH:MM:SS:micro").
func (s sippStats) duration(col string) time.Duration {
	p := strings.Split(s[col], ":")
	if len(p) != 4 {
		return -1
	}
	var n [4]int
	for i, x := range p {
		v, err := strconv.Atoi(x)
		if err != nil {
			return -1
		}
		n[i] = v
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Microsecond
}

// screenRow is one message line of SIPp's scenario screen.
type screenRow struct {
	name                                   string
	messages, retrans, timeout, unexpected int
}

// readScreen parses the message table of the last scenario screen in
// SIPp's screen file. Columns are found by the positions of the table
// heading; blank cells read as 0.
func readScreen(t *testing.T, file string) []screenRow {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err, "SIPp screen file")
	blocks := strings.Split(string(b), "Scenario Screen")
	require.Greater(t, len(blocks), 1, "no scenario screen in %s", filepath.Base(file))
	lines := strings.Split(blocks[len(blocks)-1], "\n")
	var cols [4]int
	var rows []screenRow
	inTable := false
	for _, l := range lines {
		if i := strings.Index(l, "Messages"); i >= 0 && strings.Contains(l, "Unexpected-Msg") {
			cols = [4]int{i, strings.Index(l, "Retrans"), strings.Index(l, "Timeout"), strings.Index(l, "Unexpected-Msg")}
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "Last Error") || strings.Contains(l, "Statistics Screen") {
			break
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		cell := func(k int) int {
			from := cols[k]
			if from >= len(l) {
				return 0
			}
			to := len(l)
			if k+1 < len(cols) && cols[k+1] < to {
				to = cols[k+1]
			}
			f := strings.Fields(l[from:to])
			if len(f) == 0 {
				return 0
			}
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return 0
			}
			return n
		}
		name := strings.Join(strings.Fields(l[:min(cols[0], len(l))]), " ")
		rows = append(rows, screenRow{name: name, messages: cell(0), retrans: cell(1), timeout: cell(2), unexpected: cell(3)})
	}
	require.NotEmpty(t, rows, "no message table in %s", filepath.Base(file))
	return rows
}

// checkSipp asserts the outcome of a SIPp run that should have completed
// calls calls: all successful, none failed, no retransmission by SIPp or
// seen by SIPp, no timeout, no unexpected, out-of-call or dead-call
// message. It logs the figures.
func checkSipp(t *testing.T, r *sippRun, calls int, runErr error) {
	t.Helper()
	st := readStats(t, r.stat)
	t.Logf("SIPp: %d calls created, %d successful, %d failed; rate %s cps; %d retransmissions; "+
		"%d out-of-call, %d dead-call messages, %d unexpected-message failures; "+
		"call length avg %s (stdev %s); watchdog minor %s major %s",
		st.int(t, "TotalCallCreated"), st.int(t, "SuccessfulCall(C)"), st.int(t, "FailedCall(C)"),
		st["CallRate(C)"], st.int(t, "Retransmissions(C)"),
		st.int(t, "OutOfCallMsgs(C)"), st.int(t, "DeadCallMsgs(C)"), st.int(t, "FailedUnexpectedMessage(C)"),
		st.duration("CallLength(C)"), st.duration("CallLengthStDev(C)"),
		st["WatchdogMinor(C)"], st["WatchdogMajor(C)"])
	if _, ok := st["ResponseTime1(C)"]; ok {
		t.Logf("SIPp response time 1 (rtd): avg %s, stdev %s",
			st.duration("ResponseTime1(C)"), st.duration("ResponseTime1StDev(C)"))
	}
	if rep := repartition(st, "ResponseTimeRepartition1_"); rep != "" {
		t.Logf("SIPp response time repartition (ms): %s", rep)
	}
	if rep := repartition(st, "CallLengthRepartition_"); rep != "" {
		t.Logf("SIPp call length repartition (ms): %s", rep)
	}
	rows := readScreen(t, r.screen)
	var table bytes.Buffer
	for _, row := range rows {
		fmt.Fprintf(&table, "\n  %-28s messages=%-5d retrans=%d timeout=%d unexpected=%d",
			row.name, row.messages, row.retrans, row.timeout, row.unexpected)
	}
	t.Logf("SIPp scenario:%s", table.String())

	require.NoError(t, runErr, "sipp exit status (0: every call successful)")
	require.Equal(t, calls, st.int(t, "SuccessfulCall(C)"), "successful calls")
	for _, col := range []string{"FailedCall(C)", "Retransmissions(C)", "OutOfCallMsgs(C)",
		"DeadCallMsgs(C)", "FailedUnexpectedMessage(C)", "FailedMaxUDPRetrans(C)"} {
		require.Zero(t, st.int(t, col), col)
	}
	for _, row := range rows {
		require.Zero(t, row.retrans, "retransmissions of %q", row.name)
		require.Zero(t, row.timeout, "timeouts of %q", row.name)
		require.Zero(t, row.unexpected, "unexpected messages at %q", row.name)
	}
	if b, err := os.ReadFile(r.errors); err == nil {
		require.NotContains(t, string(b), "nexpected", "SIPp error log reports unexpected messages")
	}
}

// repartition formats the repartition columns with the given prefix.
func repartition(st sippStats, prefix string) string {
	type col struct {
		key string
		v   string
	}
	var cols []col
	for k, v := range st {
		if b, ok := strings.CutPrefix(k, prefix); ok {
			cols = append(cols, col{b, v})
		}
	}
	// Order by bound: "<10" < "<20" < … < ">=200".
	bound := func(s string) int {
		n, _ := strconv.Atoi(strings.TrimLeft(s, "<>="))
		if strings.HasPrefix(s, ">=") {
			n = 1 << 30
		}
		return n
	}
	for i := 1; i < len(cols); i++ {
		for j := i; j > 0 && bound(cols[j].key) < bound(cols[j-1].key); j-- {
			cols[j], cols[j-1] = cols[j-1], cols[j]
		}
	}
	var b strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&b, "%s:%s ", c.key, c.v)
	}
	return strings.TrimSpace(b.String())
}

// waitListening waits until something listens on loopback port port over
// network ("udp" or "tcp"), reading /proc/net so as not to disturb the
// listener (a probe connection would count as a call attempt, a probe
// bind could steal the port).
func waitListening(t *testing.T, ctx context.Context, network string, port int) {
	t.Helper()
	want := fmt.Sprintf("0100007F:%04X", port)
	state := "07" // UDP: unconnected
	if network == "tcp" {
		state = "0A" // LISTEN
	}
	deadline := time.Now().Add(startTimeout)
	for {
		b, err := os.ReadFile("/proc/net/" + network)
		require.NoError(t, err)
		for l := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 3 && f[1] == want && f[3] == state {
				return
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("nothing listens on %s %s:%d", network, loopback, port)
		}
		// A real process on a real socket: poll.
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// exitErrOrNil turns a command's exit error into one that says the
// status; nil stays nil.
func exitErrOrNil(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return err
}

// runToFile runs bin to completion under ctx (interrupted when ctx ends),
// its standard output and error in file.
func runToFile(ctx context.Context, file, bin string, args ...string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopTimeout
	return cmd.Run()
}
