package ua_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// srtpCall has a UA with the caller's SRTP policy call one with the
// callee's. If refused, it checks the call is refused (dialRefused) and
// returns nil calls; else it returns both ends of the established call.
func srtpCall(ctx context.Context, t *testing.T, caller, callee srtp.Policy, refused bool) (out, in *ua.Call) {
	t.Helper()
	a := newMediaPeer(t, ua.MediaConfig{SRTP: caller})
	b := newMediaPeer(t, ua.MediaConfig{SRTP: callee})
	if !refused {
		return connect(ctx, t, a, b, ua.DialOptions{})
	}
	dialRefused(ctx, t, a, b)
	return nil, nil
}

// SDES-SRTP between two UAs, for each pair of policies: the profile
// offered, whether the call is secured (both sessions keyed, tones both
// ways through SRTP), or refused with 488.
func TestMediaSRTPPolicies(t *testing.T) {
	tests := []struct {
		name           string
		caller, callee srtp.Policy
		proto          string // of the offer
		secured        bool
		refused        bool
	}{
		{"optional to optional", srtp.PolicyOptional, srtp.PolicyOptional, "RTP/AVP", true, false},
		{"mandatory to optional", srtp.PolicyMandatory, srtp.PolicyOptional, "RTP/SAVP", true, false},
		{"optional to mandatory", srtp.PolicyOptional, srtp.PolicyMandatory, "RTP/AVP", true, false},
		{"mandatory to mandatory", srtp.PolicyMandatory, srtp.PolicyMandatory, "RTP/SAVP", true, false},
		{"optional to off: plain", srtp.PolicyOptional, srtp.PolicyOff, "RTP/AVP", false, false},
		{"off to optional: plain", srtp.PolicyOff, srtp.PolicyOptional, "RTP/AVP", false, false},
		{"off to mandatory: 488", srtp.PolicyOff, srtp.PolicyMandatory, "", false, true},
		{"mandatory to off: 488", srtp.PolicyMandatory, srtp.PolicyOff, "", false, true},
		{"default sip call: plain", srtp.PolicyDefault, srtp.PolicyDefault, "RTP/AVP", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			out, in := srtpCall(ctx, t, tt.caller, tt.callee, tt.refused)
			if tt.refused {
				return
			}
			require.Contains(t, string(out.LocalSDP()), "m=audio "+itoa(out.Media().LocalAddr().Port())+" "+tt.proto+" ")
			require.Equal(t, tt.secured, bytes.Contains(in.LocalSDP(), []byte("a=crypto:")), "answer's a=crypto")
			require.Equal(t, tt.secured, out.Media().SRTPEnabled())
			require.Equal(t, tt.secured, in.Media().SRTPEnabled())

			tonesBothWays(ctx, t, out.Media(), in.Media())
			st := in.Media().Stats().SRTP.RTP
			if tt.secured {
				require.Positive(t, st.Unprotected)
				require.Positive(t, out.Media().Stats().SRTP.RTP.Protected)
			} else {
				require.Zero(t, st.Unprotected+st.Protected)
			}
			require.Zero(t, st.AuthFailed+st.Replayed+st.Malformed)
			require.NoError(t, out.Hangup(ctx))
		})
	}
}

// traceLog keeps copies of the SIP messages a Tracer sees.
type traceLog struct {
	mu   sync.Mutex
	data bytes.Buffer
}

func (l *traceLog) Trace(ev ua.TraceEvent) {
	l.mu.Lock()
	l.data.Write(ev.Data)
	l.mu.Unlock()
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.data.String()
}

var inlineKey = regexp.MustCompile(`inline:([A-Za-z0-9+/]{20,}=*)`)

// SDES keys appear in the SDP bodies on the wire and nowhere else: not in
// the messages the SIP Tracer sees, not in debug logs.
func TestMediaSRTPKeysNotTraced(t *testing.T) {
	ctx := mediaCtx(t)
	trace := &traceLog{}
	logs := &testenv.SyncBuffer{}
	b := newMediaPeer(t, ua.MediaConfig{SRTP: srtp.PolicyMandatory})
	a := newLoopbackUA(t, ua.Config{
		Transport: ua.TransportConfig{Tracer: trace},
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Media:     ua.MediaConfig{SRTP: srtp.PolicyMandatory, IP: netip.MustParseAddr("127.0.0.1")},
	})
	out, err := a.Dial(ctx, b.uri("bob"), ua.DialOptions{})
	require.NoError(t, err)
	require.True(t, out.Media().SRTPEnabled())
	var keys []string
	for _, sdpBody := range [][]byte{out.LocalSDP(), out.RemoteSDP()} {
		m := inlineKey.FindSubmatch(sdpBody)
		require.NotNil(t, m, "a key in %s", sdpBody)
		keys = append(keys, string(m[1]))
	}
	require.NoError(t, out.Hangup(ctx))

	tr := trace.String()
	require.Contains(t, tr, "a=crypto:", "the tracer saw the SDP")
	require.Contains(t, tr, "inline:[redacted]")
	for _, k := range keys {
		require.NotContains(t, tr, k[:16], "a key in the SIP trace")
		require.NotContains(t, logs.String(), k[:16], "a key in the logs")
	}
}

func itoa(p uint16) string { return string(strconv.AppendUint(nil, uint64(p), 10)) }

// Re-INVITEs of an SRTP call (hold, resume, a refresh from the callee)
// keep the keys: the same a=crypto offered and answered again, no packet
// refused, and the tone goes on crossing; a wideband call is secured too.
func TestMediaSRTPReinvite(t *testing.T) {
	ctx := mediaCtx(t)
	cfg := ua.MediaConfig{SRTP: srtp.PolicyMandatory,
		Codecs: []audio.Codec{audio.G722(), audio.PCMU(), audio.TelephoneEvent()}}
	a, b := newMediaPeer(t, cfg), newMediaPeer(t, cfg)
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	require.Equal(t, 16000, out.Media().SampleRate(), "G.722 under SRTP")
	keysOf := func(body []byte) string { return string(inlineKey.Find(body)) }
	offerKey, answerKey := keysOf(out.LocalSDP()), keysOf(in.LocalSDP())
	require.NotEmpty(t, offerKey)
	require.NotEmpty(t, answerKey)

	require.NoError(t, out.Hold(ctx))
	require.NoError(t, out.Resume(ctx))
	require.NoError(t, in.Reinvite(ctx, nil)) // the callee offers now
	require.Equal(t, offerKey, keysOf(out.LocalSDP()), "the caller's key kept through re-INVITEs")
	require.True(t, out.Media().SRTPEnabled())
	require.True(t, in.Media().SRTPEnabled())

	record(ctx, t, in.Media(), 5) // let the re-INVITEs settle
	got := playAndRecordAt(ctx, t, out.Media(), in.Media(), 6000, 16000, 40)
	require.Greater(t, peakLevelAt(got, 6000, 16000), 0.02, "B hears A's 6 kHz tone after the re-INVITEs")
	for _, s := range []*rtp.Session{out.Media(), in.Media()} {
		st := s.Stats().SRTP
		require.Positive(t, st.RTP.Unprotected)
		require.Zero(t, st.RTP.AuthFailed+st.RTP.Replayed+st.RTP.Malformed, "SRTP refusals after re-INVITEs")
	}
	require.NoError(t, out.Hangup(ctx))
}
