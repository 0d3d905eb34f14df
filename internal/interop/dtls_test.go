//go:build interop

package interop

import (
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// startDTLSBaresip is startSRTPBaresip with the dtls_srtp module and the
// account's media encryption dtls_srtp (UDP/TLS/RTP/SAVP, a=fingerprint,
// a=setup), RTP and RTCP multiplexed when mux is set (one DTLS
// association), otherwise on two ports, where baresip runs a second
// association on the RTCP port (RFC 5764 §4.1). RTP is on base+3..+12.
func startDTLSBaresip(t *testing.T, ctx context.Context, name string, hz int, mux bool) (*mediaBaresip, int) {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtdt", toneHz: hz, toneLen: 60 * time.Second,
		maxCalls: 2, codecs: []string{"g711", "dtls_srtp"}, record: true, jitterDelay: "5-10", rtcpMux: mux,
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=PCMU;medianat=;mediaenc=dtls_srtp;regint=0", name)})
	return &mediaBaresip{baresip: b, rec: rec}, b.sipPort + 3
}

// dtlsMedia is srtpMedia(p) with rtcp-mux.
func dtlsMedia(p srtp.Policy) ua.MediaConfig {
	m := srtpMedia(p)
	m.RTCPMux = true
	return m
}

// waitDTLSKeyed waits until the handshake keyed s with associations
// associations (two without rtcp-mux, the RTCP port's possibly ending
// after the media is keyed), and logs its time.
func waitDTLSKeyed(t *testing.T, ctx context.Context, s *rtp.Session, associations uint64) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, peerWait)
	defer cancel()
	for !s.SRTPEnabled() || s.Stats().DTLS.Handshakes < associations {
		if wctx.Err() != nil {
			t.Fatalf("no DTLS-SRTP keys: %+v", s.Stats().DTLS)
		}
		sleepCtx(wctx, 10*time.Millisecond)
	}
	st := s.Stats().DTLS
	t.Logf("DTLS-SRTP handshake with baresip: %v (%+v)", st.LastHandshake, st)
	require.Equal(t, associations, st.Handshakes)
	require.Equal(t, associations-1, st.RTCPHandshakes)
	require.Zero(t, st.Failures)
}

// TestDTLSToBaresip: our UA, DTLS policy, calls baresip (dtls_srtp):
// UDP/TLS/RTP/SAVP with a=setup:actpass, baresip answers; the handshake
// on the RTP port keys SRTP; tones both ways; tshark sees only SRTP and
// SRTCP.
func TestDTLSToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startDTLSBaresip(t, ctx, "dbob", mediaPeerTone, true)
	c := captureSRTP(t, ctx, "dtls-to-baresip.pcapng", rtpLo)
	u := mediaUA(t, dtlsMedia(srtp.PolicyDTLS), nil)
	call, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	t.Logf("baresip's answer:\n%s", call.RemoteSDP())
	require.Contains(t, string(call.LocalSDP()), " UDP/TLS/RTP/SAVP ")
	require.Contains(t, string(call.RemoteSDP()), "a=fingerprint:")
	waitDTLSKeyed(t, ctx, call.Media(), 1)
	finishSRTPCall(t, ctx, call, b, c)
}

// TestDTLSFromBaresip: baresip (dtls_srtp) calls our UA, DTLS policy,
// which answers its DTLS-SRTP offer.
func TestDTLSFromBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startDTLSBaresip(t, ctx, "dcarol", mediaPeerTone, true)
	c := captureSRTP(t, ctx, "dtls-from-baresip.pcapng", rtpLo)
	calls := make(chan *ua.Call, 1)
	u := mediaUA(t, dtlsMedia(srtp.PolicyDTLS), answerInto(t, calls))
	call := b.dialUs(t, ctx, "sip:secure@"+u.Addrs()[0].String(), calls)
	t.Logf("baresip's offer:\n%s", call.RemoteSDP())
	require.Contains(t, string(call.LocalSDP()), "a=fingerprint:")
	waitDTLSKeyed(t, ctx, call.Media(), 1)
	finishSRTPCall(t, ctx, call, b, c)
}

// TestEchobotDTLS: baresip (dtls_srtp, rtcp-mux) calls examples/echobot
// run with -srtp dtls; baresip hears its own tone back through DTLS-SRTP.
func TestEchobotDTLS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, _ := startDTLSBaresip(t, ctx, "echodtls", mediaPeerTone, true)
	e := startEchobot(t, ctx, "-srtp", "dtls")
	defer func() { logTails(t, e.stdout, e.stderr) }()
	b.callFor(t, ctx, "sip:echo@"+e.sip)
	got := waitDump(t, ctx, b.rec, 8000)
	echoed := peak(got, mediaPeerTone)
	t.Logf("baresip heard its own %d Hz back at %.4f", mediaPeerTone, echoed)
	require.Greater(t, echoed, mediaMinLevel, "baresip's tone echoed through DTLS-SRTP")
	ends := e.finish(t)
	require.Len(t, ends, 1)
	t.Logf("echobot: %s", ends[0]["line"])
}

// TestDTLSNoMuxBaresip: DTLS-SRTP with baresip without rtcp-mux (its
// rtcp_mux no, our MediaConfig.RTCPMux false), both ways: an association
// on each port, the RTP one keying SRTP and the RTCP one SRTCP (RFC 5764
// §4.1, §4.2); tones both ways; SRTCP from baresip opens with the RTCP
// port's keys, and baresip's reports name our SRs (so it opened our
// SRTCP); tshark sees
// only SRTP and SRTCP from us, the SRTCP between the RTCP ports (baresip
// may send plain RTP before its RTP association ends: srtpCapture.
// peerPlainFirst).
func TestDTLSNoMuxBaresip(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"to", "from"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			b, rtpLo := startDTLSBaresip(t, ctx, "dnomux"+dir, mediaPeerTone, false)
			c := captureSRTP(t, ctx, "dtls-nomux-"+dir+"-baresip.pcapng", rtpLo)
			c.peerPlainFirst = true
			var call *ua.Call
			if dir == "to" {
				u := mediaUA(t, srtpMedia(srtp.PolicyDTLS), nil)
				var err error
				call, err = u.Dial(ctx, b.uri(), ua.DialOptions{})
				require.NoError(t, err, "Dial baresip")
			} else {
				calls := make(chan *ua.Call, 1)
				u := mediaUA(t, srtpMedia(srtp.PolicyDTLS), answerInto(t, calls))
				call = b.dialUs(t, ctx, "sip:secure@"+u.Addrs()[0].String(), calls)
			}
			t.Logf("baresip's SDP:\n%s", call.RemoteSDP())
			require.NotContains(t, string(call.LocalSDP())+string(call.RemoteSDP()), "a=rtcp-mux")
			s := call.Media()
			require.NotEqual(t, s.LocalAddr().Port(), s.LocalRTCPAddr().Port())
			waitDTLSKeyed(t, ctx, s, 2)
			wctx, wcancel := context.WithTimeout(ctx, 2*peerWait) // baresip reports every few seconds
			defer wcancel()
			// A report block naming an SR of ours: baresip opened our
			// SRTCP. (The RTT itself may round to zero on loopback.)
			for s.Stats().RTCP.SRsEchoed == 0 {
				if wctx.Err() != nil {
					t.Fatalf("baresip reported none of our SRTCP: %+v, %+v", s.Stats().RTCP, s.Stats().SRTP)
				}
				sleepCtx(wctx, 20*time.Millisecond)
			}
			st := s.Stats()
			t.Logf("RTT %v, RTCP %+v, SRTCP %+v", st.RTCP.RTT, st.RTCP, st.SRTP.RTCP)
			require.Positive(t, st.SRTP.RTCP.Unprotected, "baresip's SRTCP under the RTCP port's keys")
			require.Zero(t, st.SRTP.RTCP.AuthFailed, "no SRTCP under other keys")
			ourRTP, ourRTCP := s.LocalAddr().Port(), s.LocalRTCPAddr().Port()
			finishSRTPCall(t, ctx, call, b, c)
			checkRTCPPorts(t, ctx, c, int(ourRTP), int(ourRTCP))
		})
	}
}

// checkRTCPPorts reads capture c: every RTCP packet of ours leaves from
// ourRTCP and every one of baresip's arrives there, none on ourRTP, and
// there is some each way.
func checkRTCPPorts(t *testing.T, ctx context.Context, c *srtpCapture, ourRTP, ourRTCP int) {
	t.Helper()
	out, err := exec.CommandContext(ctx, c.tshark, "-r", c.pcap, "-n", "-T", "fields", "-E", "separator=;",
		"-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload").Output()
	require.NoError(t, err, "tshark -r")
	var fromUs, toUs int
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ";")
		if len(f) != 3 {
			continue
		}
		src, _ := strconv.Atoi(f[0])
		dst, _ := strconv.Atoi(f[1])
		b, err := hex.DecodeString(strings.ReplaceAll(f[2], ":", ""))
		require.NoError(t, err)
		if len(b) < 8 || b[0]>>6 != 2 || b[1] < 192 || b[1] > 223 {
			continue // not RTCP (RFC 5761 §4)
		}
		switch {
		case src == ourRTCP:
			fromUs++
		case dst == ourRTCP:
			toUs++
		default:
			require.Failf(t, "RTCP off the RTCP port", "%d -> %d (our RTP port %d, RTCP port %d)", src, dst, ourRTP, ourRTCP)
		}
	}
	t.Logf("RTCP on our RTCP port %d: %d sent, %d received", ourRTCP, fromUs, toUs)
	require.Positive(t, fromUs)
	require.Positive(t, toUs)
}
