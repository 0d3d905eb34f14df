//go:build interop

package interop

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	w := callSIPpUntilHangup(t, ctx, "prack", "uas_100rel.xml")
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
	u, w := tracedUA(t, ua.Config{
		Media: ua.MediaConfig{DisableMedia: true},
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

// TestDelayedOfferPrackFromSIPp: SIPp calls our UA requiring 100rel
// with no SDP (testdata/uac_delayed_offer_100rel.xml). Our host calls
// Progress(nil) and at once Answer(nil): the reliable 183 carries the
// offer of the call's RTP session, SIPp's PRACK the answer, and the 200
// waits for that PRACK (SIPp checks it takes the PRACK's 200 first); the
// call's session is set to SIPp's media address from the PRACK.
func TestDelayedOfferPrackFromSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	calls := make(chan *ua.Call, 1)
	u, w := tracedUA(t, ua.Config{
		Media: ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			if ic.Progress(nil) != nil {
				return
			}
			if c, err := ic.Answer(nil); err == nil {
				calls <- c
			}
		},
	})
	sippAgainst(t, ctx, "delayed-offer", scenario(t, "uac_delayed_offer_100rel.xml"), u.Addrs()[0].String())
	var c *ua.Call
	select {
	case c = <-calls:
	case <-time.After(peerWait):
		t.Fatal("no call answered")
	}
	<-c.Done()
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	pracks := w.received("PRACK ")
	require.Len(t, pracks, 1)
	require.Contains(t, string(c.RemoteSDP()), "m=audio ", "the PRACK's answer is the call's remote SDP")
	require.Contains(t, pracks[0], string(c.RemoteSDP()))
	acks := w.received("ACK ")
	require.NotEmpty(t, acks)
	require.Equal(t, "0", headerValue(acks[0], "Content-Length"))
}

// callSIPpUntilHangup calls a SIPp UAS running scenario file from a traced
// UA without media, and waits until SIPp has hung the call up. It returns
// what our UA sent and received.
func callSIPpUntilHangup(t *testing.T, ctx context.Context, name, file string) *wireLog {
	t.Helper()
	target, wait := sippServing(t, ctx, name, "-sf", scenario(t, file))
	u, w := tracedUA(t, ua.Config{Media: ua.MediaConfig{DisableMedia: true}})
	c, err := u.Dial(ctx, target, ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err)
	wait()
	select {
	case <-c.Done():
	case <-time.After(peerWait):
		t.Fatalf("call not ended within %s", peerWait)
	}
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	return w
}
