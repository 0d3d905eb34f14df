//go:build interop

package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// startDTLSBaresip is startSRTPBaresip with the dtls_srtp module and the
// account's media encryption dtls_srtp (UDP/TLS/RTP/SAVP, a=fingerprint,
// a=setup), RTP and RTCP multiplexed (one DTLS association; without
// rtcp-mux baresip runs a second one on the RTCP port). RTP is on
// base+3..+12.
func startDTLSBaresip(t *testing.T, ctx context.Context, name string, hz int) (*mediaBaresip, int) {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtdt", toneHz: hz, toneLen: 60 * time.Second,
		maxCalls: 2, codecs: []string{"g711", "dtls_srtp"}, record: true, jitterDelay: "5-10", rtcpMux: true,
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=PCMU;medianat=;mediaenc=dtls_srtp;regint=0", name)})
	return &mediaBaresip{baresip: b, rec: rec}, b.sipPort + 3
}

// dtlsMedia is srtpMedia(p) with rtcp-mux.
func dtlsMedia(p srtp.Policy) ua.MediaConfig {
	m := srtpMedia(p)
	m.RTCPMux = true
	return m
}

// waitDTLSKeyed waits until the handshake keyed s, and logs its time.
func waitDTLSKeyed(t *testing.T, ctx context.Context, s *rtp.Session) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, peerWait)
	defer cancel()
	for !s.SRTPEnabled() {
		if wctx.Err() != nil {
			t.Fatalf("no DTLS-SRTP keys: %+v", s.Stats().DTLS)
		}
		sleepCtx(wctx, 10*time.Millisecond)
	}
	st := s.Stats().DTLS
	t.Logf("DTLS-SRTP handshake with baresip: %v (%+v)", st.LastHandshake, st)
	require.Equal(t, uint64(1), st.Handshakes)
}

// TestDTLSToBaresip: our UA, DTLS policy, calls baresip (dtls_srtp):
// UDP/TLS/RTP/SAVP with a=setup:actpass, baresip answers; the handshake
// on the RTP port keys SRTP; tones both ways; tshark sees only SRTP and
// SRTCP.
func TestDTLSToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startDTLSBaresip(t, ctx, "dbob", mediaPeerTone)
	c := captureSRTP(t, ctx, "dtls-to-baresip.pcapng", rtpLo)
	u := mediaUA(t, dtlsMedia(srtp.PolicyDTLS), nil)
	call, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	t.Logf("baresip's answer:\n%s", call.RemoteSDP())
	require.Contains(t, string(call.LocalSDP()), " UDP/TLS/RTP/SAVP ")
	require.Contains(t, string(call.RemoteSDP()), "a=fingerprint:")
	waitDTLSKeyed(t, ctx, call.Media())
	finishSRTPCall(t, ctx, call, b, c)
}

// TestDTLSFromBaresip: baresip (dtls_srtp) calls our UA, DTLS policy,
// which answers its DTLS-SRTP offer.
func TestDTLSFromBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, rtpLo := startDTLSBaresip(t, ctx, "dcarol", mediaPeerTone)
	c := captureSRTP(t, ctx, "dtls-from-baresip.pcapng", rtpLo)
	calls := make(chan *ua.Call, 1)
	u := mediaUA(t, dtlsMedia(srtp.PolicyDTLS), answerInto(t, calls))
	call := b.dialUs(t, ctx, "sip:secure@"+u.Addrs()[0].String(), calls)
	t.Logf("baresip's offer:\n%s", call.RemoteSDP())
	require.Contains(t, string(call.LocalSDP()), "a=fingerprint:")
	waitDTLSKeyed(t, ctx, call.Media())
	finishSRTPCall(t, ctx, call, b, c)
}

// TestEchobotDTLS: baresip (dtls_srtp, rtcp-mux) calls examples/echobot
// run with -srtp dtls; baresip hears its own tone back through DTLS-SRTP.
func TestEchobotDTLS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b, _ := startDTLSBaresip(t, ctx, "echodtls", mediaPeerTone)
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
