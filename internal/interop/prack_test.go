//go:build interop

package interop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestPrackWithSIPp: our UA calls SIPp (testdata/uas_100rel.xml), which
// sends two reliable provisionals (180, then 183 with SDP); each gets its
// PRACK with the right RAck before SIPp goes on, then the call is answered
// and SIPp hangs up.
func TestPrackWithSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "prack", "-sf", scenario(t, "uas_100rel.xml"))
	w := &wireLog{}
	u, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}},
		Tracer: w,
		Media:  ua.MediaConfig{DisableMedia: true},
	})
	require.NoError(t, err)
	defer func() {
		require.NoError(t, u.Close())
		if t.Failed() {
			t.Logf("--- last messages of our UA:\n%s", w.dump(12))
		}
	}()
	c, err := u.Dial(ctx, target, ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err)
	wait()
	select {
	case <-c.Done():
	case <-time.After(peerWait):
		t.Fatalf("call not ended within %s", peerWait)
	}
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	pracks := w.sent("PRACK ")
	require.Len(t, pracks, 2)
	require.Equal(t, "1 1 INVITE", headerValue(pracks[0], "RAck"))
	require.Equal(t, "2 1 INVITE", headerValue(pracks[1], "RAck"))
}
