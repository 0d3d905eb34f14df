package ua_test

// RFC 3262 §5 as the caller, between two of our UAs with real RTP
// sessions on loopback: the callee's reliable 183 answers the INVITE's
// offer (PCMU first), the caller's PRACK makes a new offer of PCMA only
// (DialOptions.PrackOffer), the callee answers it in the PRACK's 200, and
// both sessions switch to PCMA before the answer; the 200 to the INVITE
// repeats the PRACK's answer and the call goes on with it.

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

func TestPrackOfferSwitchesCodec(t *testing.T) {
	ctx := mediaCtx(t)
	bw, aw := newWire(), newWire()
	b := newEarlyCallee(t, ua.Config{
		Reliable:  ua.ReliableRequired,
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

	asked := make(chan *sip.Response, 2)
	ic, dialed := b.dial(ctx, t, a, ua.DialOptions{
		PrackOffer: func(_ *ua.Call, res *sip.Response) *ua.MediaChange {
			asked <- res
			return &ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}}
		},
	})
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

	in := b.answer(ctx, t)
	out := recvReal(t, dialed, "Dial's return")
	require.NotNil(t, out)
	require.Same(t, e.Call, out)
	requireEarlyReoffer(t, e, bw.requests(sip.PRACK), aw.responses(sip.PRACK), in, out, "PRACK")
	requirePCMATones(ctx, t, in, out)
}
