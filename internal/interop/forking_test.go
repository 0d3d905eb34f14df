//go:build interop

package interop

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestKamailioForkBothAnswer: erin is registered at Kamailio from two of
// our UAs, so Kamailio forks frank's INVITE to both in parallel. Both
// answer at once, so two 2xx reach frank (Kamailio forwards every 2xx):
// frank's UA ACKs both, keeps the first as its one call and ends the
// other with a BYE (RFC 3261 §13.2.2.4). The kept call goes on; the other
// phone sees the BYE.
func TestKamailioForkBothAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	both := make(chan struct{})
	arrived := make(chan struct{}, 2)
	answerTogether := func(p **peerUA) func(context.Context, *ua.IncomingCall) {
		return func(_ context.Context, ic *ua.IncomingCall) {
			arrived <- struct{}{}
			select {
			case <-both:
			case <-ctx.Done():
				return
			}
			c, err := ic.Answer(testSDP(9))
			if err != nil {
				t.Logf("%s: not answered: %v", (*p).name, err)
				return
			}
			(*p).calls <- c
		}
	}
	var desk, mobile *peerUA
	desk = newPeerUA(t, k, uaOptions{user: "erin", onCall: answerTogether(&desk)})
	desk.waitEvent(t, ctx, ua.EventRegistered, "")
	mobile = newPeerUA(t, k, uaOptions{user: "erin", onCall: answerTogether(&mobile)})
	mobile.waitEvent(t, ctx, ua.EventRegistered, "")
	deadline := time.Now().Add(peerWait)
	for out := k.waitBinding(t, ctx, "erin", true); strings.Count(out, "Contact: ") != 2; out = k.waitBinding(t, ctx, "erin", true) {
		require.False(t, time.Now().After(deadline), "erin's bindings:\n%s", out)
		sleepCtx(ctx, peerPoll)
	}
	frank := newPeerUA(t, k, uaOptions{user: "frank"})
	frank.waitEvent(t, ctx, ua.EventRegistered, "")
	go func() {
		for range 2 {
			select {
			case <-arrived:
			case <-ctx.Done():
				return
			}
		}
		close(both) // both phones ring: both answer now
	}()

	c, err := frank.ua.Dial(ctx, k.uri("erin"), ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err)
	atDesk, atMobile := desk.nextCall(t, ctx), mobile.nextCall(t, ctx)
	require.Equal(t, c.CallID(), atDesk.CallID())
	require.Equal(t, c.CallID(), atMobile.CallID())

	// One of them is frank's call; the other gets the BYE.
	kept, dropped := atDesk, atMobile
	if atMobile.DialogID().LocalTag == c.DialogID().RemoteTag {
		kept, dropped = atMobile, atDesk
	}
	require.Equal(t, kept.DialogID().LocalTag, c.DialogID().RemoteTag, "frank's call is one of the two")
	require.ErrorIs(t, waitDone(t, ctx, dropped, "the surplus phone"), ua.ErrRemoteHangup)
	acks := frank.wire.sent("ACK ")
	require.GreaterOrEqual(t, len(acks), 2, "frank ACKs both 2xx")
	require.Len(t, frank.wire.sent("BYE "), 1, "frank ends the surplus dialog only")
	require.Equal(t, 1, frank.ua.Calls(), "frank's host sees one call")
	select {
	case <-kept.Done():
		t.Fatalf("the kept call ended: %v", kept.Err())
	case <-time.After(300 * time.Millisecond):
	}
	require.Equal(t, ua.CallEstablished, c.State())
	require.NoError(t, c.Hangup(ctx))
	require.True(t, errors.Is(waitDone(t, ctx, kept, "the kept phone"), ua.ErrRemoteHangup))
}

// TestRedirectToBaresip: baresip calls our UA desk, whose host answers
// IncomingCall.Redirect with the address of our UA mobile; baresip follows
// the 302 and mobile answers it (same Call-ID, from baresip). mobile hears
// baresip's tone, so the redirected call carries audio.
func TestRedirectToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startMediaBaresip(t, ctx, "redir", mediaPeerTone)
	calls := make(chan *ua.Call, 1)
	mobile, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnCall:   answerInto(t, calls),
	})
	require.NoError(t, err)
	defer mobile.Close()
	moved, err := sip.ParseURI("sip:erin@" + mobile.Addrs()[0].String())
	require.NoError(t, err)
	redirected := make(chan string, 1)
	desk, w := tracedUA(t, ua.Config{
		Media: ua.MediaConfig{DisableMedia: true},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			if ic.Redirect(moved) == nil {
				redirected <- ic.CallID()
			}
		},
	})
	in := b.dialUs(t, ctx, "sip:erin@"+desk.Addrs()[0].String(), calls)
	var callID string
	select {
	case callID = <-redirected:
	case <-time.After(peerWait):
		t.Fatal("desk's host did not redirect")
	}
	require.Equal(t, callID, in.CallID(), "baresip followed the 302 in the same call")
	require.Contains(t, in.Remote().URI.User, "redir")
	res := w.sent("SIP/2.0 302")
	require.Len(t, res, 1)
	require.Contains(t, headerValue(res[0], "Contact"), moved.String())
	require.NotEmpty(t, w.received("ACK "), "baresip ACKs the 302")

	var heard []int16
	for range 50 {
		heard, err = in.Media().ReadFrame(ctx, heard)
		require.NoError(t, err)
	}
	level := peak(heard, mediaPeerTone)
	t.Logf("mobile hears baresip's %d Hz at %.4f", mediaPeerTone, level)
	require.Greater(t, level, mediaMinLevel)
	require.NoError(t, in.Hangup(ctx))
}
