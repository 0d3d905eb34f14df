//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
)

// The pieces of the SIPp scenarios the tests write (beside the fixed ones
// in testdata) that play audio, and the reading of the tone they play.

// sippPCMASDP is the SDP of SIPp's side in those scenarios: one audio
// stream at SIPp's media port (-mp), PCMA only, 20 ms, sendrecv. Lines
// are indented as the scenarios' message bodies are.
const sippPCMASDP = `      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=ptime:20
      a=sendrecv
`

// sippResponse is a scenario's <send> of a response to the last request
// received, an INVITE: status is its status line's code and reason ("183
// Session Progress"), To gets SIPp's dialog tag, sdp is the body
// (application/sdp; empty: none), retrans the retransmission interval in
// ms (0: none, as for a provisional response), and headers are added
// lines ("RSeq: 1").
func sippResponse(status, sdp string, retrans int, headers ...string) string {
	return sippReply(status, "[last_To:];tag=[pid]SIPpTag01[call_number]", sdp, retrans, headers)
}

// sippInDialogResponse is sippResponse for a request inside SIPp's dialog
// (PRACK, BYE): its To has the tag already.
func sippInDialogResponse(status, sdp string) string {
	return sippReply(status, "[last_To:]", sdp, 0, nil)
}

func sippReply(status, to, sdp string, retrans int, headers []string) string {
	open := "<send>"
	if retrans > 0 {
		open = fmt.Sprintf("<send retrans=\"%d\">", retrans)
	}
	var extra strings.Builder
	for _, h := range headers {
		extra.WriteString("      " + h + "\n")
	}
	body := "      Content-Length: 0\n"
	if sdp != "" {
		body = "      Content-Type: application/sdp\n      Content-Length: [len]\n\n" + sdp
	}
	return `  ` + open + `
    <![CDATA[

      SIP/2.0 ` + status + `
      [last_Via:]
      [last_From:]
      ` + to + `
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:sipp@[local_ip]:[local_port]>
` + extra.String() + body + `
    ]]>
  </send>
`
}

// writeToneScenario writes, in a directory of the test, a pcap of frames
// 20 ms PCMA frames of a mediaPeerTone sine (writeRTPPcap) and the
// scenario tmpl with that pcap's path and pause (ms) filled in (its two
// verbs, in that order), and returns the scenario's path, named name.
func writeToneScenario(t *testing.T, name, tmpl string, frames int, pause time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	pcap := filepath.Join(dir, "tone_pcma.pcap")
	require.NoError(t, writeRTPPcap(pcap, sine(mediaPeerTone, toneAmplitude, frames*audio.FrameSamples)))
	sc := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, tmpl, pcap, pause.Milliseconds()), 0o644))
	return sc
}

// sippServingTone starts SIPp as the UAS of the scenario tmpl written by
// writeToneScenario (one call) with a free media port, and returns the
// target to call, the wait of sippServing, and that media port.
func sippServingTone(t *testing.T, ctx context.Context, name, tmpl string, frames int, pause time.Duration) (target string, wait func(), mp int) {
	t.Helper()
	sc := writeToneScenario(t, "uas_"+name+".xml", tmpl, frames, pause)
	mp = freeUDPPorts(t, 4)
	target, wait = sippServing(t, ctx, name, "-sf", sc, "-mp", strconv.Itoa(mp))
	return target, wait, mp
}

// readFor reads d of audio from s, frame by frame, and returns it.
func readFor(t *testing.T, ctx context.Context, s *rtp.Session, d time.Duration) []int16 {
	t.Helper()
	var heard []int16
	for range int(d / audio.FrameDuration) {
		var err error
		heard, err = s.ReadFrame(ctx, heard)
		require.NoError(t, err)
	}
	return heard
}
