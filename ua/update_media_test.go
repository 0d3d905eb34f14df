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
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestUpdateSwitchesCodecEarly(t *testing.T) {
	ctx := mediaCtx(t)
	loopback := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	progressed := make(chan *ua.IncomingCall, 1)
	answerNow := make(chan struct{})
	answered := make(chan *ua.Call, 1)
	errs := make(chan error, 4)
	calleeUpdated := make(chan ua.Event, 4)
	bw, aw := newWire(), newWire()
	b, err := ua.New(ua.Config{
		Listen:      []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver:    transport.StaticResolver{},
		Media:       loopback,
		Reliable:    ua.ReliableRequired,
		AllowUpdate: true,
		OnCall: func(cctx context.Context, ic *ua.IncomingCall) {
			if err := ic.Progress(nil); err != nil {
				errs <- err
				return
			}
			progressed <- ic
			select {
			case <-answerNow:
			case <-cctx.Done():
				return
			}
			c, err := ic.Answer(nil)
			if err != nil {
				errs <- err
				return
			}
			answered <- c
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				calleeUpdated <- e
			}
		},
		Transport: ua.TransportConfig{Tracer: bw},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	updated := make(chan ua.Event, 4)
	a, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				updated <- e
			}
		},
		Transport: ua.TransportConfig{Tracer: aw},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

	earlyCh := make(chan *ua.Call, 1)
	dialed := make(chan *ua.Call, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{
			PrackOffer: func(early *ua.Call, _ *sip.Response) *ua.MediaChange {
				earlyCh <- early
				return nil // no offer in the PRACK: the UPDATE makes it
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

	close(answerNow)
	var in *ua.Call
	select {
	case in = <-answered:
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("not answered")
	}
	out := recvReal(t, dialed, "Dial's return")
	require.Same(t, early, out)

	ups := bw.requests(sip.UPDATE)
	require.Len(t, ups, 1)
	offer := string(ups[0].Body())
	require.Contains(t, offer, "PCMA/8000", "the UPDATE carries the new offer")
	require.NotContains(t, offer, "PCMU", "the new offer names PCMA only")
	var up200 *sip.Response
	for _, r := range aw.responses(sip.UPDATE) {
		if r.StatusCode == sip.StatusOK {
			up200 = r
		}
	}
	require.NotNil(t, up200)
	require.Equal(t, "application/sdp", up200.ContentType(), "the UPDATE's 200 carries the answer")
	require.Contains(t, string(up200.Body()), "PCMA/8000")
	require.Equal(t, string(up200.Body()), string(e.SDP))
	require.Equal(t, offer, string(out.LocalSDP()))
	require.Equal(t, string(up200.Body()), string(out.RemoteSDP()), "the 200 to the INVITE repeats the UPDATE's answer")
	require.Equal(t, offer, string(in.RemoteSDP()))
	require.Equal(t, string(up200.Body()), string(in.LocalSDP()), "the callee's SDP is its UPDATE answer")

	for _, c := range []*ua.Call{in, out} {
		p, ok := c.MediaParams()
		require.True(t, ok)
		require.Equal(t, "PCMA", p.Codec.Name, "%s call", c.Direction())
	}
	got = playAndRecord(ctx, t, in.Media(), out.Media(), 1200, 30)
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
	b, err := ua.New(ua.Config{
		Listen:      []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver:    transport.StaticResolver{},
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
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	callerUpdated := make(chan ua.Event, 4)
	a, err := ua.New(ua.Config{
		Listen:      []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver:    transport.StaticResolver{},
		Media:       loopback,
		AllowUpdate: true,
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				callerUpdated <- e
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

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
	for _, c := range []*ua.Call{in, out} {
		p, ok := c.MediaParams()
		require.True(t, ok)
		require.Equal(t, "PCMA", p.Codec.Name, "%s call", c.Direction())
	}
	got = playAndRecord(ctx, t, in.Media(), out.Media(), 1200, 30)
	require.Greater(t, peakLevel(got, 1200), 0.02, "the caller hears the callee")
	got = playAndRecord(ctx, t, out.Media(), in.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller")
	require.NoError(t, out.Hangup(ctx))
}
