package ua_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// waitKeyed waits until every session is keyed by SRTP (the DTLS-SRTP
// handshake runs after the exchange).
func waitKeyed(ctx context.Context, t *testing.T, ss ...*rtp.Session) {
	t.Helper()
	for _, s := range ss {
		for !s.SRTPEnabled() {
			select {
			case <-ctx.Done():
				t.Fatalf("session not keyed: %+v", s.Stats().DTLS)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// DTLS-SRTP between two UAs: a DTLS offer (UDP/TLS/RTP/SAVP,
// a=fingerprint, a=setup:actpass) answered a=setup:active by any policy but
// off, both sessions keyed by DTLS (without rtcp-mux, an association on
// each port) and the tones crossing both ways; a plain offer to a DTLS line and a DTLS offer to a line with SRTP
// off are refused with 488; an SDES offer to a DTLS line is answered with
// SDES.
func TestMediaDTLSPolicies(t *testing.T) {
	tests := []struct {
		name           string
		caller, callee srtp.Policy
		dtls, sdes     bool
		refused        bool
	}{
		{"dtls to dtls", srtp.PolicyDTLS, srtp.PolicyDTLS, true, false, false},
		{"dtls to mandatory", srtp.PolicyDTLS, srtp.PolicyMandatory, true, false, false},
		{"dtls to optional", srtp.PolicyDTLS, srtp.PolicyOptional, true, false, false},
		{"mandatory (SDES) to dtls", srtp.PolicyMandatory, srtp.PolicyDTLS, false, true, false},
		{"dtls to off: 488", srtp.PolicyDTLS, srtp.PolicyOff, false, false, true},
		{"off to dtls: 488", srtp.PolicyOff, srtp.PolicyDTLS, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			out, in := srtpCall(ctx, t, tt.caller, tt.callee, tt.refused)
			if tt.refused {
				return
			}
			offer, answer := string(out.LocalSDP()), string(in.LocalSDP())
			if tt.dtls {
				require.Contains(t, offer, " UDP/TLS/RTP/SAVP ")
				require.Contains(t, offer, "a=fingerprint:sha-256 ")
				require.Contains(t, offer, "a=setup:actpass")
				require.Contains(t, answer, " UDP/TLS/RTP/SAVP ")
				require.Contains(t, answer, "a=fingerprint:sha-256 ")
				require.Contains(t, answer, "a=setup:active")
				require.NotContains(t, offer+answer, "a=crypto:")
			}
			if tt.sdes {
				require.Contains(t, answer, "a=crypto:")
				require.NotContains(t, answer, "a=fingerprint")
			}
			waitKeyed(ctx, t, out.Media(), in.Media())
			tonesBothWays(ctx, t, out.Media(), in.Media())
			for _, s := range []*rtp.Session{out.Media(), in.Media()} {
				st := s.Stats()
				require.Positive(t, st.SRTP.RTP.Unprotected)
				require.Zero(t, st.SRTP.RTP.AuthFailed+st.SRTP.RTP.Replayed+st.SRTP.RTP.Malformed)
				if tt.dtls {
					// No rtcp-mux (MediaConfig's default): an association
					// on each port.
					require.Equal(t, uint64(2), st.DTLS.Handshakes)
					require.Equal(t, uint64(1), st.DTLS.RTCPHandshakes)
				} else {
					require.Zero(t, st.DTLS.Handshakes)
				}
			}
			if tt.dtls {
				t.Logf("DTLS-SRTP handshake between two UAs on loopback: caller %v, callee %v",
					out.Media().Stats().DTLS.LastHandshake, in.Media().Stats().DTLS.LastHandshake)
			}
			require.NoError(t, out.Hangup(ctx))
		})
	}
}

// Re-INVITEs of a DTLS-SRTP call (hold, resume, a re-offer from the callee)
// keep the association: the same fingerprints, our role kept in re-offers,
// no new handshake, no packet refused, and the tones go on crossing.
func TestMediaDTLSReinvite(t *testing.T) {
	ctx := mediaCtx(t)
	cfg := ua.MediaConfig{SRTP: srtp.PolicyDTLS}
	a, b := newMediaPeer(t, cfg), newMediaPeer(t, cfg)
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	waitKeyed(ctx, t, out.Media(), in.Media())

	require.NoError(t, out.Hold(ctx))
	require.Contains(t, string(out.LocalSDP()), "a=setup:passive", "the caller, the DTLS server, keeps its role")
	require.NoError(t, out.Resume(ctx))
	require.NoError(t, in.Reinvite(ctx, nil)) // the callee offers now
	require.Contains(t, string(in.LocalSDP()), "a=setup:active", "the callee, the DTLS client, keeps its role")
	require.True(t, strings.Contains(string(out.LocalSDP()), "a=setup:passive"))

	record(ctx, t, in.Media(), 5) // let the re-INVITEs settle
	tonesBothWays(ctx, t, out.Media(), in.Media())
	for _, s := range []*rtp.Session{out.Media(), in.Media()} {
		st := s.Stats()
		require.Equal(t, uint64(2), st.DTLS.Handshakes, "no new handshake on a re-INVITE (one on each port)")
		require.Zero(t, st.DTLS.Failures)
		require.Zero(t, st.SRTP.RTP.AuthFailed+st.SRTP.RTP.Replayed+st.SRTP.RTP.Malformed, "SRTP refusals after re-INVITEs")
	}
	require.NoError(t, out.Hangup(ctx))
}

// DTLS-SRTP between two UAs with rtcp-mux on or off on either side. Off
// on both: an association on each port (RFC 5764 §4.1), SRTCP under the
// RTCP port's keys both ways and an RTT measured. On on both: one
// association. Mux-only on one side and not on the other (rtcp-mux not
// agreed, and the mux-only side has no RTCP socket to run a second
// association on): the media is keyed by the RTP port's association and
// the tones cross; the other side's RTCP association goes unanswered
// without failing the call.
func TestMediaDTLSRTCPMux(t *testing.T) {
	tests := []struct {
		name           string
		caller, callee bool // MediaConfig.RTCPMux
	}{
		{"no rtcp-mux", false, false},
		{"rtcp-mux", true, true},
		{"mux-only caller, callee without", true, false},
		{"caller without, mux-only callee", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			cfg := func(mux bool) ua.MediaConfig {
				return ua.MediaConfig{SRTP: srtp.PolicyDTLS, RTCPMux: mux, RTCPInterval: 200 * time.Millisecond}
			}
			a, b := newMediaPeer(t, cfg(tt.caller)), newMediaPeer(t, cfg(tt.callee))
			out, in := connect(ctx, t, a, b, ua.DialOptions{})
			mux := tt.caller && tt.callee
			require.Equal(t, mux, strings.Contains(string(in.LocalSDP()), "a=rtcp-mux"), "the answer takes rtcp-mux when both do")
			waitKeyed(ctx, t, out.Media(), in.Media())
			tonesBothWays(ctx, t, out.Media(), in.Media())
			sides := []struct {
				s        *rtp.Session
				muxOnly  bool
				name     string
				separate bool // runs a second association
			}{
				{out.Media(), tt.caller, "caller", !tt.caller && !mux},
				{in.Media(), tt.callee, "callee", !tt.callee && !mux},
			}
			for _, sd := range sides {
				st := sd.s.Stats()
				require.Zero(t, st.DTLS.Failures, sd.name)
				require.Zero(t, st.SRTP.RTP.AuthFailed+st.SRTP.RTCP.AuthFailed, sd.name)
				switch {
				case tt.caller == tt.callee && !mux:
					require.Equal(t, uint64(2), st.DTLS.Handshakes, sd.name)
					require.Equal(t, uint64(1), st.DTLS.RTCPHandshakes, sd.name)
				case sd.separate:
					require.Zero(t, st.DTLS.RTCPHandshakes, "%s: the peer runs no RTCP association", sd.name)
				default:
					require.Equal(t, uint64(1), st.DTLS.Handshakes, sd.name)
					require.Zero(t, st.DTLS.RTCPHandshakes, sd.name)
				}
			}
			if tt.caller == tt.callee {
				// SRTCP both ways, on the RTCP ports without rtcp-mux.
				for !rttBoth(out.Media(), in.Media()) {
					select {
					case <-ctx.Done():
						t.Fatalf("no RTT from SRTCP: caller %+v, callee %+v", out.Media().Stats().RTCP, in.Media().Stats().RTCP)
					case <-time.After(10 * time.Millisecond):
					}
				}
				for _, sd := range sides {
					require.Positive(t, sd.s.Stats().SRTP.RTCP.Unprotected, sd.name)
				}
				t.Logf("RTT from SRTCP: caller %v, callee %v", out.Media().Stats().RTCP.RTT, in.Media().Stats().RTCP.RTT)
			}
			require.NoError(t, out.Hangup(ctx))
		})
	}
}

// rttBoth reports whether both sessions have measured a round-trip time.
func rttBoth(a, b *rtp.Session) bool { return a.Stats().RTCP.RTT > 0 && b.Stats().RTCP.RTT > 0 }
