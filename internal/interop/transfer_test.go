//go:build interop

package interop

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// transferUA is one of our UAs with media, on a loopback port, whose answered
// calls go to a channel; its wire log is printed when the test fails.
func transferUA(t *testing.T, name string, cfg ua.Config) (*ua.UA, chan *ua.Call, *wireLog) {
	t.Helper()
	calls := make(chan *ua.Call, 4)
	w := &wireLog{}
	cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}}
	cfg.Resolver = transport.StaticResolver{}
	cfg.Media = ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	cfg.Transport.Tracer = w
	cfg.UserAgent = "dialtone-interop-" + name
	if cfg.OnCall == nil {
		cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
			if c, err := ic.Answer(nil); err == nil {
				calls <- c
			}
		}
	}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, u.Close())
		if t.Failed() {
			t.Logf("--- last messages of UA %s:\n%s", name, w.dump(14))
		}
	})
	return u, calls, w
}

// hear reads a second of a call's audio and returns the Goertzel peak of
// hz in it.
func hear(t *testing.T, ctx context.Context, c *ua.Call, hz float64) float64 {
	t.Helper()
	s := c.Media()
	require.NotNil(t, s, "the call has media")
	var heard []int16
	var err error
	for range 50 {
		heard, err = s.ReadFrame(ctx, heard)
		require.NoError(t, err)
	}
	return peak(heard, hz)
}

func nextCall(t *testing.T, ch chan *ua.Call, who string) *ua.Call {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(peerWait):
		t.Fatalf("%s answered no call within %s", who, peerWait)
	}
	return nil
}

// TestTransferBaresipAsTransferee: our UA X calls baresip and transfers it
// (blind, REFER) to our UA B; baresip follows the REFER, calls B with
// Referred-By, and reports 200 in its sipfrag NOTIFY, so Transfer returns
// nil: our UA as transferor and as transfer target. B hears baresip's
// 440 Hz tone on the new call. (baresip 1.0 does not copy Referred-By
// into its INVITE; the REFER carries it.)
func TestTransferBaresipAsTransferee(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	bs := startMediaBaresip(t, ctx, "carol", mediaPeerTone)
	x, _, wx := transferUA(t, "x", ua.Config{})
	b, atB, wb := transferUA(t, "b", ua.Config{})

	xc, err := x.Dial(ctx, bs.uri(), ua.DialOptions{})
	require.NoError(t, err, "X calls baresip")
	target := "sip:bob@" + b.Addrs()[0].String()
	tctx, tcancel := context.WithTimeout(ctx, peerWait)
	defer tcancel()
	require.NoError(t, xc.Transfer(tctx, target), "baresip reports the transfer's success")
	bc := nextCall(t, atB, "B")
	invites := wb.received("INVITE ")
	require.NotEmpty(t, invites)
	require.Contains(t, headerValue(invites[0], "From"), "sip:carol@", "the transferee calls B")
	t.Logf("Referred-By in baresip's INVITE: %q (baresip 1.0 does not pass it on)", headerValue(invites[0], "Referred-By"))
	refers := wx.sent("REFER ")
	require.Len(t, refers, 1)
	require.Equal(t, "<"+target+">", headerValue(refers[0], "Refer-To"))
	require.Equal(t, headerValue(refers[0], "From")[:strings.Index(headerValue(refers[0], "From"), ";tag=")], headerValue(refers[0], "Referred-By"), "Referred-By is us")
	frags := 0
	for _, n := range wx.received("NOTIFY ") {
		if strings.Contains(n, "message/sipfrag") {
			frags++
		}
	}
	require.Positive(t, frags, "sipfrag NOTIFYs from baresip")

	level := hear(t, ctx, bc, mediaPeerTone)
	t.Logf("B hears baresip's %d Hz at %.4f", mediaPeerTone, level)
	require.Greater(t, level, mediaMinLevel, "baresip's tone on the transferred call")
	_ = xc.Hangup(ctx)
	require.NoError(t, bc.Hangup(ctx))
}

// TestTransferByBaresip: our UA A calls baresip, which is told to
// transfer the call (its /transfer command: a blind REFER) to our UA B.
// A's OnRefer accepts: A calls B with baresip's Referred-By and reports
// the outcome to baresip in sipfrag NOTIFYs (100, then 200 with the
// subscription terminated); our UA as transferee. B hears the 1000 Hz
// tone A plays on the new call.
func TestTransferByBaresip(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	bs := startMediaBaresip(t, ctx, "carol", mediaPeerTone)
	refers := make(chan *ua.IncomingRefer, 1)
	placed := make(chan *ua.Call, 1)
	a, _, wa := transferUA(t, "a", ua.Config{OnRefer: func(ctx context.Context, r *ua.IncomingRefer) {
		refers <- r
		dctx, dcancel := context.WithTimeout(ctx, peerWait)
		defer dcancel()
		if c, err := r.Accept(dctx, ua.DialOptions{}); err == nil {
			placed <- c
		}
	}})
	b, atB, wb := transferUA(t, "b", ua.Config{})

	ac, err := a.Dial(ctx, bs.uri(), ua.DialOptions{})
	require.NoError(t, err, "A calls baresip")
	target := "sip:bob@" + b.Addrs()[0].String()
	_, err = bs.ctl(ctx, "transfer", target)
	require.NoError(t, err, "baresip transfer")
	var r *ua.IncomingRefer
	select {
	case r = <-refers:
	case <-time.After(peerWait):
		t.Fatalf("no REFER from baresip within %s", peerWait)
	}
	require.Equal(t, target, r.Target().String())
	require.Same(t, ac, r.Call())
	bc := nextCall(t, atB, "B")
	var nc *ua.Call
	select {
	case nc = <-placed:
	case <-time.After(peerWait):
		t.Fatalf("A placed no call within %s", peerWait)
	}
	require.Equal(t, bc.CallID(), nc.CallID())
	// Referred-By is passed on when baresip's REFER has one.
	require.Equal(t, r.ReferredBy(), headerValue(wb.received("INVITE ")[0], "Referred-By"))
	// The outcome reached baresip: the last NOTIFY, 200 in a sipfrag,
	// ends the subscription, and baresip answered it.
	deadline := time.Now().Add(peerWait)
	for {
		notifies := wa.sent("NOTIFY ")
		if len(notifies) >= 2 {
			last := notifies[len(notifies)-1]
			require.Contains(t, last, "SIP/2.0 200 OK")
			require.True(t, strings.HasPrefix(headerValue(last, "Subscription-State"), "terminated"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A sent %d NOTIFYs within %s", len(notifies), peerWait)
		}
		sleepCtx(ctx, peerPoll)
	}

	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: mediaOurTone})
	require.NoError(t, err)
	playErr := make(chan error, 1)
	go func() { playErr <- nc.Media().Play(ctx, &limited{src: g, n: 100}) }()
	level := hear(t, ctx, bc, mediaOurTone)
	require.NoError(t, <-playErr)
	t.Logf("B hears A's %d Hz at %.4f", mediaOurTone, level)
	require.Greater(t, level, mediaMinLevel, "A's tone on the transferred call")
	require.NoError(t, nc.Hangup(ctx))
	_ = ac.Hangup(ctx)
}

// TestReplacesFromSIPp: our UA T, in a call with our UA X, is the target
// of an attended transfer: SIPp sends the transferee's INVITE with
// Replaces naming that call (testdata/uac_replaces.xml). T's host sees the
// call it replaces, answers, and T ends its call with X by a BYE.
func TestReplacesFromSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	x, _, _ := transferUA(t, "x", ua.Config{})
	tu, atT, wt := transferUA(t, "t", ua.Config{})
	xt, err := x.Dial(ctx, "sip:t@"+tu.Addrs()[0].String(), ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err)
	tx := nextCall(t, atT, "T")
	id := tx.DialogID() // T's view: local tag T's, remote tag X's
	replaces := id.CallID + ";to-tag=" + id.LocalTag + ";from-tag=" + id.RemoteTag
	port := freePort(t)
	r := newSipp(t, "replaces", port, "-sf", scenario(t, "uac_replaces.xml"))
	defer func() { logTails(t, r.files()...) }()
	err = r.start(t, ctx, "-t", "u1", "-m", "1", "-set", "replaces", replaces, tu.Addrs()[0].String()).Wait()
	checkSipp(t, r, 1, exitErrOrNil(err))
	select {
	case <-xt.Done():
	case <-time.After(peerWait):
		t.Fatal("X's call was not ended by the target")
	}
	require.ErrorIs(t, xt.Err(), ua.ErrRemoteHangup)
	require.ErrorIs(t, tx.Err(), ua.ErrLocalHangup)
	invites := wt.received("INVITE ")
	require.Equal(t, replaces, headerValue(invites[len(invites)-1], "Replaces"))
	c := nextCall(t, atT, "T (the replacing call)")
	select {
	case <-c.Done():
	case <-time.After(peerWait):
		t.Fatal("SIPp's BYE did not end the new call")
	}
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
}
