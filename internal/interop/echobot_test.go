//go:build interop

package interop

import (
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

// echobotPkg is the example the echo tests run.
const echobotPkg = "github.com/dialtone/dialtone/examples/echobot"

// echobotRTPPorts is the size of the RTP port range given to echobot: an
// RTP/RTCP pair per call, for more calls than any test places at once.
const echobotRTPPorts = 40

// buildEchobot builds examples/echobot with the race detector (its ua and
// rtp layers then run under real traffic with race checks) into a
// temporary directory and returns its path.
func buildEchobot(t *testing.T, ctx context.Context) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "echobot")
	b, err := exec.CommandContext(ctx, "go", "build", "-race", "-o", out, echobotPkg).CombinedOutput()
	require.NoError(t, err, "go build %s:\n%s", echobotPkg, b)
	return out
}

// echobot is examples/echobot running in a test.
type echobot struct {
	*program
	sip            string // UDP host:port
	rtpMin, rtpMax int
}

// startEchobot starts echobot listening on a free loopback port, with its
// RTP on loopback ports rtpMin..rtpMax (echobotRTPPorts of them) and the
// extra flags given.
func startEchobot(t *testing.T, ctx context.Context, extra ...string) *echobot {
	t.Helper()
	return startEchobotEnv(t, ctx, nil, extra...)
}

// startEchobotEnv is startEchobot with env (KEY=value) added to echobot's
// environment.
func startEchobotEnv(t *testing.T, ctx context.Context, env []string, extra ...string) *echobot {
	t.Helper()
	bin := buildEchobot(t, ctx)
	base := freeUDPPorts(t, echobotRTPPorts)
	e := &echobot{rtpMin: base, rtpMax: base + echobotRTPPorts - 1}
	var addrs map[string]string
	e.program, addrs = startProgramEnv(t, ctx, bin, env, []string{"udp"}, append([]string{
		"-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-rtp-min", strconv.Itoa(e.rtpMin), "-rtp-max", strconv.Itoa(e.rtpMax),
		"-max-call", peerTestTimeout.String()}, extra...)...)
	e.sip = addrs["udp"]
	return e
}

// finish stops echobot and checks that it exited cleanly without a data
// race report; it returns the "echo ended" lines it printed, one per call,
// as key=value maps.
func (e *echobot) finish(t *testing.T) []map[string]string {
	t.Helper()
	require.NoError(t, e.stop(t), "echobot exit status")
	stderr, err := os.ReadFile(e.stderr)
	require.NoError(t, err)
	require.NotContains(t, string(stderr), "DATA RACE", "echobot stderr")
	stdout, err := os.ReadFile(e.stdout)
	require.NoError(t, err)
	var ends []map[string]string
	for l := range strings.SplitSeq(string(stdout), "\n") {
		_, rest, ok := strings.Cut(l, " echo ended ")
		if !ok {
			continue
		}
		m := map[string]string{"line": rest}
		rest, _, _ = strings.Cut(rest, " reason=") // the reason is quoted text
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			m[k] = v
		}
		ends = append(ends, m)
	}
	return ends
}

// count reads a counter of an "echo ended" line.
func count(t *testing.T, m map[string]string, key string) int {
	t.Helper()
	n, err := strconv.Atoi(m[key])
	require.NoError(t, err, "echo ended %s=%q", key, m[key])
	return n
}

// TestEchobotWithBaresip: baresip (no registration, playing a 440 Hz tone
// from a WAV file, recording what it receives) calls examples/echobot
// directly, talks for mediaSeconds and hangs up. baresip's recording holds
// the 440 Hz tone (Goertzel), and no 1000 Hz: echobot returned baresip's
// own audio. echobot reports the call's packets both ways and exits
// cleanly.
func TestEchobotWithBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startMediaBaresip(t, ctx, "echocaller", mediaPeerTone)
	e := startEchobot(t, ctx)
	defer func() { logTails(t, e.stdout, e.stderr) }()

	list := b.callFor(t, ctx, "sip:echo@"+e.sip)
	t.Logf("baresip listcalls: %q", list)
	// baresip finishes dump-<call>-dec.wav when the call ends.
	got := waitDump(t, ctx, b.rec, audio.SampleRate)
	echoed, other := peak(got, mediaPeerTone), peak(got, mediaOurTone)
	t.Logf("baresip heard its own %d Hz back at %.4f (%d Hz at %.6f) in %.1f s", mediaPeerTone, echoed, mediaOurTone, other, float64(len(got))/audio.SampleRate)
	require.Greater(t, echoed, mediaMinLevel, "baresip's tone in its recording of echobot")
	// G.711 there and back keeps the level: at least half of what
	// baresip sent (writeToneWAV's amplitude).
	sent := peak(sine(mediaPeerTone, toneAmplitude, audio.SampleRate), mediaPeerTone)
	require.Greater(t, echoed, sent/2, "echoed level against the level sent (%.4f)", sent)
	require.Less(t, other, mediaMinLevel/10, "a tone nobody sent in baresip's recording")

	ends := e.finish(t)
	require.Len(t, ends, 1, "echobot's echo ended lines")
	rx, tx := count(t, ends[0], "rx"), count(t, ends[0], "tx")
	t.Logf("echobot: %s", ends[0]["line"])
	// mediaSeconds at 50 packets/s each way; the call lasted at least that.
	minPackets := mediaSeconds * 50 * 8 / 10
	require.GreaterOrEqual(t, rx, minPackets, "packets echobot received")
	require.GreaterOrEqual(t, tx, minPackets, "packets echobot sent back")
}

// toneAmplitude is the amplitude of writeToneWAV's tone.
const toneAmplitude = 8000

// sine returns n samples of a tone of hz at amplitude amp.
func sine(hz float64, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/audio.SampleRate))
	}
	return out
}
