package ua_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

func TestSDPDirection(t *testing.T) {
	tests := []struct {
		name, sdp, want string
	}{
		{"none: sendrecv", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", "sendrecv"},
		{"session level", "v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n", "sendonly"},
		{"media level wins", "v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n", "inactive"},
		{"first media section", "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\nm=audio 4002 RTP/AVP 0\r\na=sendonly\r\n", "recvonly"},
		{"LF line ends", "v=0\nm=audio 4000 RTP/AVP 0\na=recvonly\n", "recvonly"},
		{"not an attribute", "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonlyx\r\n", "sendrecv"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ua.SDPDirection([]byte(tt.sdp)), tt.name)
	}
}

func TestSetSDPDirection(t *testing.T) {
	tests := []struct {
		name, sdp, dir, want string
	}{
		{"replaces and bumps the version", "v=0\r\no=- 1 7 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n", "sendonly",
			"v=0\r\no=- 1 8 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"},
		{"every media section", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=recvonly\r\n", "inactive",
			"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\n"},
		{"session without media", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\na=sendrecv\r\n", "sendonly",
			"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\na=sendonly\r\n"},
		{"version not a number: kept", "v=0\r\no=- 1 x IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", "sendonly",
			"v=0\r\no=- 1 x IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"},
		{"short o= line: kept", "v=0\r\no=- 1\r\nm=audio 4000 RTP/AVP 0\r\n", "recvonly",
			"v=0\r\no=- 1\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"},
	}
	for _, tt := range tests {
		got := ua.SetSDPDirection([]byte(tt.sdp), tt.dir)
		require.Equal(t, tt.want, string(got), tt.name)
		require.Equal(t, tt.dir, ua.SDPDirection(got), tt.name)
	}
	require.Nil(t, ua.SetSDPDirection(nil, "sendonly"))
}

// Without OnReinvite and without media, the answer to a re-INVITE mirrors
// the offer's direction (RFC 3264 §6.1), and the callee knows whether it
// is held.
func TestDefaultAnswerMirrorsDirection(t *testing.T) {
	tests := []struct {
		offer, answer string
		held          bool
	}{
		{"sendonly", "recvonly", true},
		{"recvonly", "sendonly", false},
		{"inactive", "inactive", true},
		{"sendrecv", "sendrecv", false},
	}
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, _, out, in, _, _ := established(t, n, ua.Config{}, ua.Config{})
		for _, tt := range tests {
			offer := ua.SetSDPDirection(out.LocalSDP(), tt.offer)
			require.NoError(t, out.Reinvite(t.Context(), offer), tt.offer)
			require.Equal(t, string(offer), string(out.LocalSDP()))
			require.Equal(t, tt.answer, ua.SDPDirection(out.RemoteSDP()), "answer to %s", tt.offer)
			synctest.Wait()
			require.Equal(t, tt.held, in.RemoteHold(), tt.offer)
			require.Equal(t, tt.answer, ua.SDPDirection(in.LocalSDP()))
		}
		require.NoError(t, out.Hangup(t.Context()))
	})
}
