//go:build interop

package interop

import (
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// srtpSeconds is how long the SRTP calls talk: long enough for a few
// RTCP reports from both sides.
const srtpSeconds = 6

// startSRTPBaresip is startMediaBaresip with the srtp module, PCMU only,
// and the account's media encryption set to mediaenc ("srtp": best effort,
// RTP/AVP with a=crypto; "srtp-mand": RTP/SAVP). RTP is on base+3..+12.
func startSRTPBaresip(t *testing.T, ctx context.Context, name string, hz int, mediaenc string) (*mediaBaresip, int) {
	t.Helper()
	return startSecureBaresip(t, ctx, name, hz, 8000, "PCMU", mediaenc)
}

// startSecureBaresip is startSRTPBaresip with audio at rate and only
// codec (as baresip names it: "PCMU", "G722/16000/1").
func startSecureBaresip(t *testing.T, ctx context.Context, name string, hz, rate int, codec, mediaenc string) (*mediaBaresip, int) {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtsr", toneHz: hz, toneLen: 60 * time.Second,
		rate: rate, maxCalls: 2, codecs: []string{"g711", "g722", "srtp"}, record: true, jitterDelay: "5-10",
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=%s;medianat=;mediaenc=%s;regint=0", name, codec, mediaenc)})
	return &mediaBaresip{baresip: b, rec: rec}, b.sipPort + 3
}

// srtpMedia is our media with SRTP policy p, RTCP every 500 ms.
func srtpMedia(p srtp.Policy) ua.MediaConfig {
	return ua.MediaConfig{SRTP: p, RTCPInterval: 500 * time.Millisecond}
}

// talkSRTP plays our tone for srtpSeconds on s and checks that we heard
// baresip's and that SRTP refused nothing.
func talkSRTP(t *testing.T, ctx context.Context, s *rtp.Session) {
	t.Helper()
	require.True(t, s.SRTPEnabled(), "the call is secured")
	heard := playTone(t, ctx, s, wav.ToneConfig{Frequency: mediaOurTone}, srtpSeconds*1000/20)
	st := s.Stats()
	t.Logf("our session: sent %d, received %d, SRTP %+v", st.PacketsSent, st.PacketsReceived, st.SRTP)
	require.Positive(t, st.SRTP.RTP.Unprotected)
	require.Zero(t, st.SRTP.RTP.AuthFailed+st.SRTP.RTP.Replayed+st.SRTP.RTP.Malformed)
	require.Positive(t, st.SRTP.RTCP.Protected, "we sent SRTCP")
	require.Greater(t, peak(heard, mediaPeerTone), mediaMinLevel, "baresip's tone through SRTP")
	require.Less(t, peak(heard, mediaOurTone), mediaMinLevel/10)
}

// checkWireEncrypted reads the capture: RTP both ways carries the
// authentication tag of suite and no payload that decodes to a tone, and
// RTCP both ways is SRTCP (its E flag set). With peerPlainFirst, plain RTP
// from the peer before its first SRTP packet is logged and skipped (see
// srtpCapture.peerPlainFirst).
func checkWireEncrypted(t *testing.T, ctx context.Context, tshark, file string, lo, hi int, suite srtp.Suite, peerPlainFirst bool) {
	t.Helper()
	out, err := exec.CommandContext(ctx, tshark, "-r", file, "-n", "-T", "fields", "-E", "separator=;",
		"-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload").Output()
	require.NoError(t, err, "tshark -r")
	type dirKey struct{ fromPeer, rtcp bool }
	counts := map[dirKey]int{}
	payloads := map[bool][]int16{} // decoded RTP payloads by fromPeer
	plainFirst := 0                // plain RTP from the peer before its SRTP (peerPlainFirst)
	plainLate := 0                 // plain RTP from the peer once its SRTP ran
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ";")
		if len(f) != 3 {
			continue
		}
		src, _ := strconv.Atoi(f[0])
		b, err := hex.DecodeString(strings.ReplaceAll(f[2], ":", ""))
		require.NoError(t, err)
		if len(b) < 12 || b[0]>>6 != 2 {
			continue
		}
		fromPeer := src >= lo && src <= hi
		if b[1] >= 192 && b[1] <= 223 { // RTCP or SRTCP (RFC 5761 §4)
			// SRTCP: the compound, then E flag and index (4 octets), then
			// the tag (RFC 3711 §3.4); with AES-GCM the tag comes first,
			// inside, and E flag and index last (RFC 7714).
			e := len(b) - 4 - suite.RTCPTagLen()
			if suite.AEAD() {
				e = len(b) - 4
			}
			if len(b) < 8+4+suite.RTCPTagLen() || b[e]&0x80 == 0 {
				// baresip sends a plain RTCP APP "PING"/"PONG" keepalive
				// before its SRTP starts, and its RTCP BYE after its SRTP
				// stopped: both plain, both refused by our session.
				require.True(t, fromPeer, "we sent plain RTCP: %x", b)
				t.Logf("plain RTCP from baresip (refused, counted as malformed): %x", b)
				continue
			}
			counts[dirKey{fromPeer, true}]++
			continue
		}
		require.EqualValues(t, audio.PayloadTypePCMU, b[1]&0x7f)
		if fromPeer && peerPlainFirst && counts[dirKey{true, false}] == 0 && len(b) == 12+audio.FrameSamples {
			plainFirst++
			continue
		}
		if fromPeer && counts[dirKey{true, false}] > 0 && len(b) == 12+audio.FrameSamples {
			// baresip 1.0 may send a plain packet of its tone while its
			// SRTP runs (seen once in CI: 440 Hz in the clear); our
			// session, SRTP mandatory, drops it. A few are tolerated, ours
			// never.
			plainLate++
			continue
		}
		require.Len(t, b, 12+audio.FrameSamples+suite.RTPTagLen(), "RTP header, 160 octets, %v's tag", suite)
		payloads[fromPeer] = g711.DecodeULaw(payloads[fromPeer], b[12:12+audio.FrameSamples])
		counts[dirKey{fromPeer, false}]++
	}
	t.Logf("captured packets: %v", counts)
	if plainFirst > 0 {
		t.Logf("plain RTP from baresip before its SRTP (dropped by our session, which waits for keys): %d", plainFirst)
	}
	if plainLate > 0 {
		t.Logf("plain RTP from baresip while its SRTP ran (dropped by our session): %d", plainLate)
	}
	require.LessOrEqual(t, plainLate, srtpPlainLateMax, "plain RTP from baresip while its SRTP ran")
	for _, fromPeer := range []bool{false, true} {
		require.Greater(t, counts[dirKey{fromPeer, false}], 100, "SRTP packets (from baresip: %v)", fromPeer)
		require.Positive(t, counts[dirKey{fromPeer, true}], "SRTCP packets (from baresip: %v)", fromPeer)
		for _, hz := range []float64{mediaOurTone, mediaPeerTone} {
			require.Less(t, peak(payloads[fromPeer], hz), mediaMinLevel, "the payloads decode to %v Hz (from baresip: %v)", hz, fromPeer)
		}
	}
}

// TestSRTPToBaresip: our UA, SRTP mandatory, calls baresip (srtp module,
// mandatory, RTP/SAVP); baresip takes AEAD_AES_128_GCM, the first suite of
// our offer; tones both ways; tshark sees only SRTP and SRTCP.
func TestSRTPToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startSRTPBaresip(t, ctx, "sbob", mediaPeerTone, "srtp-mand")
	c := captureSRTP(t, ctx, "srtp-to-baresip.pcapng", rtpLo)
	u := mediaUA(t, srtpMedia(srtp.PolicyMandatory), nil)
	call, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	require.Contains(t, string(call.LocalSDP()), " RTP/SAVP ")
	require.Contains(t, string(call.RemoteSDP()), "a=crypto:")
	require.Equal(t, srtp.AEAD_AES_128_GCM, call.Media().SRTPSuite(), "our first suite")
	finishSRTPCall(t, ctx, call, b, c)
}

// TestSRTPFromBaresip: baresip (srtp module, best effort: RTP/AVP with
// a=crypto) calls our UA, SRTP optional, which answers securely with the
// first suite of baresip's offer, AES_CM_128_HMAC_SHA1_80.
func TestSRTPFromBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startSRTPBaresip(t, ctx, "scarol", mediaPeerTone, "srtp")
	c := captureSRTP(t, ctx, "srtp-from-baresip.pcapng", rtpLo)
	calls := make(chan *ua.Call, 1)
	u := mediaUA(t, srtpMedia(srtp.PolicyOptional), answerInto(t, calls))
	call := b.dialUs(t, ctx, "sip:secure@"+u.Addrs()[0].String(), calls)
	t.Logf("baresip's offer:\n%s", call.RemoteSDP())
	require.Contains(t, string(call.LocalSDP()), "a=crypto:")
	require.Equal(t, srtp.AES_CM_128_HMAC_SHA1_80, call.Media().SRTPSuite(), "baresip's first suite")
	finishSRTPCall(t, ctx, call, b, c)
}

// TestEchobotG722SRTP: baresip (G.722 only, SRTP mandatory) calls
// examples/echobot run with -codecs g722,pcmu -srtp mandatory; baresip
// hears its own 5 kHz tone back, which only wideband audio carries, through
// SRTP both ways.
func TestEchobotG722SRTP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, _ := startSecureBaresip(t, ctx, "echowide", widePeerTone, 16000, "G722/16000/1", "srtp-mand")
	e := startEchobot(t, ctx, "-codecs", "g722,pcmu", "-srtp", "mandatory")
	defer func() { logTails(t, e.stdout, e.stderr) }()
	b.callFor(t, ctx, "sip:echo@"+e.sip)
	got := waitDump(t, ctx, b.rec, g722.SampleRate)
	echoed := peakAt(got, widePeerTone, g722.SampleRate)
	t.Logf("baresip heard its own %d Hz back at %.4f", widePeerTone, echoed)
	require.Greater(t, echoed, mediaMinLevel, "baresip's 5 kHz tone echoed over G.722 and SRTP")
	ends := e.finish(t)
	require.Len(t, ends, 1)
	t.Logf("echobot: %s", ends[0]["line"])
}

// srtpCapture is a tshark capture of baresip's RTP ports, rtpLo to
// rtpLo+9 (see startSRTPBaresip), into pcap.
type srtpCapture struct {
	c            *capturer
	tshark, pcap string
	rtpLo        int
	// peerPlainFirst lets the peer send plain RTP before its first SRTP
	// packet: baresip 1.0 without rtcp-mux starts its audio when either
	// DTLS association ends, and when the RTCP port's ends first, sends
	// plain RTP until the RTP port's does.
	peerPlainFirst bool
}

// captureSRTP starts capturing baresip's RTP ports from rtpLo into file
// among the test's artifacts.
func captureSRTP(t *testing.T, ctx context.Context, file string, rtpLo int) *srtpCapture {
	t.Helper()
	tshark := peerBinary(t, "tshark", "tshark")
	pcap := filepath.Join(artifacts(t), file)
	c := startCapture(t, ctx, tshark, pcap, filepath.Join(artifacts(t), "tshark.log"), fmt.Sprintf("udp portrange %d-%d", rtpLo, rtpLo+9))
	return &srtpCapture{c: c, tshark: tshark, pcap: pcap, rtpLo: rtpLo}
}

// srtpPlainLateMax bounds the plain RTP packets baresip may send once its
// SRTP has begun (checkWireEncrypted).
const srtpPlainLateMax = 5

// finishSRTPCall talks on call for srtpSeconds, hangs up, and checks that
// the capture c of baresip's RTP ports saw only encrypted media and that
// baresip heard our tone.
func finishSRTPCall(t *testing.T, ctx context.Context, call *ua.Call, b *mediaBaresip, c *srtpCapture) {
	t.Helper()
	talkSRTP(t, ctx, call.Media())
	suite := call.Media().SRTPSuite()
	t.Logf("SRTP suite %v", suite)
	require.NoError(t, call.Hangup(ctx))
	sleepCtx(ctx, captureSettle)
	c.c.stop(t)
	checkWireEncrypted(t, ctx, c.tshark, c.pcap, c.rtpLo, c.rtpLo+9, suite, c.peerPlainFirst)
	got := waitDump(t, ctx, b.rec, audio.SampleRate)
	require.Greater(t, peak(got, mediaOurTone), mediaMinLevel, "our tone in baresip's recording")
}
