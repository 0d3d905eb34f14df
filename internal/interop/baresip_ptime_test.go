//go:build interop

package interop

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

// TestEchobotWithBaresipPtime: baresip configured for ptime 10, 30 and 40
// (account parameter ptime, announced as a=ptime; baresip 1.0 itself still
// sends 20 ms packets) calls examples/echobot, plays its 440 Hz tone for
// mediaSeconds and hangs up. echobot sends back at baresip's ptime (its
// packet count says so), playing the 20 ms packets out in frames of that
// ptime: baresip's recording holds its own tone (Goertzel) and nothing
// else, with no silence inserted anywhere in it (every 10 ms window carries
// the tone), and lasts as long as the audio baresip sent less the echo's
// delay (echobot's playout delay and queues: under echoDelayMax).
// echoDelayMax bounds how much of the end of baresip's audio is still in
// echobot (jitter buffer, playout and send queues) when baresip hangs up.
const echoDelayMax = 300 * time.Millisecond

func TestEchobotWithBaresipPtime(t *testing.T) {
	for _, ptime := range []int{10, 30, 40} {
		t.Run(fmt.Sprintf("ptime=%d", ptime), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			b := startPtimeBaresip(t, ctx, fmt.Sprintf("ptime%d", ptime), ptime)
			e := startEchobot(t, ctx)
			defer func() { logTails(t, e.stdout, e.stderr) }()

			b.callFor(t, ctx, "sip:echo@"+e.sip)
			got := waitDump(t, ctx, b.rec, audio.SampleRate)
			echoed, other := peak(got, mediaPeerTone), peak(got, mediaOurTone)
			sent := peak(sine(mediaPeerTone, toneAmplitude, audio.SampleRate), mediaPeerTone)
			ends := e.finish(t)
			require.Len(t, ends, 1, "echobot's echo ended lines")
			t.Logf("echobot: %s", ends[0]["line"])
			tx := count(t, ends[0], "tx")
			frame := ptime * audio.SampleRate / 1000
			t.Logf("ptime %d: baresip heard its %d Hz at %.4f (sent %.4f; %d Hz at %.6f); recording %d samples, echobot sent %d packets = %d samples (%+d)",
				ptime, mediaPeerTone, echoed, sent, mediaOurTone, other, len(got), tx, tx*frame, len(got)-tx*frame)
			require.Greater(t, echoed, sent/2, "baresip's tone in its recording of echobot")
			require.Less(t, other, mediaMinLevel/10, "a tone nobody sent in baresip's recording")
			require.InDelta(t, tx, mediaSeconds*1000/ptime, float64(mediaSeconds*1000/ptime)/5, "echobot sent at baresip's ptime")
			rx := count(t, ends[0], "rx")
			sentLen := rx * audio.FrameSamples // baresip sends 20 ms packets
			short := time.Duration(sentLen-len(got)) * time.Second / audio.SampleRate
			t.Logf("recording %v shorter than what baresip sent (%d packets)", short, rx)
			require.GreaterOrEqual(t, short, time.Duration(0), "recording longer than what was sent")
			require.Less(t, short, echoDelayMax, "recording shorter than what was sent by more than the echo's delay")
			// No silence inside: every 10 ms window between the first and
			// the last that carry the tone carries it too (echobot echoes
			// silence before its playout starts: the recording's edges).
			require.Zero(t, quietInside(t, got), "10 ms windows without the tone between the first and last with it")
		})
	}
}

// startPtimeBaresip starts a media baresip (tone mediaPeerTone) as user
// name, configured for ptime ms. Its jitter buffer counts packets: at
// least 5-10, and 100-200 ms of them at short ptimes, so that a scheduling
// stall of either program on this shared machine (a 10 ms packet late by
// 50 ms) is not heard as a gap the tests would blame on our packetization.
func startPtimeBaresip(t *testing.T, ctx context.Context, name string, ptime int) *mediaBaresip {
	t.Helper()
	jb := fmt.Sprintf("%d-%d", max(5, 100/ptime), max(10, 200/ptime))
	return startMediaBaresipJitter(t, ctx, name, mediaPeerTone, jb, fmt.Sprintf(";ptime=%d", ptime))
}

// quietInside counts the 10 ms windows of rec without sound (RMS under
// 1000; the tests' tones have about 5600) between the first and the last
// window with sound, logging each.
func quietInside(t *testing.T, rec []int16) int {
	t.Helper()
	const win = audio.SampleRate / 100
	var loud []bool
	for i := 0; i+win <= len(rec); i += win {
		var e float64
		for _, v := range rec[i : i+win] {
			e += float64(v) * float64(v)
		}
		loud = append(loud, e/win >= 1000*1000)
	}
	first, last := slices.Index(loud, true), -1
	for i := len(loud) - 1; i >= 0 && last < 0; i-- {
		if loud[i] {
			last = i
		}
	}
	quiet := 0
	for i := first; first >= 0 && i <= last; i++ {
		if !loud[i] {
			quiet++
			t.Logf("quiet 10 ms window at %v", time.Duration(i)*10*time.Millisecond)
		}
	}
	t.Logf("tone from %v to %v of %v", time.Duration(first)*10*time.Millisecond, time.Duration(last+1)*10*time.Millisecond, time.Duration(len(loud))*10*time.Millisecond)
	return quiet
}
