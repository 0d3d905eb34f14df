//go:build interop

package interop

import (
	"context"
	"errors"
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
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}},
		Transport: ua.TransportConfig{Tracer: w},
		Media:     ua.MediaConfig{DisableMedia: true},
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

// TestReliableRingToSIPp: SIPp calls our UA requiring 100rel
// (testdata/uac_100rel.xml); our UA rings twice reliably (RSeq 1, then 2
// once SIPp has PRACKed the first) and answers once the second is
// PRACKed; SIPp hangs up.
func TestReliableRingToSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	calls := make(chan *ua.Call, 1)
	// ring sends a reliable 180 once the previous one is PRACKed.
	ring := func(ic *ua.IncomingCall) error {
		deadline := time.Now().Add(peerWait)
		for {
			err := ic.Ring()
			if !errors.Is(err, ua.ErrProvisionalPending) || time.Now().After(deadline) {
				return err
			}
			time.Sleep(20 * time.Millisecond) // a real peer: poll
		}
	}
	w := &wireLog{}
	u, err := ua.New(ua.Config{
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}},
		Transport: ua.TransportConfig{Tracer: w},
		Media:     ua.MediaConfig{DisableMedia: true},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			for range 2 { // RSeq 1, then 2 once 1 is PRACKed
				if ring(ic) != nil {
					return
				}
			}
			// Answered once the second 180 is PRACKed too.
			deadline := time.Now().Add(peerWait)
			for ic.ProvisionalPending() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if c, err := ic.Answer(testSDP(9)); err == nil {
				calls <- c
			}
		},
	})
	require.NoError(t, err)
	defer func() {
		require.NoError(t, u.Close())
		if t.Failed() {
			t.Logf("--- last messages of our UA:\n%s", w.dump(12))
		}
	}()
	sippAgainst(t, ctx, "reliable", scenario(t, "uac_100rel.xml"), u.Addrs()[0].String())
	select {
	case c := <-calls:
		<-c.Done()
		require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	case <-time.After(peerWait):
		t.Fatal("no call answered")
	}
	require.Len(t, w.received("PRACK "), 2)
}
