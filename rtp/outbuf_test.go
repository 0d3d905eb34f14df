package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/stretchr/testify/require"
)

// TestOutBufAfterRTCP: an RTCP report queued between audio packets of one
// send batch has no buffer of the session's own; the audio after it must
// still get one (issue 21: the soak run crashed here, index out of range
// in outBuf, when a session ran twice in one batch around its report).
// Every queued packet keeps its own bytes.
func TestOutBufAfterRTCP(t *testing.T) {
	s := testSession(t, netip.MustParseAddrPort("192.0.2.1:4000"))
	frame := make([]int16, audio.FrameSamples)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendAudioLocked(frame, 0)
	s.queueRTCPLocked(now)
	s.appendAudioLocked(frame, 160)
	s.queueRTCPLocked(now.Add(5 * time.Second))
	s.appendAudioLocked(frame, 320)
	require.Len(t, s.tx.out, 5)
	require.Zero(t, s.tx.sendErrors)
	seqs := map[uint16]bool{}
	for i, o := range s.tx.out {
		if i%2 == 1 {
			require.True(t, isRTCP(o.b), "packet %d is the report", i)
			continue
		}
		seq := uint16(o.b[2])<<8 | uint16(o.b[3])
		require.False(t, seqs[seq], "packet %d has its own buffer", i)
		seqs[seq] = true
	}
}
