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
// off, both sessions keyed by one handshake and the tones crossing both
// ways; a plain offer to a DTLS line and a DTLS offer to a line with SRTP
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
					require.Equal(t, uint64(1), st.DTLS.Handshakes)
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
		require.Equal(t, uint64(1), st.DTLS.Handshakes, "no new handshake on a re-INVITE")
		require.Zero(t, st.DTLS.Failures)
		require.Zero(t, st.SRTP.RTP.AuthFailed+st.SRTP.RTP.Replayed+st.SRTP.RTP.Malformed, "SRTP refusals after re-INVITEs")
	}
	require.NoError(t, out.Hangup(ctx))
}
