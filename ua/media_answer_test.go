package ua_test

// The media side of offer/answer against a scripted peer on loopback:
// what the caller's session does with the answers it gets (RFC 3264 §4,
// RFC 3261 §13.2.2.4), and re-offers that fail.

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// newLoopbackPeer is a raw peer on a 127.0.0.1 UDP socket of the system.
func newLoopbackPeer(t *testing.T, h transaction.HandlerFunc, stray func(transport.Incoming)) (*rawPeer, string) {
	t.Helper()
	tp, err := transport.New(transport.Config{})
	require.NoError(t, err)
	tx, err := transaction.New(tp, transaction.Config{Handler: transaction.Go(peerTU{h: h, stray: stray})})
	require.NoError(t, err)
	a, err := tp.Listen(context.Background(), transport.UDP, "127.0.0.1:0")
	require.NoError(t, err)
	p := &rawPeer{tp: tp, tx: tx}
	t.Cleanup(p.close)
	return p, a.String()
}

// answerSDP is an SDP answer with PCMU on port.
func answerSDP(port int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=sendrecv\r\n", port)
}

func newLoopbackUA(t *testing.T, cfg ua.Config) *ua.UA {
	t.Helper()
	cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}}
	cfg.Resolver = transport.StaticResolver{}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// The caller's session follows the answers: an answer in a 183 is applied
// at once, a different one in the 200 replaces it; a 200 without the
// answer our offer needs is acknowledged, then the call is ended with BYE
// and Dial fails with ErrNoAnswer.
func TestCallerAppliesAnswers(t *testing.T) {
	tests := []struct {
		name           string
		early, final   []byte // bodies of the 183 (nil: no 183) and the 200
		wantErr        error
		wantRemotePort uint16
	}{
		{"answer in the 200 replaces the 183's", answerSDP(40000), answerSDP(40002), nil, 40002},
		{"same answer in 183 and 200", answerSDP(40004), answerSDP(40004), nil, 40004},
		{"183 without SDP, answer in the 200", []byte{}, answerSDP(40006), nil, 40006},
		{"no answer in the 200", nil, nil, ua.ErrNoAnswer, 0},
		{"answer with a codec we did not offer", nil, []byte("v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40008 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"), sdp.ErrAnswerMismatch, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			var mu sync.Mutex
			var acks, byes int
			_, addr := newLoopbackPeer(t, func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
				if req.Method == sip.BYE {
					mu.Lock()
					byes++
					mu.Unlock()
					_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
					return
				}
				tag := sip.NewTag()
				if tt.early != nil {
					p := sip.NewResponseTag(req, sip.StatusSessionProgress, "", tag)
					p.Set("Contact", "<sip:peer@"+req.URI.HostPort()+">")
					if len(tt.early) > 0 {
						p.SetBody(tt.early, "application/sdp")
					}
					_ = w.Respond(p)
				}
				ok := sip.NewResponseTag(req, sip.StatusOK, "", tag)
				ok.Set("Contact", "<sip:peer@"+req.URI.HostPort()+">")
				if tt.final != nil {
					ok.SetBody(tt.final, "application/sdp")
				}
				_ = w.Respond(ok)
			}, func(in transport.Incoming) {
				if r, ok := in.Msg.(*sip.Request); ok && r.Method == sip.ACK {
					mu.Lock()
					acks++
					mu.Unlock()
				}
			})
			a := newLoopbackUA(t, ua.Config{Media: ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}})
			c, err := a.Dial(ctx, "sip:peer@"+addr, ua.DialOptions{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Eventually(t, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return acks == 1 && byes == 1
				}, mediaWait, mediaTick, "ACK, then BYE (RFC 3261 §13.2.2.4)")
				require.Eventually(t, func() bool { return a.Calls() == 0 }, mediaWait, mediaTick)
				return
			}
			require.NoError(t, err)
			p, ok := c.MediaParams()
			require.True(t, ok)
			require.Equal(t, tt.wantRemotePort, p.RemoteRTP.Port())
			require.Equal(t, "PCMU", p.Codec.Name)
			require.NoError(t, c.Hangup(ctx))
		})
	}
}

// A media call's own re-offer refused by the peer leaves the session and
// the hold state as they were (RFC 3264 §8); a re-INVITE with SDP bytes of
// the host is applied to the session when the answer fits.
func TestMediaReinvites(t *testing.T) {
	ctx := mediaCtx(t)
	refuse := make(chan bool, 4)
	loop := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	a := newMediaPeer(t, ua.MediaConfig{})
	b := newLoopbackUA(t, ua.Config{Media: loop,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil)
			if err == nil {
				a.calls <- c // the test's side channel for the callee
			}
		},
		OnReinvite: func(_ context.Context, c *ua.Call, offer []byte) ([]byte, error) {
			select {
			case r := <-refuse:
				if r {
					return nil, &ua.AnswerError{Code: sip.StatusNotAcceptableHere}
				}
				return answerFrom(c, offer)
			case <-time.After(mediaWait):
				return nil, &ua.AnswerError{Code: sip.StatusServerInternalError, Reason: "unexpected re-INVITE"}
			}
		},
	})
	out, err := a.u.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{})
	require.NoError(t, err)
	in := recvReal(t, a.calls, "callee's call")
	before, ok := out.MediaParams()
	require.True(t, ok)
	local := string(out.LocalSDP())

	refuse <- true
	err = out.Hold(ctx)
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, sip.StatusNotAcceptableHere, se.Code())
	after, _ := out.MediaParams()
	require.Equal(t, before, after, "the session is as it was")
	require.True(t, after.Direction.Sends(), "not on hold")
	require.Equal(t, local, string(out.LocalSDP()))

	// Host SDP on a media call: the answer is applied to the session.
	refuse <- false
	offer := ua.SetSDPDirection(out.LocalSDP(), ua.MediaSendOnly)
	require.NoError(t, out.Reinvite(ctx, offer))
	held, _ := out.MediaParams()
	require.False(t, held.Direction.Receives(), "sendonly applied: we no longer receive")
	require.Equal(t, ua.MediaRecvOnly, ua.SDPDirection(out.RemoteSDP()))

	// Foreign SDP bytes that are no offer of ours are sent as they are.
	refuse <- false
	require.NoError(t, out.Reinvite(ctx, []byte("not sdp")))
	require.NoError(t, out.Hangup(ctx))
	recvReal(t, in.Done(), "callee's end")
}

// answerFrom answers offer with the direction it mirrors, from the
// callee's current SDP (what OnReinvite would do by hand).
func answerFrom(c *ua.Call, offer []byte) ([]byte, error) {
	if _, err := sdp.Parse(offer); err != nil {
		return c.LocalSDP(), nil
	}
	dir := map[ua.MediaDirection]ua.MediaDirection{ua.MediaSendOnly: ua.MediaRecvOnly, ua.MediaRecvOnly: ua.MediaSendOnly, ua.MediaInactive: ua.MediaInactive}[ua.SDPDirection(offer)]
	return ua.SetSDPDirection(c.LocalSDP(), dir), nil
}

// Without MediaConfig.IP the session binds every interface and the SDP
// announces the address of the call's Contact; audio flows.
func TestMediaAnnouncesContactAddress(t *testing.T) {
	ctx := mediaCtx(t)
	b := newMediaPeer(t, ua.MediaConfig{})
	a := newLoopbackUA(t, ua.Config{})
	out, err := a.Dial(ctx, b.uri("bob"), ua.DialOptions{})
	require.NoError(t, err)
	in := recvReal(t, b.calls, "callee's call")
	sd, err := sdp.Parse(out.LocalSDP())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", sd.Connection.String(), "the Contact's address")
	require.True(t, out.Media().LocalAddr().Addr().IsUnspecified(), "bound to every interface")
	require.Equal(t, out.Media().LocalAddr().Port(), sd.Media[0].Port)
	got := playAndRecord(ctx, t, in.Media(), out.Media(), 700, 30)
	require.Greater(t, peakLevel(got, 700), 0.02)
	require.NoError(t, out.Hangup(ctx))
}

// Progress(nil) for an offer with no common codec refuses the call 488
// and returns an error wrapping sdp.ErrNotAcceptable.
func TestProgressNotAcceptable(t *testing.T) {
	ctx := mediaCtx(t)
	perr := make(chan error, 1)
	b := newLoopbackUA(t, ua.Config{Media: ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1"), Codecs: []audio.Codec{audio.PCMA()}},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			perr <- ic.Progress(nil)
		}})
	a := newLoopbackUA(t, ua.Config{Media: ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1"), Codecs: []audio.Codec{audio.PCMU()}}})
	_, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{})
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, sip.StatusNotAcceptableHere, se.Code())
	require.Contains(t, se.Response.Header("Warning"), "304")
	require.ErrorIs(t, recvReal(t, perr, "Progress"), sdp.ErrNotAcceptable)
}

// Our offer in the 200 of an offerless INVITE needs its answer in the
// ACK (RFC 3264 §4): an ACK without one ends the call with BYE and
// ErrNoAnswer.
func TestACKWithoutAnswerEndsCall(t *testing.T) {
	ctx := mediaCtx(t)
	b := newMediaPeer(t, ua.MediaConfig{})
	a := newLoopbackUA(t, ua.Config{Media: ua.MediaConfig{DisableMedia: true}})
	out, err := a.Dial(ctx, b.uri("bob"), ua.DialOptions{NoOffer: true})
	require.NoError(t, err)
	require.Contains(t, string(out.RemoteSDP()), "m=audio", "the callee's offer in the 200")
	in := recvReal(t, b.calls, "callee's call")
	recvReal(t, in.Done(), "callee's end")
	require.ErrorIs(t, in.Err(), ua.ErrNoAnswer)
	recvReal(t, out.Done(), "caller's end")
	require.ErrorIs(t, out.Err(), ua.ErrRemoteHangup, "the callee sent BYE")
}
