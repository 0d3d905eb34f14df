//go:build interop

package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
)

// floodParams are the figures of a flood run. The test's defaults are
// modest (the machine is shared); the full figure is
//
//	FLOOD_DURATION=30s FLOOD_UDP_RATE=10000 FLOOD_TCP_RATE=10000 FLOOD_CONNS=1000 \
//	FLOOD_SIPP_RATE=200 go test -tags interop -run TestFlood ./internal/interop
type floodParams struct {
	duration         time.Duration
	udpRate, tcpRate int
	conns, slowloris int
	sippRate         int
	maxRSSMiB        int
	seed             uint64
}

func floodFromEnv(t *testing.T) floodParams {
	t.Helper()
	p := floodParams{duration: 3 * time.Second, udpRate: 2000, tcpRate: 2000, conns: 100, slowloris: 10, sippRate: 50, maxRSSMiB: 256, seed: 1}
	num := func(name string, v *int) {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err, name)
			*v = n
		}
	}
	if s := os.Getenv("FLOOD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err, "FLOOD_DURATION")
		p.duration = d
	}
	num("FLOOD_UDP_RATE", &p.udpRate)
	num("FLOOD_TCP_RATE", &p.tcpRate)
	num("FLOOD_CONNS", &p.conns)
	num("FLOOD_SLOWLORIS", &p.slowloris)
	num("FLOOD_SIPP_RATE", &p.sippRate)
	num("FLOOD_MAX_RSS_MIB", &p.maxRSSMiB)
	if s := os.Getenv("FLOOD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "FLOOD_SEED")
		p.seed = n
	}
	return p
}

// floodSummary is sipflood's JSON summary (the fields the test checks).
type floodSummary struct {
	UDPSent           uint64            `json:"udp_sent"`
	UDPMalformed      uint64            `json:"udp_malformed"`
	UDP400            uint64            `json:"udp_400"`
	TCPConns          uint64            `json:"tcp_conns"`
	TCPSent           uint64            `json:"tcp_sent"`
	TCPClosedByServer uint64            `json:"tcp_closed_by_server"`
	TCP400            uint64            `json:"tcp_400"`
	Slowloris         uint64            `json:"slowloris"`
	SlowlorisClosed   uint64            `json:"slowloris_closed"`
	BigBodyBytes      uint64            `json:"big_body_bytes"`
	BigBodyClosed     bool              `json:"big_body_closed"`
	BigBody400        bool              `json:"big_body_400"`
	ByKind            map[string]uint64 `json:"by_kind"`
}

// TestFlood (issue 21 §3): sipflood sends mutants of the torture corpus
// over UDP and many TCP connections, slowloris connections and a 100 MB
// body to examples/dial while SIPp places legitimate calls to it. Every
// legitimate call succeeds; dial does not panic and stays up; its peak RSS
// stays under the bound; every UDP mutant that does not parse is counted
// by dial's transport (exactly, less what the kernel dropped on the
// socket), every TCP connection the server cut is counted as malformed,
// the 100 MB body is refused long before its end, and, in a flood longer
// than the header timeout, every slowloris connection is cut by it.
func TestFlood(t *testing.T) {
	sippPath(t)
	p := floodFromEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout+p.duration)
	defer cancel()
	dialBin := buildCommand(t, ctx, "../../examples/dial", "dial")
	floodBin := buildProgram(t, ctx, "sipflood")

	port := freePort(t)
	dialAddr := net.JoinHostPort(loopback, strconv.Itoa(port))
	metricsAddr := net.JoinHostPort(loopback, strconv.Itoa(freePort(t)))
	dialOut := filepath.Join(artifacts(t), "dial.out")
	dial := startDaemon(t, "dial", dialOut, dialBin, "-listen", dialAddr, "-quiet", "-metrics", metricsAddr)
	waitListening(t, ctx, "udp", port)
	waitListening(t, ctx, "tcp", port)
	metricsURL := "http://" + metricsAddr + "/metrics"
	before := scrapeMetrics(t, ctx, metricsURL)

	// SIPp calls for the flood's duration and a second on each side.
	calls := p.sippRate * int((p.duration+2*time.Second)/time.Second)
	r := newSipp(t, "flood_uac", freePort(t), "-sn", "uac")
	floodOut := filepath.Join(artifacts(t), "sipflood.json")
	defer func() { logTails(t, append(r.files(), dialOut, floodOut)...) }()
	sipp := r.start(t, ctx, "-t", "u1", "-d", "0", "-m", strconv.Itoa(calls), "-r", strconv.Itoa(p.sippRate), dialAddr)
	time.Sleep(time.Second) // legitimate traffic first, then the flood
	floodErr := runToFile(ctx, floodOut, floodBin,
		"-target", dialAddr, "-corpus", "../../sip/testdata/torture", "-seed", strconv.FormatUint(p.seed, 10),
		"-duration", p.duration.String(), "-udp-rate", strconv.Itoa(p.udpRate), "-tcp-rate", strconv.Itoa(p.tcpRate),
		"-conns", strconv.Itoa(p.conns), "-slowloris", strconv.Itoa(p.slowloris))
	sippErr := sipp.Wait()
	require.NoError(t, floodErr, "sipflood exit status")
	sum := readFloodSummary(t, floodOut)

	require.False(t, dial.exited(), "dial is still running after the flood")
	after := scrapeMetrics(t, ctx, metricsURL)
	peak := peakRSS(t, dial.cmd.Process.Pid)
	drops := udpDrops(t, port)
	st := readStats(t, r.stat)
	t.Logf("flood %s: udp %d/s, tcp %d/s over %d connections, %d slowloris, 100 MB body; SIPp %d calls at %d/s",
		p.duration, p.udpRate, p.tcpRate, p.conns, p.slowloris, calls, p.sippRate)
	t.Logf("sipflood: %+v", sum)
	t.Logf("dial: malformed datagrams %v, malformed stream %v, 400 sent %v, header timeouts %v, refused %v; socket drops %d; peak RSS %d MiB",
		delta(before, after, `dialtone_sip_malformed_total{transport="datagram"}`),
		delta(before, after, `dialtone_sip_malformed_total{transport="stream"}`),
		delta(before, after, "dialtone_sip_bad_requests_sent_total"),
		delta(before, after, `dialtone_sip_connection_timeouts_total{reason="header"}`),
		delta(before, after, "dialtone_sip_connections_refused_total"),
		drops, peak>>20)
	t.Logf("SIPp: %d successful, %d failed, %d retransmissions",
		st.int(t, "SuccessfulCall(C)"), st.int(t, "FailedCall(C)"), st.int(t, "Retransmissions(C)"))

	// Zero failed legitimate calls.
	require.NoError(t, exitErrOrNil(sippErr), "sipp exit status (0: every call successful)")
	require.Equal(t, calls, st.int(t, "SuccessfulCall(C)"), "successful legitimate calls")
	require.Zero(t, st.int(t, "FailedCall(C)"), "failed legitimate calls")

	// Every malformed datagram counted, less the kernel's drops.
	gotUDP := uint64(delta(before, after, `dialtone_sip_malformed_total{transport="datagram"}`))
	require.Positive(t, sum.UDPMalformed)
	require.LessOrEqual(t, gotUDP, sum.UDPMalformed, "no more malformed datagrams counted than sent")
	require.GreaterOrEqual(t, gotUDP+drops, sum.UDPMalformed, "every malformed datagram counted (socket drops %d)", drops)
	// Every connection the server cut for bad framing counted; those still
	// open when the flood stopped may have been cut unseen.
	gotStream := uint64(delta(before, after, `dialtone_sip_malformed_total{transport="stream"}`))
	cut := sum.TCPClosedByServer
	if sum.BigBodyClosed {
		cut++
	}
	require.Positive(t, cut)
	require.GreaterOrEqual(t, gotStream, cut, "every connection cut is counted")
	require.LessOrEqual(t, gotStream, cut+uint64(p.conns)+1, "no more cuts counted than connections")
	// The 100 MB announcement is refused at once, not read to its end.
	require.True(t, sum.BigBodyClosed, "the 100 MB body's connection is closed")
	require.Less(t, sum.BigBodyBytes, uint64(100<<20))

	// Slowloris connections are cut by the header timeout, when the flood
	// lasts long enough to see it.
	if p.duration >= transport.DefaultHeaderTimeout+5*time.Second {
		require.Equal(t, sum.Slowloris, sum.SlowlorisClosed, "slowloris connections cut")
		require.GreaterOrEqual(t, delta(before, after, `dialtone_sip_connection_timeouts_total{reason="header"}`), float64(sum.Slowloris))
	}

	// RSS bounded, no panic, a clean stop.
	require.Less(t, peak, uint64(p.maxRSSMiB)<<20, "dial's peak RSS")
	dial.stop()
	log, err := os.ReadFile(dialOut)
	require.NoError(t, err)
	require.NotContains(t, string(log), "panic:")
	require.NoError(t, dial.err, "dial exit status after SIGTERM")
}

// readFloodSummary reads sipflood's JSON line.
func readFloodSummary(t *testing.T, file string) floodSummary {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var sum floodSummary
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum), "sipflood output:\n%s", b)
	return sum
}

// scrapeMetrics reads a Prometheus text exposition into "name{labels}"
// → value.
func scrapeMetrics(t *testing.T, ctx context.Context, url string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	client := &http.Client{Timeout: peerWait, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	require.NoError(t, err, "scrape %s", url)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	return parseMetrics(t, res.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "metrics line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "metrics line %q", line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// delta is how much a counter moved.
func delta(before, after map[string]float64, name string) float64 { return after[name] - before[name] }

// peakRSS reads a process's peak resident set (VmHWM) from /proc.
func peakRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// udpDrops sums the drop counters of the loopback UDP sockets on port
// (/proc/net/udp: datagrams the kernel dropped, receive buffer full).
func udpDrops(t *testing.T, port int) uint64 {
	t.Helper()
	want := fmt.Sprintf("0100007F:%04X", port)
	b, err := os.ReadFile("/proc/net/udp")
	require.NoError(t, err)
	var n uint64
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 12 && f[1] == want {
			d, err := strconv.ParseUint(f[12], 10, 64)
			require.NoError(t, err)
			n += d
		}
	}
	return n
}
