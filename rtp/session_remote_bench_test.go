package rtp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// Settings of BenchmarkEchoSessionsRemote, read from the environment.
const (
	// remotePeerEnv, when set in a test binary's environment, makes it run
	// as the far-end process of BenchmarkEchoSessionsRemote (see TestMain).
	remotePeerEnv = "RTP_BENCH_PEER"
	// remoteCPUsEnv names the CPUs the far-end process is pinned to
	// (taskset -c); empty: not pinned.
	remoteCPUsEnv = "RTP_BENCH_PEER_CPUS"
	// remoteProfileEnv names a file for a CPU profile of the far end.
	remoteProfileEnv = "RTP_BENCH_PEER_PROFILE"
	// remoteNEnv is a comma-separated list of call counts; empty: 100,300,1000.
	remoteNEnv = "RTP_BENCH_N"
	// remoteSRTPEnv names an SRTP suite (AES_CM_128_HMAC_SHA1_80,
	// AEAD_AES_128_GCM…) that protects every call both ways; empty: plain
	// RTP.
	remoteSRTPEnv = "RTP_BENCH_SRTP"
	// remoteKeysEnv carries the SRTP keys to the far end: its own sending
	// crypto attribute, a "|", then the near ends'.
	remoteKeysEnv = "RTP_BENCH_PEER_KEYS"
	// remoteHostEnv chooses how the near ends echo: "clock" (the default)
	// from a frame function on the media clock (Session.SetFrameFunc),
	// "goroutine" from a goroutine per call that loops over ReadFrame and
	// WriteFrame.
	remoteHostEnv = "RTP_BENCH_HOST"
)

// echoOnClock makes s send back every frame it plays out, from its frame
// function: no goroutine per call.
func echoOnClock(s *rtp.Session) error {
	buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
	return s.SetFrameFunc(func() {
		for {
			f, waiting, err := s.PollFrame(buf[:0])
			if err != nil || waiting == 0 {
				return
			}
			if _, err := s.PushFrame(f); err != nil {
				return
			}
		}
	})
}

// benchKeys are the SRTP keys of the calls of BenchmarkEchoSessionsRemote:
// one crypto each way, shared by every call (the SSRCs differ).
type benchKeys struct{ near, far srtp.Crypto }

// newBenchKeys makes the keys for the suite named by RTP_BENCH_SRTP, or
// returns nil when it is empty.
func newBenchKeys(b *testing.B) *benchKeys {
	name := os.Getenv(remoteSRTPEnv)
	if name == "" {
		return nil
	}
	suite, err := srtp.ParseSuite(name)
	require.NoError(b, err, remoteSRTPEnv)
	var k benchKeys
	k.near, err = srtp.NewCrypto(1, suite)
	require.NoError(b, err)
	k.far, err = srtp.NewCrypto(1, suite)
	require.NoError(b, err)
	return &k
}

// protect turns SRTP on for s, sending with local and receiving with remote.
func protect(s *rtp.Session, local, remote srtp.Crypto) error {
	return s.SetSRTP(&srtp.ContextConfig{Local: local.Keys, Remote: remote.Keys})
}

// BenchmarkEchoSessionsRemote runs N calls over loopback whose far ends live
// in another process: this process runs N echo sessions (each sends back
// what it plays out, from a frame function on the media clock or, with
// RTP_BENCH_HOST=goroutine, from a goroutine per call), a child process (this test binary re-executed, pinned
// with taskset -c $RTP_BENCH_PEER_CPUS when set, GOMAXPROCS=1) runs N
// sessions playing a tone at them. It reports, for this process only:
//
//   - cpu-ms/sess-s: CPU time (user+system, getrusage RUSAGE_SELF) per
//     session per second; 1000 sessions on one core need ≤ 1;
//   - p99-late-ms, max-late-ms: how late our senders sent frames during
//     the window (max-late-ms is a bucket's upper bound);
//   - rx-pkt/sess-s: RTP packets received per session per second (50
//     expected at 20 ms), lost-%: the share RFC 3550 counts lost (above
//     benchMaxLostPercent the benchmark fails), and jitter-ms: the mean
//     interarrival jitter estimate, over the window;
//   - skipped/sess-s: frame periods our senders missed in the window;
//   - cpu-busy: when this process is pinned to one CPU, that CPU's busy
//     share from /proc/stat (everything that ran on it: this process, the
//     kernel's softirq work for it, other programs);
//   - peer-cores, peer-p99-late-ms: the far end's CPU share and lateness,
//     to tell whether it kept up.
//
// For the one-core measurement:
//
//	RTP_BENCH_PEER_CPUS=1 GOMAXPROCS=1 taskset -c 0 go test -run '^$' \
//	    -bench EchoSessionsRemote -benchtime 1x ./rtp/
//
// With RTP_BENCH_SRTP=AES_CM_128_HMAC_SHA1_80 (or another suite) every
// call is SRTP both ways.
func BenchmarkEchoSessionsRemote(b *testing.B) {
	ns := []int{100, 300, 1000}
	if v := os.Getenv(remoteNEnv); v != "" {
		ns = ns[:0]
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(f)
			require.NoError(b, err, remoteNEnv)
			ns = append(ns, n)
		}
	}
	for _, n := range ns {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchEchoRemote(b, n) })
	}
}

// farEnd is the child process of BenchmarkEchoSessionsRemote.
type farEnd struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startFarEnd re-executes the test binary as the far end of n calls whose
// near ends listen on ports, and returns it with the far ends' ports.
func startFarEnd(b *testing.B, ports []uint16, keys *benchKeys) (*farEnd, []uint16) {
	exe, err := os.Executable()
	require.NoError(b, err)
	args := []string{exe}
	if cpus := os.Getenv(remoteCPUsEnv); cpus != "" {
		ts, err := exec.LookPath("taskset")
		require.NoError(b, err)
		args = append([]string{ts, "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), remotePeerEnv+"=1", "GOMAXPROCS=1")
	if keys != nil {
		cmd.Env = append(cmd.Env, remoteKeysEnv+"="+keys.far.Attribute()+"|"+keys.near.Attribute())
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(b, err)
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	f := &farEnd{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	w := bufio.NewWriter(in)
	for _, p := range ports {
		fmt.Fprintln(w, p)
	}
	fmt.Fprintln(w, "start")
	require.NoError(b, w.Flush())
	far := make([]uint16, 0, len(ports))
	for range ports {
		require.True(b, f.out.Scan(), "far end: %v", f.out.Err())
		p, err := strconv.ParseUint(f.out.Text(), 10, 16)
		require.NoError(b, err)
		far = append(far, uint16(p))
	}
	return f, far
}

// stop ends the far end and returns its report: CPU share and p99
// lateness in ms.
func (f *farEnd) stop(b *testing.B) (cores, p99 float64) {
	_ = f.in.Close()
	if f.out.Scan() {
		_, _ = fmt.Sscan(f.out.Text(), &cores, &p99)
	}
	require.NoError(b, f.cmd.Wait())
	return cores, p99
}

// mediaTo returns the parameters of a PCMU call with rtcp-mux to 127.0.0.1:port.
func mediaTo(port uint16) sdp.MediaParams {
	addr := netip.AddrPortFrom(loopback, port)
	return sdp.MediaParams{RemoteRTP: addr, RemoteRTCP: addr, RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}
}

func benchEchoRemote(b *testing.B, n int) {
	ports, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 21000, Max: 29999})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var echoes []*rtp.Session
	defer func() {
		for _, s := range echoes {
			_ = s.Close()
		}
	}()
	keys := newBenchKeys(b)
	local := make([]uint16, 0, n)
	for range n {
		e, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loopback, Ports: ports, RTCPMux: true})
		require.NoError(b, err)
		echoes = append(echoes, e)
		local = append(local, e.LocalAddr().Port())
		if keys != nil {
			require.NoError(b, protect(e, keys.near, keys.far))
		}
	}
	far, farPorts := startFarEnd(b, local, keys)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	host := os.Getenv(remoteHostEnv)
	require.Contains(b, []string{"", "clock", "goroutine"}, host, remoteHostEnv)
	for i, e := range echoes {
		require.NoError(b, e.SetRemote(mediaTo(farPorts[i])))
		if host != "goroutine" {
			require.NoError(b, echoOnClock(e))
			continue
		}
		wg.Go(func() {
			buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
			for {
				f, err := e.ReadFrame(ctx, buf[:0])
				if err != nil || e.WriteFrame(ctx, f) != nil {
					return
				}
			}
		})
	}
	time.Sleep(time.Second) // warm up: jitter buffers fill, echoes start

	type stats struct {
		rx, lost, skipped uint64
		jitter            time.Duration
		late              []rtp.LatenessHistogram
	}
	snapshot := func() (st stats) {
		for _, e := range echoes {
			s := e.Stats()
			st.rx += s.PacketsReceived
			st.lost += uint64(max(s.PacketsLost, 0))
			st.skipped += s.FramesSkipped
			st.jitter += s.Jitter / time.Duration(n)
			st.late = append(st.late, s.SendLateness)
		}
		return st
	}
	st0 := snapshot()
	var cpu, wall time.Duration
	var busy, total uint64
	b.ResetTimer()
	for range b.N {
		c0, t0 := cpuTime(), time.Now()
		b0, tot0 := pinnedCPUTicks()
		time.Sleep(echoWindow) // the measurement: calls run meanwhile
		cpu += cpuTime() - c0
		wall += time.Since(t0)
		b1, tot1 := pinnedCPUTicks()
		busy, total = busy+b1-b0, total+tot1-tot0
	}
	b.StopTimer()
	st1 := snapshot()
	peerCores, peerP99 := far.stop(b)

	var late rtp.LatenessHistogram
	for i := range st1.late {
		d := st1.late[i].Since(&st0.late[i])
		late.Merge(&d)
	}
	rx, lost, skipped := st1.rx-st0.rx, st1.lost-st0.lost, st1.skipped-st0.skipped
	require.Positive(b, rx, "nothing received")
	sessSeconds := wall.Seconds() * float64(n)
	b.ReportMetric(float64(cpu.Microseconds())/1000/sessSeconds, "cpu-ms/sess-s")
	b.ReportMetric(float64(late.Quantile(0.5))/1e6, "p50-late-ms")
	b.ReportMetric(float64(late.Quantile(0.99))/1e6, "p99-late-ms")
	b.ReportMetric(float64(late.Max())/1e6, "max-late-ms")
	b.ReportMetric(float64(rx)/sessSeconds, "rx-pkt/sess-s")
	b.ReportMetric(float64(st1.jitter)/1e6, "jitter-ms")
	b.ReportMetric(float64(skipped)/sessSeconds, "skipped/sess-s")
	if total > 0 {
		b.ReportMetric(float64(busy)/float64(total), "cpu-busy")
	}
	b.ReportMetric(peerCores, "peer-cores")
	b.ReportMetric(peerP99, "peer-p99-late-ms")
	b.ReportMetric(0, "ns/op")
	lossCheck(b, rx, lost)
	if keys != nil {
		var in, refused uint64
		for _, e := range echoes {
			c := e.Stats().SRTP.RTP
			in += c.Unprotected
			refused += c.Replayed + c.AuthFailed + c.Malformed
		}
		require.GreaterOrEqual(b, in, rx, "every packet received came through SRTP")
		require.Zero(b, refused, "SRTP packets refused")
	}
}

// runFarEnd is the far-end process of BenchmarkEchoSessionsRemote: it reads
// the near ends' ports from stdin up to a "start" line, opens one session per
// port playing a tone at it, writes its own ports to stdout, and runs until
// stdin closes; it then writes "cores p99-late-ms" and returns the exit code.
func runFarEnd() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "far end:", err)
		return 1
	}
	ports, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 31000, Max: 39999})
	if err != nil {
		return fail(err)
	}
	if path := os.Getenv(remoteProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	var farKeys, nearKeys srtp.Crypto
	if v := os.Getenv(remoteKeysEnv); v != "" {
		f, n, ok := strings.Cut(v, "|")
		if !ok {
			return fail(fmt.Errorf("%s: want two crypto attributes", remoteKeysEnv))
		}
		if farKeys, err = srtp.ParseCrypto(f); err != nil {
			return fail(err)
		}
		if nearKeys, err = srtp.ParseCrypto(n); err != nil {
			return fail(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := bufio.NewScanner(os.Stdin)
	var sessions []*rtp.Session
	defer func() {
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() && in.Text() != "start" {
		p, err := strconv.ParseUint(in.Text(), 10, 16)
		if err != nil {
			return fail(err)
		}
		s, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loopback, Ports: ports, RTCPMux: true})
		if err != nil {
			return fail(err)
		}
		sessions = append(sessions, s)
		if farKeys.Usable() {
			if err := protect(s, farKeys, nearKeys); err != nil {
				return fail(err)
			}
		}
		if err := s.SetRemote(mediaTo(uint16(p))); err != nil {
			return fail(err)
		}
		fmt.Fprintln(out, s.LocalAddr().Port())
	}
	if err := out.Flush(); err != nil {
		return fail(err)
	}
	// A 1 kHz tone repeats every 8 samples at 8 kHz: one frame of it,
	// computed once, replayed, keeps the far end's CPU for the calls.
	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	if err != nil {
		return fail(err)
	}
	frame, err := tone.ReadFrame(nil)
	if err != nil {
		return fail(err)
	}
	// Each session pushes the tone from its frame function, once a frame
	// period, and drops what it plays out: no goroutine per call.
	for _, s := range sessions {
		played := make([]int16, 0, jitter.DefaultMaxFrameSamples)
		if err := s.SetFrameFunc(func() {
			for {
				if _, waiting, err := s.PollFrame(played[:0]); err != nil || waiting == 0 {
					break
				}
			}
			_, _ = s.PushFrame(frame)
		}); err != nil {
			return fail(err)
		}
	}
	c0, t0 := cpuTime(), time.Now()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes stdin
	cores := (cpuTime() - c0).Seconds() / time.Since(t0).Seconds()
	cancel()
	var late rtp.LatenessHistogram
	for _, s := range sessions {
		st := s.Stats()
		late.Merge(&st.SendLateness)
	}
	fmt.Fprintf(out, "%.3f %.3f\n", cores, float64(late.Quantile(0.99))/1e6)
	if err := out.Flush(); err != nil {
		return fail(err)
	}
	return 0
}
