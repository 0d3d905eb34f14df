//go:build interop

package interop

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// Shape of TestEchobotNoDuplicateUnderPressure.
const (
	dupCalls  = 100
	dupRate   = 10
	dupFrames = 50 // 1 s of audio per call
)

// TestEchobotNoDuplicateUnderPressure: SIPp places dupCalls calls to
// examples/echobot running with GOMAXPROCS=1 while the test keeps a core
// busy, each call playing dupFrames PCMA frames; tshark captures echobot's
// RTP. Every call succeeds, and in every stream echobot sent (by SSRC) no
// sequence number appears twice (issue 16: a worker waking 19-20 ms late
// sent a still-queued packet again).
func TestEchobotNoDuplicateUnderPressure(t *testing.T) {
	sippPath(t)
	tshark := peerBinary(t, "tshark", "tshark")
	testenv.NeedRoot(t, "SIPp pcap play and tshark capture")
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	e := startEchobotEnv(t, ctx, []string{"GOMAXPROCS=1"})
	defer func() { logTails(t, e.stdout, e.stderr) }()

	// A busy core for the length of the calls, bounded by ctx.
	busyCtx, stopBusy := context.WithCancel(ctx)
	var busy sync.WaitGroup
	busy.Go(func() {
		runtime.LockOSThread()
		for busyCtx.Err() == nil {
			for i := 0; i < 1_000_000; i++ {
				_ = i * i
			}
		}
	})
	defer func() { stopBusy(); busy.Wait() }()

	hold := dupFrames*20*time.Millisecond + 500*time.Millisecond
	sc := writeToneScenario(t, "uac_pcap_dup.xml", sippRTPScenario, dupFrames, hold)

	mp := freeUDPPorts(t, 4)
	capture := filepath.Join(artifacts(t), "dup.pcapng")
	capLog := filepath.Join(artifacts(t), "tshark_dup.log")
	tsh := startCapture(t, ctx, tshark, capture, capLog, fmt.Sprintf("udp and src portrange %d-%d", e.rtpMin, e.rtpMax))
	r := newSipp(t, "dup", freePort(t), "-sf", sc)
	defer func() { logTails(t, append(r.files(), capLog)...) }()
	cmd := r.start(t, ctx, "-t", "u1", "-s", "echo", "-mp", strconv.Itoa(mp),
		"-m", strconv.Itoa(dupCalls), "-r", strconv.Itoa(dupRate), e.sip)
	runErr := cmd.Wait()
	stopBusy()
	sleepCtx(ctx, captureSettle)
	tsh.stop(t)
	checkSipp(t, r, dupCalls, exitErrOrNil(runErr))
	ends := e.finish(t)
	require.Len(t, ends, dupCalls, "echobot's echo ended lines")
	skipped := 0
	for _, m := range ends {
		skipped += count(t, m, "skipped")
	}

	out, err := exec.CommandContext(ctx, tshark, "-r", capture, "-n", "-o", "rtp.heuristic_rtp:TRUE",
		"-Y", "rtp", "-T", "fields", "-E", "separator=;", "-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "rtp.timestamp").Output()
	require.NoError(t, err, "tshark -r")
	seen := map[string]map[uint64]string{} // ssrc → seq → timestamp
	packets, dups := 0, 0
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ";")
		if len(f) != 3 {
			continue
		}
		seq, err := strconv.ParseUint(f[1], 10, 16)
		require.NoError(t, err, "tshark line %q", l)
		m := seen[f[0]]
		if m == nil {
			m = map[uint64]string{}
			seen[f[0]] = m
		}
		if ts, ok := m[seq]; ok {
			dups++
			t.Errorf("SSRC %s sent sequence number %d twice (timestamps %s, %s)", f[0], seq, ts, f[2])
		}
		m[seq] = f[2]
		packets++
	}
	t.Logf("echobot under GOMAXPROCS=1 and a busy core: %d streams, %d packets, %d sequence numbers sent twice; %d frame periods skipped (late worker)", len(seen), packets, dups, skipped)
	// The capture runs beside the busy core too: dumpcap stalled for a
	// second loses every stream of the calls in that second (seen once in
	// CI: 89 of 100). The property checked is that no stream captured has
	// a sequence number twice; most streams must be there for it to mean
	// something.
	require.GreaterOrEqual(t, len(seen), dupCalls*8/10, "echobot's RTP streams captured")
	require.Zero(t, dups)
}
