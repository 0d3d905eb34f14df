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
	frank := newPeerUA(t, k, uaOptions{user: "frank", media: true})
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
	w.waitReceived(t, "ACK ", "baresip ACKs the 302")

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

// TestThreeLinesTwoRegistrars: one of our UAs has three lines, alice and
// bob at Kamailio and dave at examples/proxy, all registered. frank (at
// Kamailio) calls alice and bob, erin (at the proxy) calls dave: each call
// comes in on its own line (IncomingCall.Line). Then the UA calls out
// from each line to a user of that line's registrar: the callee sees the
// line's AOR as the From. Every call carries audio: each side hears the
// other's tone (exchangeTones).
func TestThreeLinesTwoRegistrars(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	p := startOurProxy(t, ctx)
	type incoming struct {
		line string
		c    *ua.Call
	}
	in := make(chan incoming, 4)
	events := make(chan ua.Event, 64)
	w := &wireLog{}
	multi, err := ua.New(ua.Config{
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Transport: ua.TransportConfig{Tracer: w},
		Media:     ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		Lines: []ua.LineConfig{
			{AOR: k.uri("alice"), Password: "alicepw", Registrar: k.uri("")},
			{AOR: k.uri("bob"), Password: "bobpw", Registrar: k.uri("")},
			{AOR: p.uri("dave"), Password: "davepw", Registrar: p.uri("")},
		},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			line := ""
			if ic.Line() != nil {
				line = ic.Line().AOR().User
			}
			c, err := ic.Answer(nil)
			if err == nil {
				in <- incoming{line, c}
			}
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventRegistered {
				events <- e
			}
		},
	})
	require.NoError(t, err)
	defer multi.Close()
	for range 3 {
		select {
		case <-events:
		case <-time.After(peerWait):
			t.Fatal("the three lines did not register")
		}
	}
	k.waitBinding(t, ctx, "alice", true)
	k.waitBinding(t, ctx, "bob", true)
	p.waitBinding(t, ctx, "dave", true)
	frank := newPeerUA(t, k, uaOptions{user: "frank", media: true})
	frank.waitEvent(t, ctx, ua.EventRegistered, "")
	erin := newPeerUA(t, p, uaOptions{user: "erin", media: true})
	erin.waitEvent(t, ctx, ua.EventRegistered, "")

	t.Run("calls in", func(t *testing.T) {
		for _, tc := range []struct {
			caller *peerUA
			target string
			line   string
		}{{frank, k.uri("alice"), "alice"}, {frank, k.uri("bob"), "bob"}, {erin, p.uri("dave"), "dave"}} {
			c, err := tc.caller.ua.Dial(ctx, tc.target, ua.DialOptions{})
			require.NoError(t, err, "call to %s", tc.target)
			var got incoming
			select {
			case got = <-in:
			case <-time.After(peerWait):
				t.Fatalf("no call at %s", tc.line)
			}
			require.Equal(t, tc.line, got.line, "the call came in on its line")
			require.Equal(t, c.CallID(), got.c.CallID())
			checkCallTones(t, ctx, tc.line, c, got.c)
			require.NoError(t, c.Hangup(ctx))
			require.ErrorIs(t, waitDone(t, ctx, got.c, tc.line), ua.ErrRemoteHangup)
		}
	})
	t.Run("calls out", func(t *testing.T) {
		for i, tc := range []struct {
			callee *peerUA
			target string
		}{{frank, k.uri("frank")}, {frank, k.uri("frank")}, {erin, p.uri("erin")}} {
			line := multi.Lines()[i]
			c, err := multi.Dial(ctx, tc.target, ua.DialOptions{Line: line})
			require.NoError(t, err, "call from line %d", i)
			got := tc.callee.nextCall(t, ctx)
			require.Equal(t, c.CallID(), got.CallID())
			checkCallTones(t, ctx, line.AOR().User, c, got)
			require.Equal(t, line.AOR().User, got.Remote().URI.User, "the From is the line's AOR")
			require.Equal(t, line.AOR().Port, got.Remote().URI.Port, "the From names the line's registrar")
			require.NoError(t, c.Hangup(ctx))
			require.ErrorIs(t, waitDone(t, ctx, got, tc.callee.name), ua.ErrRemoteHangup)
		}
	})
}

// checkCallTones has the two sides of a call exchange tones and checks that
// each hears the other's (what of the call names it in the log).
func checkCallTones(t *testing.T, ctx context.Context, what string, caller, callee *ua.Call) {
	t.Helper()
	require.NotNil(t, caller.Media(), "%s: the caller's session", what)
	require.NotNil(t, callee.Media(), "%s: the callee's session", what)
	callerHeard, calleeHeard := exchangeTones(t, ctx, caller.Media(), callee.Media())
	t.Logf("%s: the caller heard %d Hz at %.4f, the callee %d Hz at %.4f", what, mediaPeerTone, callerHeard, mediaOurTone, calleeHeard)
	require.Greater(t, callerHeard, mediaMinLevel, "%s: the callee's tone at the caller", what)
	require.Greater(t, calleeHeard, mediaMinLevel, "%s: the caller's tone at the callee", what)
}
