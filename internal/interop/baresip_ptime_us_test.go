//go:build interop

package interop

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// TestBaresipPtimeFromUs is TestEchobotWithBaresipPtime the other way:
// our UA, asking for ptime 10, 30 and 40 (MediaConfig.Ptime), calls a
// baresip configured for the same ptime, which auto-answers, plays its
// tone and records ours. We send at the ptime of baresip's answer
// (a=ptime, within its maxptime; RFC 4566 §6), and our host reads and
// writes frames of that ptime. Both recordings hold the other's tone and
// not their own; baresip's holds ours without a quiet 10 ms window inside
// it and lasts as long as what we sent, less what was still in baresip's
// jitter buffer at the hangup (under echoDelayMax); ours, read frame by
// frame at our ptime, has no quiet window once baresip's tone starts.
func TestBaresipPtimeFromUs(t *testing.T) {
	for _, ptime := range []int{10, 30, 40} {
		t.Run(fmt.Sprintf("ptime=%d", ptime), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			b := startPtimeBaresip(t, ctx, fmt.Sprintf("usptime%d", ptime), ptime)
			// Our playout waits at least 100 ms too: a stall of baresip on
			// this shared machine (packets 70 ms late) is not heard as a
			// gap the test would blame on our packetization.
			u := mediaUA(t, ua.MediaConfig{Ptime: ptime, Jitter: jitter.Config{MinDepth: 100 * time.Millisecond}}, nil)

			c, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
			require.NoError(t, err, "Dial baresip")
			s := c.Media()
			require.NotNil(t, s)
			answer := string(c.RemoteSDP())
			theirs := sdpPtime(answer)
			t.Logf("baresip's answer (a=ptime %d):\n%s", theirs, answer)
			require.Positive(t, theirs, "a=ptime in baresip's answer")

			frame := s.FrameSamples()
			require.Equal(t, theirs*audio.SampleRate/1000, frame, "host frames of the call's ptime")
			frames := mediaSeconds * 1000 / theirs
			start := time.Now()
			heard := playTone(t, ctx, s, wav.ToneConfig{Frequency: mediaOurTone, FrameSamples: frame}, frames)
			elapsed := time.Since(start)
			st := s.Stats()
			require.NoError(t, c.Hangup(ctx))
			require.Len(t, heard, frames*frame, "our host read frames of the call's ptime")
			t.Logf("ptime %d: played %d frames in %v; sent %d packets, received %d, lost %d", ptime, frames, elapsed, st.PacketsSent, st.PacketsReceived, st.PacketsLost)
			// We send at the answer's ptime: the call's audio in packets
			// of that size (the first and last may be partial ticks).
			wantPackets := mediaSeconds * 1000 / theirs
			require.InDelta(t, wantPackets, st.PacketsSent, float64(wantPackets)/5, "packets sent at baresip's ptime")

			ours, own := peak(heard, mediaPeerTone), peak(heard, mediaOurTone)
			t.Logf("we heard %d Hz at %.4f (our own at %.6f)", mediaPeerTone, ours, own)
			require.Greater(t, ours, mediaMinLevel, "baresip's tone in our recording")
			require.Less(t, own, mediaMinLevel/10, "our own tone in our recording")
			require.Zero(t, quietAfterStart(t, heard), "quiet 10 ms windows in what we heard once baresip's tone started")

			got := waitDump(t, ctx, b.rec, audio.SampleRate)
			bOurs, bOwn := peak(got, mediaOurTone), peak(got, mediaPeerTone)
			sentLen := int(st.PacketsSent) * theirs * audio.SampleRate / 1000
			short := time.Duration(sentLen-len(got)) * time.Second / audio.SampleRate
			t.Logf("baresip heard %d Hz at %.4f (its own at %.6f); recording %d samples, we sent %d (%v more)", mediaOurTone, bOurs, bOwn, len(got), sentLen, short)
			require.Greater(t, bOurs, mediaMinLevel, "our tone in baresip's recording")
			require.Less(t, bOwn, mediaMinLevel/10, "baresip's own tone in its recording")
			require.GreaterOrEqual(t, short, -time.Duration(theirs)*time.Millisecond, "baresip's recording longer than what we sent by more than a packet")
			require.Less(t, short, echoDelayMax, "baresip's recording shorter than what we sent by more than its buffer")
			require.Zero(t, quietInside(t, got), "quiet 10 ms windows inside baresip's recording of our tone")
		})
	}
}

var ptimeAttr = regexp.MustCompile(`(?m)^a=ptime:(\d+)`)

// sdpPtime is the a=ptime of an SDP, 0 when it has none.
func sdpPtime(sdp string) int {
	m := ptimeAttr.FindStringSubmatch(sdp)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// quietAfterStart counts the quiet 10 ms windows of rec after its first
// loud one, to its end: what a host heard must not stop until it stops
// reading.
func quietAfterStart(t *testing.T, rec []int16) int {
	t.Helper()
	// quietInside stops at the last loud window; the end of what we
	// read must be loud too, so count from the first loud window to the
	// end by adding a loud window at the end.
	loud := make([]int16, audio.SampleRate/100)
	for i := range loud {
		loud[i] = 8000
	}
	return quietInside(t, append(append([]int16(nil), rec...), loud...))
}
