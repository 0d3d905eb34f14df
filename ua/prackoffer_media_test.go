package ua_test

// RFC 3262 §5 between two of our UAs with real RTP sessions on loopback:
// the caller dials without SDP, the callee's reliable 183 carries its
// offer, the caller's PRACK the answer; early media flows before the 200,
// which repeats the offer while the ACK carries no SDP, and the same
// sessions go on after it.

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestDelayedOfferAnsweredInPrack(t *testing.T) {
	ctx := mediaCtx(t)
	bw, aw := newWire(), newWire()
	b := newEarlyCallee(t, ua.Config{
		Reliable:  ua.ReliableRequired,
		Transport: ua.TransportConfig{Tracer: bw},
	})
	a := newLoopbackUA(t, ua.Config{
		Media:     ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		Transport: ua.TransportConfig{Tracer: aw},
	})

	ic, dialed := b.dial(ctx, t, a, ua.DialOptions{NoOffer: true})
	require.Empty(t, ic.Offer(), "the INVITE has no offer")
	callee := ic.Media()
	require.NotNil(t, callee, "Progress(nil) opened the callee's session for its offer")
	// The PRACK's answer reaches the callee: early media both ways.
	require.Eventually(t, func() bool { return !ic.ProvisionalPending() }, mediaWait, mediaTick, "the 183 is PRACKed")

	in := b.answer(ctx, t)
	out := recvReal(t, dialed, "Dial's return")
	require.NotNil(t, out)
	require.Same(t, callee, in.Media(), "the callee keeps its early session")
	var offer183 []byte
	for _, r := range aw.responses(sip.INVITE) {
		if r.StatusCode == sip.StatusSessionProgress {
			offer183 = r.Body()
		}
	}
	require.NotEmpty(t, offer183, "the 183 carries the callee's offer")
	pracks := bw.requests(sip.PRACK)
	require.Len(t, pracks, 1)
	require.Equal(t, string(out.LocalSDP()), string(pracks[0].Body()), "the PRACK carries the answer")
	require.Eventually(t, func() bool { return len(bw.requests(sip.ACK)) > 0 }, mediaWait, mediaTick)
	require.Empty(t, bw.requests(sip.ACK)[0].Body(), "the ACK carries no SDP")
	require.Equal(t, string(offer183), string(in.LocalSDP()), "the 200 repeats the offer")
	require.Equal(t, string(offer183), string(out.RemoteSDP()))
	require.Equal(t, string(out.LocalSDP()), string(in.RemoteSDP()), "the callee has the PRACK's answer")

	pIn, ok := in.MediaParams()
	require.True(t, ok)
	require.Equal(t, out.Media().LocalAddr().Port(), pIn.RemoteRTP.Port())
	pOut, ok := out.MediaParams()
	require.True(t, ok)
	require.Equal(t, callee.LocalAddr().Port(), pOut.RemoteRTP.Port())

	got := playAndRecord(ctx, t, out.Media(), in.Media(), 800, 30)
	require.Greater(t, peakLevel(got, 800), 0.02, "the callee hears the caller")
	got = playAndRecord(ctx, t, in.Media(), out.Media(), 1200, 30)
	require.Greater(t, peakLevel(got, 1200), 0.02, "the caller hears the callee")
	require.NoError(t, out.Hangup(ctx))
}

// A new offer in the PRACK of our reliable 183 is answered from the
// call's session in the PRACK's 200 (RFC 3262 §5), and the 200 to the
// INVITE repeats that answer: SIP over memnet, the RTP session on real
// loopback sockets.
func TestPrackNewOfferAnsweredFromSession(t *testing.T) {
	n := memnet.New(memnet.Config{})
	defer n.Close()
	pending := make(chan *ua.IncomingCall, 1)
	b, err := ua.New(ua.Config{
		Transport: ua.TransportConfig{Net: n},
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.2:5060"}},
		Resolver:  transport.StaticResolver{},
		Media:     ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		OnCall:    pendingCalls(pending),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	s := &reliableScene{peer: newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)}
	s.req = rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
	s.req.Set("Require", "100rel")
	s.req.SetBody([]byte(testSDP), "application/sdp")
	s.tx, err = s.peer.tx.Request(t.Context(), s.req, uaTarget)
	require.NoError(t, err)
	s.ic = recvReal(t, pending, "incoming call")
	require.NoError(t, s.ic.Progress(nil))
	p183 := s.provisional(t, sip.StatusSessionProgress)
	first, err := sdp.Parse(p183.Body())
	require.NoError(t, err)
	require.Equal(t, sdp.SendRecv, sdp.DirectionOf(p183.Body()))

	reoffer := strings.Replace(strings.Replace(testSDP, "4000", "5000", 1), "a=sendrecv", "a=sendonly", 1)
	reoffer = strings.Replace(reoffer, "o=- 1 1", "o=- 1 2", 1)
	pres := s.prack(t, p183, reoffer)
	require.Equal(t, 200, pres.StatusCode)
	require.Equal(t, "application/sdp", pres.ContentType())
	ans, err := sdp.Parse(pres.Body())
	require.NoError(t, err)
	require.Equal(t, first.Media[0].Port, ans.Media[0].Port, "the same session answers")
	require.Equal(t, sdp.RecvOnly, sdp.DirectionOf(pres.Body()), "a sendonly offer is answered recvonly")

	c, err := s.ic.Answer(nil)
	require.NoError(t, err)
	final, err := s.tx.Final(t.Context())
	require.NoError(t, err)
	require.Equal(t, 200, final.StatusCode)
	require.Equal(t, string(pres.Body()), string(final.Body()), "the 200 repeats the PRACK's answer")
	ackRaw(t, s.peer, s.req, final)
	require.Equal(t, reoffer, string(c.RemoteSDP()))
	p, ok := c.MediaParams()
	require.True(t, ok)
	require.Equal(t, uint16(5000), p.RemoteRTP.Port(), "the session follows the PRACK's offer")
	require.NoError(t, c.Hangup(t.Context()))
}
