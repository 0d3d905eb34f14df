package ua_test

// RFC 3262 §5 as the caller, between two of our UAs with real RTP
// sessions on loopback: the callee's reliable 183 answers the INVITE's
// offer (PCMU first), the caller's PRACK makes a new offer of PCMA only
// (DialOptions.PrackOffer), the callee answers it in the PRACK's 200, and
// both sessions switch to PCMA before the answer; the 200 to the INVITE
// repeats the PRACK's answer and the call goes on with it.

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestPrackOfferSwitchesCodec(t *testing.T) {
	ctx := mediaCtx(t)
	loopback := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	progressed := make(chan *ua.IncomingCall, 1)
	answerNow := make(chan struct{})
	answered := make(chan *ua.Call, 1)
	errs := make(chan error, 4)
	bw, aw := newWire(), newWire()
	b, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		Reliable: ua.ReliableRequired,
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

	asked := make(chan *sip.Response, 2)
	dialed := make(chan *ua.Call, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{
			PrackOffer: func(_ *ua.Call, res *sip.Response) *ua.MediaChange {
				asked <- res
				return &ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}}
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
	res := recvReal(t, asked, "PrackOffer asked")
	require.Equal(t, sip.StatusSessionProgress, res.StatusCode)
	require.Contains(t, string(res.Body()), "PCMU/8000", "the 183 answers PCMU, our first codec")
	e := recvReal(t, updated, "EventCallUpdated")
	require.NoError(t, e.Err)
	require.Equal(t, sip.StatusOK, e.Response.StatusCode)
	require.Equal(t, ua.CallRinging, e.Call.State(), "the exchange is over before the answer")
	// The new codec is in use on both sides while the call rings.
	p, ok := e.Call.MediaParams()
	require.True(t, ok)
	require.Equal(t, "PCMA", p.Codec.Name, "the caller follows the PRACK's answer")
	got := playAndRecord(ctx, t, e.Call.Media(), ic.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller in PCMA before the answer")

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
	require.NotNil(t, out)
	require.Same(t, e.Call, out)

	pracks := bw.requests(sip.PRACK)
	require.Len(t, pracks, 1)
	offer := string(pracks[0].Body())
	require.Contains(t, offer, "PCMA/8000", "the PRACK carries the new offer")
	require.NotContains(t, offer, "PCMU", "the new offer names PCMA only")
	var prack200 *sip.Response
	for _, r := range aw.responses(sip.PRACK) {
		if r.StatusCode == sip.StatusOK {
			prack200 = r
		}
	}
	require.NotNil(t, prack200)
	require.Equal(t, "application/sdp", prack200.ContentType(), "the PRACK's 200 carries the answer")
	require.Contains(t, string(prack200.Body()), "PCMA/8000")
	require.Equal(t, string(prack200.Body()), string(e.SDP))
	require.Equal(t, offer, string(out.LocalSDP()))
	require.Equal(t, string(prack200.Body()), string(out.RemoteSDP()), "the 200 to the INVITE repeats the PRACK's answer")
	require.Equal(t, offer, string(in.RemoteSDP()))
	require.Equal(t, string(prack200.Body()), string(in.LocalSDP()), "the callee's SDP is its PRACK answer")

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
