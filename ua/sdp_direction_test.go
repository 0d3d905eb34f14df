package ua_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

// Without OnReinvite and without media, the answer to a re-INVITE mirrors
// the offer's direction (RFC 3264 §6.1), and the callee knows whether it
// is held.
func TestDefaultAnswerMirrorsDirection(t *testing.T) {
	tests := []struct {
		offer, answer ua.MediaDirection
		held          bool
	}{
		{ua.MediaSendOnly, ua.MediaRecvOnly, true},
		{ua.MediaRecvOnly, ua.MediaSendOnly, false},
		{ua.MediaInactive, ua.MediaInactive, true},
		{ua.MediaSendRecv, ua.MediaSendRecv, false},
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
