//go:build interop

package interop

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// Bounds of the Kamailio and baresip tests.
const (
	// peerTestTimeout bounds one Kamailio or baresip test, peers' start
	// and stop included.
	peerTestTimeout = 90 * time.Second
	// peerWait bounds one step of those tests (a registration, a call
	// set-up, a hang-up).
	peerWait = 15 * time.Second
	// peerPoll is how often the state of a real peer is polled (kamcmd,
	// baresip's listcalls): real processes, real time.
	peerPoll = 50 * time.Millisecond
)

// peerBinary returns the path of a peer's program, or skips the test when it
// is not installed (fails it under CI=true, where scripts/install-peers.sh
// has installed every peer).
func peerBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	return testenv.LookPath(t, name, pkg)
}

// peersDir is the directory of the peers' configurations.
func peersDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("peers")
	require.NoError(t, err)
	return d
}

// shortTempDir returns a temporary directory with a short path (a unix
// socket path must fit in 108 bytes), removed when the test ends.
func shortTempDir(t *testing.T, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp("", prefix)
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// daemon is a peer process started by a test: its own process group, its
// output in a log file, stopped (SIGTERM to its pid, SIGKILL to its group
// after stopTimeout) when the test ends.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startDaemon(t *testing.T, name, log string, bin string, args ...string) *daemon {
	t.Helper()
	f, err := os.Create(log)
	require.NoError(t, err)
	defer f.Close()
	d := &daemon{name: name, log: log, done: make(chan struct{})}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start(), "start %s", name)
	go func() {
		defer close(d.done)
		d.err = d.cmd.Wait()
	}()
	t.Cleanup(func() { d.stop() })
	return d
}

// daemonStopTimeout bounds the wait for a daemon to exit after SIGTERM. It
// outlasts the 10 s our examples give their own graceful stop (hang-ups
// and un-REGISTERs answered, at most 10 s after the first signal), so a
// daemon still draining junk calls, as dial does after the flood, is not
// killed a moment before it would have exited cleanly.
const daemonStopTimeout = stopTimeout + 5*time.Second

// stop ends the daemon and every process of its group; idempotent.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(daemonStopTimeout)
	defer timer.Stop()
	select {
	case <-d.done:
	case <-timer.C:
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// exited reports whether the daemon has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// logLines returns the lines of the daemon's log that contain all of
// parts.
func (d *daemon) logLines(parts ...string) []string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return nil
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// freeUDPPorts returns n consecutive loopback ports free for UDP and TCP
// at the time of the call.
func freeUDPPorts(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := freePort(t)
		ok := true
		for p := base + 1; p < base+n && ok; p++ {
			ok = portFree(p)
		}
		if ok && base+n < 65000 {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

func portFree(port int) bool {
	addr := net.JoinHostPort(loopback, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// kamailio is a Kamailio registrar and proxy started by a test from
// peers/kamailio/kamailio.cfg on a free loopback port.
type kamailio struct {
	*daemon
	port    int
	tlsPort int    // 0 without kamailioOptions.tlsCfg
	wsPort  int    // 0 without kamailioOptions.ws
	wssPort int    // 0 without kamailioOptions.ws and tlsCfg
	ctl     string // kamcmd -s value
}

// kamailioOptions are the variants of the configuration.
type kamailioOptions struct {
	sha256     bool // digest with algorithm SHA-256 (RFC 8760) instead of MD5
	minExpires int  // registrar min_expires (423 below it); 0: 10
	// tlsCfg, when set, is the tls module's configuration file (with its
	// certificate and key): Kamailio listens on TLS too, on tlsPort.
	tlsCfg string
	// ws: Kamailio takes SIP over WebSocket too, on wsPort, and with
	// tlsCfg over secure WebSocket on wssPort.
	ws bool
	// domain, when set, is a domain of the proxy besides its address
	// (failover_test.go: example.test served by several instances).
	domain string
	// busySwitch lets the test make the proxy answer 503 with Retry-After
	// to everything (kamailio.setBusy).
	busySwitch bool
	// name tells instances of one test apart (their logs); "": one.
	name string
	// mwiServer, "sip:host:port", receives the SUBSCRIBEs to
	// message-summary (a voicemail the test runs); "": none.
	mwiServer string
}

// hostPort is where the proxy listens, "127.0.0.1:port".
func (k *kamailio) hostPort() string { return net.JoinHostPort(loopback, strconv.Itoa(k.port)) }

// uri returns sip:user@127.0.0.1:port (sip:127.0.0.1:port for user "").
func (k *kamailio) uri(user string) string {
	if user == "" {
		return "sip:" + k.hostPort()
	}
	return "sip:" + user + "@" + k.hostPort()
}

// startKamailio starts Kamailio and waits until it listens on UDP and TCP.
// Its log is printed (tail) when the test fails.
func startKamailio(t *testing.T, ctx context.Context, opt kamailioOptions) *kamailio {
	t.Helper()
	bin := peerBinary(t, "kamailio", "kamailio")
	peerBinary(t, "kamcmd", "kamailio")
	run := shortTempDir(t, "dtkam")
	src := filepath.Join(peersDir(t), "kamailio")
	cfg, err := os.ReadFile(filepath.Join(src, "kamailio.cfg"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(run, "kamailio.cfg"), cfg, 0o644))
	require.NoError(t, writeKamailioUsers(filepath.Join(src, "users.txt"), filepath.Join(run, "users.cfg")))

	k := &kamailio{port: freePort(t), ctl: "unix:" + filepath.Join(run, "ctl")}
	minExp := opt.minExpires
	if minExp == 0 {
		minExp = 10
	}
	args := []string{"-f", filepath.Join(run, "kamailio.cfg"),
		"-A", fmt.Sprintf("RUNDIR=%q", run), "-A", fmt.Sprintf("CTL_SOCK=%q", k.ctl),
		"-A", "SIP_PORT=" + strconv.Itoa(k.port), "-A", "MIN_EXPIRES=" + strconv.Itoa(minExp)}
	if opt.sha256 {
		args = append(args, "-A", "AUTH_SHA256")
	}
	if opt.tlsCfg != "" {
		k.tlsPort = freePort(t)
		args = append(args, "-A", "WITH_TLS", "-A", "TLS_PORT="+strconv.Itoa(k.tlsPort), "-A", fmt.Sprintf("TLS_CFG=%q", opt.tlsCfg))
	}
	if opt.ws {
		k.wsPort = freePort(t)
		args = append(args, "-A", "WITH_WS", "-A", "WS_PORT="+strconv.Itoa(k.wsPort))
		if opt.tlsCfg != "" {
			k.wssPort = freePort(t)
			args = append(args, "-A", "WITH_WSS", "-A", "WSS_PORT="+strconv.Itoa(k.wssPort))
		}
	}
	if opt.domain != "" {
		args = append(args, "-A", fmt.Sprintf("SIP_DOMAIN=%q", opt.domain))
	}
	if opt.busySwitch {
		args = append(args, "-A", "BUSY_SWITCH")
	}
	if opt.mwiServer != "" {
		args = append(args, "-A", fmt.Sprintf("MWI_SERVER=%q", opt.mwiServer))
	}
	check, err := exec.CommandContext(ctx, bin, append([]string{"-c"}, args...)...).CombinedOutput()
	require.NoError(t, err, "kamailio -c:\n%s", check)
	args = append(args, "-DD", "-E", "--debug=2", "-m", "64", "-M", "8", "-P", filepath.Join(run, "kamailio.pid"))
	logName := "kamailio.log"
	if opt.name != "" {
		logName = "kamailio-" + opt.name + ".log"
	}
	k.daemon = startDaemon(t, "kamailio "+opt.name, filepath.Join(artifacts(t), logName), bin, args...)
	t.Cleanup(func() { logTails(t, k.log) })
	waitListening(t, ctx, "udp", k.port)
	waitListening(t, ctx, "tcp", k.port)
	if k.tlsPort != 0 {
		waitListening(t, ctx, "tcp", k.tlsPort)
	}
	if k.wsPort != 0 {
		waitListening(t, ctx, "tcp", k.wsPort)
	}
	if k.wssPort != 0 {
		waitListening(t, ctx, "tcp", k.wssPort)
	}
	require.False(t, k.exited(), "kamailio exited at start: %v", k.err)
	return k
}

// writeKamailioUsers turns users.txt (user:password lines) into the
// htable initialisation kamailio.cfg includes.
func writeKamailioUsers(users, out string) error {
	b, err := os.ReadFile(users)
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("event_route[htable:mod-init] {\n")
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		u, p, ok := strings.Cut(l, ":")
		if !ok {
			return fmt.Errorf("users.txt: bad line %q", l)
		}
		fmt.Fprintf(&sb, "\t$sht(users=>%s) = \"%s\";\n", u, p)
	}
	sb.WriteString("}\n")
	return os.WriteFile(out, []byte(sb.String()), 0o644)
}

// kamcmd runs one RPC command against the Kamailio.
func (k *kamailio) kamcmd(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "kamcmd", append([]string{"-s", k.ctl}, args...)...).CombinedOutput()
	return string(out), err
}

// binding returns Kamailio's usrloc record of user (ul.lookup) and whether
// there is one.
func (k *kamailio) binding(t *testing.T, ctx context.Context, user string) (string, bool) {
	t.Helper()
	out, err := k.kamcmd(ctx, "ul.lookup", "location", user)
	// kamcmd exits 0 on RPC errors too: read what it says.
	if strings.Contains(out, "AoR: "+user) {
		return out, true
	}
	require.Contains(t, out, "not found", "kamcmd ul.lookup %s: %v", user, err)
	return out, false
}

// waitBinding waits until the usrloc record of user exists (want true) or
// is gone (want false), and returns the last ul.lookup output.
func (k *kamailio) waitBinding(t *testing.T, ctx context.Context, user string, want bool) string {
	t.Helper()
	deadline := time.Now().Add(peerWait)
	for {
		out, ok := k.binding(t, ctx, user)
		if ok == want {
			return out
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("Kamailio binding of %s: want present=%v, ul.lookup says:\n%s", user, want, out)
		}
		sleepCtx(ctx, peerPoll)
	}
}

// sleepCtx waits d or until ctx ends (polling a real peer).
func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// baresip is a baresip UA started by a test, registered to a Kamailio,
// auto-answering, driven through its ctrl_tcp module.
type baresip struct {
	*daemon
	user     string
	sipPort  int
	ctrlPort int
}

// registrar is a registrar and proxy the peers register to: Kamailio, or
// our examples/proxy.
type registrar interface {
	// uri returns sip:user@host:port (sip:host:port for user "").
	uri(user string) string
	// waitBinding waits until the registrar holds a binding of user (want
	// true) or none (want false).
	waitBinding(t *testing.T, ctx context.Context, user string, want bool) string
}

// startBaresip starts baresip as user (password <user>pw) registered to
// k, and waits until the registrar holds its binding.
func startBaresip(t *testing.T, ctx context.Context, k registrar, user string) *baresip {
	t.Helper()
	return startBaresipWith(t, ctx, k, user, true)
}

// startBaresipWith is startBaresip with or without k as outbound proxy;
// without, baresip registers to its AOR's host and sends each request to
// its Request-URI's (so it follows a 302 to the new target itself).
func startBaresipWith(t *testing.T, ctx context.Context, k registrar, user string, outbound bool) *baresip {
	t.Helper()
	return startBaresipOpts(t, ctx, k, user, baresipOptions{outbound: outbound})
}

// baresipOptions are the variants of a test's baresip.
type baresipOptions struct {
	outbound bool // k is the account's outbound proxy
	mwi      bool // the mwi module, and the account subscribes to message-summary
}

// startBaresipOpts is startBaresip with options.
func startBaresipOpts(t *testing.T, ctx context.Context, k registrar, user string, opt baresipOptions) *baresip {
	t.Helper()
	account := fmt.Sprintf("<%s>;auth_pass=%spw;answermode=auto;audio_codecs=PCMU,PCMA;medianat=;mediaenc=;regint=300",
		k.uri(user), user)
	if opt.outbound {
		account += fmt.Sprintf(";outbound=\"%s\"", k.uri(""))
	}
	spec := baresipSpec{user: user, dirPrefix: "dtbs", toneHz: 440, toneLen: 2 * time.Second, maxCalls: 4,
		codecs: []string{"g711"}, dns: true}
	if opt.mwi {
		account += ";mwi=yes"
		spec.apps = []string{"mwi"}
	}
	spec.account = account
	b, _ := launchBaresip(t, ctx, spec)
	k.waitBinding(t, ctx, user, true)
	return b
}

// writeToneWAV writes a mono 16-bit PCM WAV file of a sine tone: baresip's
// audio source (its aufile module).
func writeToneWAV(path string, hz, rate int, d time.Duration) error {
	n := int(d.Seconds() * float64(rate))
	data := make([]byte, 44+2*n)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], uint32(rate))
	binary.LittleEndian.PutUint32(data[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*float64(hz)*float64(i)/float64(rate)))
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	return os.WriteFile(path, data, 0o644)
}

// ctl sends one command to baresip's ctrl_tcp module (netstring-framed
// JSON) and returns the response's data; an error when baresip answers
// ok=false.
func (b *baresip) ctl(ctx context.Context, command, params string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(loopback, strconv.Itoa(b.ctrlPort)))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	msg, err := json.Marshal(map[string]string{"command": command, "params": params, "token": "dialtone"})
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(msg), msg); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	for {
		lenStr, err := r.ReadString(':')
		if err != nil {
			return "", err
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenStr, ":"))
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("baresip ctrl: bad netstring length %q", lenStr)
		}
		buf := make([]byte, n+1)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		var resp struct {
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
		}
		if err := json.Unmarshal(buf[:n], &resp); err != nil {
			return "", err
		}
		if !resp.Response { // an asynchronous event
			continue
		}
		if !resp.OK {
			return resp.Data, errors.New("baresip ctrl " + command + ": " + resp.Data)
		}
		return resp.Data, nil
	}
}

// waitCalls polls baresip's call list until pred accepts it.
func (b *baresip) waitCalls(t *testing.T, ctx context.Context, what string, pred func(list string) bool) string {
	t.Helper()
	deadline := time.Now().Add(peerWait)
	for {
		list, err := b.ctl(ctx, "listcalls", "")
		if err == nil && pred(list) {
			return list
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("baresip %s: %s not reached; listcalls: %q (%v)", b.user, what, list, err)
		}
		sleepCtx(ctx, peerPoll)
	}
}
