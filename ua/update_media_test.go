package ua_test

// RFC 3311 between two of our UAs with real RTP sessions on loopback: the
// callee's reliable 183 answers the INVITE's offer (PCMU first), the
// caller changes codec by UPDATE in the early dialog once the PRACK has
// its 200 (Call.Update, PCMA only), the callee answers in the UPDATE's
// 200 from its early session, and both sessions switch to PCMA while the
// call rings; the 200 to the INVITE repeats the UPDATE's answer and the
// call goes on with it.

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

func TestUpdateSwitchesCodecEarly(t *testing.T) {
	ctx := mediaCtx(t)
	calleeUpdated := make(chan ua.Event, 4)
	bw, aw := newWire(), newWire()
	b := newEarlyCallee(t, ua.Config{
		Reliable:    ua.ReliableRequired,
		AllowUpdate: true,
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				calleeUpdated <- e
			}
		},
		Transport: ua.TransportConfig{Tracer: bw},
	})
	updated := make(chan ua.Event, 4)
	a := newLoopbackUA(t, ua.Config{
		Media: ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				updated <- e
			}
		},
		Transport: ua.TransportConfig{Tracer: aw},
	})

	earlyCh := make(chan *ua.Call, 1)
	ic, dialed := b.dial(ctx, t, a, ua.DialOptions{
		PrackOffer: func(early *ua.Call, _ *sip.Response) *ua.MediaChange {
			earlyCh <- early
			return nil // no offer in the PRACK: the UPDATE makes it
		},
	})
	early := recvReal(t, earlyCh, "the early call")
	p, ok := early.MediaParams()
	require.True(t, ok)
	require.Equal(t, "PCMU", p.Codec.Name, "the 183 answers PCMU, our first codec")
	got := playAndRecord(ctx, t, early.Media(), ic.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller in PCMU before the answer")

	// The UPDATE may go once the PRACK has its 200 (RFC 3311 §5.1): until
	// then there is no early dialog to send it in.
	change := ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}}
	var uerr error
	require.Eventually(t, func() bool {
		uerr = early.Update(ctx, change)
		return !errors.Is(uerr, ua.ErrNotEstablished)
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, uerr)
	require.Equal(t, ua.CallRinging, early.State(), "updated while ringing")
	e := recvReal(t, updated, "EventCallUpdated")
	require.NoError(t, e.Err)
	require.Equal(t, sip.StatusOK, e.Response.StatusCode)
	require.Same(t, early, e.Call)
	ce := recvReal(t, calleeUpdated, "the callee's EventCallUpdated")
	require.Contains(t, string(ce.SDP), "PCMA/8000")
	p, ok = early.MediaParams()
	require.True(t, ok)
	require.Equal(t, "PCMA", p.Codec.Name, "the caller follows the UPDATE's answer")
	got = playAndRecord(ctx, t, early.Media(), ic.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller in PCMA before the answer")
	got = playAndRecord(ctx, t, ic.Media(), early.Media(), 1200, 30)
	require.Greater(t, peakLevel(got, 1200), 0.02, "the caller hears the callee in PCMA before the answer")

	in := b.answer(ctx, t)
	out := recvReal(t, dialed, "Dial's return")
	require.Same(t, early, out)
	requireEarlyReoffer(t, e, bw.requests(sip.UPDATE), aw.responses(sip.UPDATE), in, out, "UPDATE")
	requirePCMATones(ctx, t, in, out)
}

// requireEarlyReoffer checks an early dialog's new offer of PCMA only,
// made in the one request reqs holds (PRACK or UPDATE, named method) and
// answered in the 200 among answers: the caller's event e carried that
// answer, and the 200 to the INVITE repeated it, so the caller's call out
// and the callee's call in keep the offer and answer as their SDP.
func requireEarlyReoffer(t *testing.T, e ua.Event, reqs []*sip.Request, answers []*sip.Response, in, out *ua.Call, method string) {
	t.Helper()
	require.Len(t, reqs, 1)
	offer := string(reqs[0].Body())
	require.Contains(t, offer, "PCMA/8000", "the %s carries the new offer", method)
	require.NotContains(t, offer, "PCMU", "the new offer names PCMA only")
	var ok200 *sip.Response
	for _, r := range answers {
		if r.StatusCode == sip.StatusOK {
			ok200 = r
		}
	}
	require.NotNil(t, ok200)
	answer := string(ok200.Body())
	require.Equal(t, "application/sdp", ok200.ContentType(), "the %s's 200 carries the answer", method)
	require.Contains(t, answer, "PCMA/8000")
	require.Equal(t, answer, string(e.SDP))
	require.Equal(t, offer, string(out.LocalSDP()))
	require.Equal(t, answer, string(out.RemoteSDP()), "the 200 to the INVITE repeats the %s's answer", method)
	require.Equal(t, offer, string(in.RemoteSDP()))
	require.Equal(t, answer, string(in.LocalSDP()), "the callee's SDP is its %s answer", method)
}

// requirePCMATones checks that both ends of an answered call use PCMA
// and hear each other's tone, then hangs up.
func requirePCMATones(ctx context.Context, t *testing.T, in, out *ua.Call) {
	t.Helper()
	for _, c := range []*ua.Call{in, out} {
		p, ok := c.MediaParams()
		require.True(t, ok)
		require.Equal(t, "PCMA", p.Codec.Name, "%s call", c.Direction())
	}
	got := playAndRecord(ctx, t, in.Media(), out.Media(), 1200, 30)
	require.Greater(t, peakLevel(got, 1200), 0.02, "the caller hears the callee")
	got = playAndRecord(ctx, t, out.Media(), in.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller")
	require.NoError(t, out.Hangup(ctx))
}

// TestIncomingUpdateSwitchesCodecEarly: the reverse, between two of our
// UAs on loopback: the callee's reliable 183 answers PCMU, and once the
// PRACK came the callee changes codec by UPDATE (IncomingCall.Update,
// PCMA only) in that early dialog; the caller answers it from its early
// session; both switch to PCMA while ringing, tones heard both ways, and
// the 200 to the INVITE keeps it.
func TestIncomingUpdateSwitchesCodecEarly(t *testing.T) {
	ctx := mediaCtx(t)
	loopback := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	progressed := make(chan *ua.IncomingCall, 1)
	errs := make(chan error, 4)
	bw := newWire()
	b := newLoopbackUA(t, ua.Config{
		Media:       loopback,
		Reliable:    ua.ReliableRequired,
		AllowUpdate: true,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			if err := ic.Progress(nil); err != nil {
				errs <- err
				return
			}
			progressed <- ic
		},
		Transport: ua.TransportConfig{Tracer: bw},
	})
	callerUpdated := make(chan ua.Event, 4)
	a := newLoopbackUA(t, ua.Config{
		Media:       loopback,
		AllowUpdate: true,
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				callerUpdated <- e
			}
		},
	})

	earlyCh := make(chan *ua.Call, 1)
	dialed := make(chan *ua.Call, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{
			PrackOffer: func(early *ua.Call, _ *sip.Response) *ua.MediaChange {
				earlyCh <- early
				return nil
			},
		})
		if err != nil {
			errs <- err
		}
		dialed <- c
	}()
	var ic *ua.IncomingCall
	select {
	case ic = <-progressed:
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no 183")
	}
	early := recvReal(t, earlyCh, "the early call")

	// Until the PRACK came, the 183 is outstanding (RFC 3311 §5.1).
	change := ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}}
	var uerr error
	require.Eventually(t, func() bool {
		uerr = ic.Update(ctx, change)
		return !errors.Is(uerr, dialog.ErrRequestPending)
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, uerr)
	e := recvReal(t, callerUpdated, "the caller's EventCallUpdated")
	require.Same(t, early, e.Call)
	require.Contains(t, string(e.SDP), "PCMA/8000")
	require.NotContains(t, string(e.SDP), "PCMU", "the callee's new offer names PCMA only")
	p, ok := early.MediaParams()
	require.True(t, ok)
	require.Equal(t, "PCMA", p.Codec.Name, "the caller answered the UPDATE with PCMA")
	require.Equal(t, ua.CallRinging, early.State())
	got := playAndRecord(ctx, t, ic.Media(), early.Media(), 1200, 30)
	require.Greater(t, peakLevel(got, 1200), 0.02, "the caller hears the callee in PCMA before the answer")
	got = playAndRecord(ctx, t, early.Media(), ic.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller in PCMA before the answer")

	in, err := ic.Answer(nil)
	require.NoError(t, err)
	out := recvReal(t, dialed, "Dial's return")
	require.Same(t, early, out)
	var up200 *sip.Response
	for _, r := range bw.responses(sip.UPDATE) {
		if r.StatusCode == sip.StatusOK {
			up200 = r
		}
	}
	require.NotNil(t, up200, "the caller's 200 to the UPDATE")
	require.Contains(t, string(up200.Body()), "PCMA/8000", "its answer")
	requirePCMATones(ctx, t, in, out)
}
