package ua_test

// The accessors of IncomingCall, Call and Line, each checked against what
// the other end of a real exchange sent or received.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

// pendingCalls is an OnCall handing each IncomingCall to the test
// unanswered.
func pendingCalls(ch chan<- *ua.IncomingCall) func(context.Context, *ua.IncomingCall) {
	return func(_ context.Context, ic *ua.IncomingCall) { ch <- ic }
}

// answer200 is a raw peer's handler answering every request 200.
func answer200(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
}

// A raw caller sees one To tag on 180, 183 and 200 (RFC 3261 §8.2.6.2,
// §12.1.1: every response of the UAS to one INVITE carries the same tag),
// the 183 carries the early SDP the host gave, and the IncomingCall shows
// what the caller sent.
func TestIncomingResponsesShareToTag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		pending := make(chan *ua.IncomingCall, 1)
		b, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{
			Lines:  []ua.LineConfig{{AOR: "sip:bob@example.test"}},
			OnCall: pendingCalls(pending),
		})
		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		to, _ := sip.ParseAddress("<sip:bob@example.test>")
		req.SetTo(to)
		req.Set("Subject", "api test")
		req.SetBody([]byte(testSDP), "application/sdp")
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)

		ic := recv(t, pending, 10*time.Second, "incoming call")
		require.Equal(t, req.CallID(), ic.CallID())
		require.Equal(t, sip.INVITE, ic.Request().Method)
		require.Equal(t, "api test", ic.Request().Header("Subject"))
		require.Equal(t, testSDP, string(ic.Offer()))
		require.Equal(t, "sip:bob@example.test", ic.To().URI.String())
		icTo := ic.To()
		require.Empty(t, icTo.Tag(), "the INVITE's To has no tag")
		require.Equal(t, "raw", ic.From().URI.User)
		require.Same(t, b.Lines()[0], ic.Line(), "the line whose AOR user is the Request-URI's")
		require.NoError(t, ic.Context().Err())
		require.Nil(t, ic.Media(), "no session without Progress(nil)")

		early := []byte("v=0\r\no=- 2 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendrecv\r\n")
		require.NoError(t, ic.Ring())
		require.NoError(t, ic.Progress(early))
		in, err := ic.Answer([]byte(testSDP))
		require.NoError(t, err)
		_, err = ic.Answer([]byte(testSDP))
		require.ErrorIs(t, err, ua.ErrAnswered, "one final response")
		require.ErrorIs(t, ic.Ring(), ua.ErrAnswered)
		require.ErrorIs(t, ic.Redirect(), ua.ErrAnswered)

		var got []*sip.Response
		for res := range tx.Responses() {
			got = append(got, res)
			if res.IsSuccess() {
				break
			}
		}
		var codes []int
		for _, r := range got {
			if r.StatusCode != sip.StatusTrying {
				codes = append(codes, r.StatusCode)
			}
		}
		require.Equal(t, []int{180, 183, 200}, codes)
		tag := toTag(got[len(got)-1])
		require.NotEmpty(t, tag)
		for _, r := range got {
			if r.StatusCode == sip.StatusTrying {
				continue
			}
			require.Equal(t, tag, toTag(r), "%d has the 200's To tag", r.StatusCode)
			require.NotEmpty(t, r.Header("Contact"), "%d carries a Contact (§12.1.1)", r.StatusCode)
		}
		p183 := got[len(got)-2]
		require.Equal(t, string(early), string(p183.Body()), "early media SDP in the 183")
		require.Equal(t, "application/sdp", p183.ContentType())
		require.Equal(t, testSDP, string(got[len(got)-1].Body()))

		// The caller's ACK confirms the call; its dialog is the 200's.
		first := got[len(got)-1]
		d, err := dialog.NewUAC(req, first)
		require.NoError(t, err)
		ack, err := d.NewAck(req, first)
		require.NoError(t, err)
		_, err = peer.tp.SendRequest(t.Context(), ack, uaTarget)
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, ua.CallEstablished, in.State())
		require.Equal(t, ua.Incoming, in.Direction())
		require.Equal(t, "incoming", in.Direction().String())
		require.Equal(t, req.CallID(), in.CallID())
		require.Same(t, b.Lines()[0], in.Line())
		require.Equal(t, dialog.ID{CallID: req.CallID(), LocalTag: tag, RemoteTag: d.ID().LocalTag}, in.DialogID())
		require.Equal(t, d.ID().LocalTag, in.DialogID().RemoteTag, "the caller's From tag")
		require.Equal(t, "raw", in.Remote().URI.User, "the From of an incoming call")
		inRemote := in.Remote()
		require.Equal(t, d.ID().LocalTag, inRemote.Tag())
		require.Equal(t, 1, rb.count(ua.EventCallConfirmed))
		require.NoError(t, in.Hangup(t.Context()))
	})
}

// A CANCEL ends the IncomingCall's Context with transaction.ErrCanceled;
// the INVITE is answered 487 with the tag of the 180 and the host can no
// longer answer.
func TestIncomingCallContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		pending := make(chan *ua.IncomingCall, 1)
		_, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: pendingCalls(pending)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.SetBody([]byte(testSDP), "application/sdp")
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		ic := recv(t, pending, 10*time.Second, "incoming call")
		require.Nil(t, ic.Line(), "no line for bob")
		require.NoError(t, ic.Ring())
		var ring *sip.Response
		for res := range tx.Responses() {
			if res.StatusCode == sip.StatusRinging {
				ring = res
				break
			}
		}
		require.NotNil(t, ring)
		tx.Cancel()
		recv(t, ic.Context().Done(), 10*time.Second, "IncomingCall.Context end")
		require.ErrorIs(t, context.Cause(ic.Context()), transaction.ErrCanceled)
		res, err := tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, sip.StatusRequestTerminated, res.StatusCode)
		require.Equal(t, toTag(ring), toTag(res), "487 has the 180's To tag")
		synctest.Wait()
		_, err = ic.Answer([]byte(testSDP))
		require.Error(t, err, "too late to answer")
		require.ErrorIs(t, ic.Reject(486, ""), ua.ErrAnswered)
		e, ok := rb.find(ua.EventCallEnded)
		require.True(t, ok)
		require.ErrorIs(t, e.Err, ua.ErrCallCanceled)
	})
}

// The Call accessors of both ends of one call agree with each other and
// with the lines that placed and took it.
func TestCallAccessorsBothEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		pending := make(chan *ua.IncomingCall, 1)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", DisplayName: "Alice"}}})
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{
			Lines:  []ua.LineConfig{{AOR: "sip:bob@example.test"}},
			OnCall: pendingCalls(pending),
		})
		require.Equal(t, "sip:alice@example.test", a.Lines()[0].AOR().String())
		type answer struct {
			ic  *ua.IncomingCall
			c   *ua.Call
			err error
		}
		answered := make(chan answer, 1)
		go func() {
			ic := <-pending
			c, err := ic.Answer([]byte(testSDP))
			answered <- answer{ic, c, err}
		}()
		out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		ans := recv(t, answered, 10*time.Second, "answered call")
		require.NoError(t, ans.err)
		in := ans.c
		require.Equal(t, "alice", ans.ic.From().URI.User)
		require.Equal(t, "Alice", ans.ic.From().Display)
		require.Equal(t, "bob", ans.ic.To().URI.User)
		synctest.Wait()

		require.Equal(t, ua.Outgoing, out.Direction())
		require.Equal(t, "outgoing", out.Direction().String())
		require.Equal(t, ua.Incoming, in.Direction())
		require.NotEmpty(t, out.CallID())
		require.Equal(t, out.CallID(), in.CallID())
		require.Same(t, a.Lines()[0], out.Line())
		require.Same(t, b.Lines()[0], in.Line())

		oid, iid := out.DialogID(), in.DialogID()
		require.Equal(t, out.CallID(), oid.CallID)
		require.Equal(t, oid.LocalTag, iid.RemoteTag)
		require.Equal(t, oid.RemoteTag, iid.LocalTag)
		require.NotEmpty(t, oid.LocalTag)
		require.NotEmpty(t, oid.RemoteTag)

		require.Equal(t, "sip:bob@192.0.2.2:5060", out.Remote().URI.String(), "the To of an outgoing call")
		outRemote, inRemote := out.Remote(), in.Remote()
		require.Equal(t, iid.LocalTag, outRemote.Tag())
		require.Equal(t, "sip:alice@example.test", in.Remote().URI.String(), "the From of an incoming call")
		require.Equal(t, oid.LocalTag, inRemote.Tag())
		require.Equal(t, "established", out.State().String())
		require.NoError(t, out.Hangup(t.Context()))
		require.Equal(t, "ended", out.State().String())
	})
}

// Redirect answers 302 with the Contacts given; the caller receives them
// and follows them to the new target.
func TestIncomingRedirectFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		aw := newWire()
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Tracer: aw}})
		moved, err := sip.ParseURI("sip:carol@192.0.2.3:5060")
		require.NoError(t, err)
		redirected := make(chan error, 1)
		_, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			redirected <- ic.Redirect(moved)
		}})
		carol := make(chan *ua.Call, 1)
		newUA(t, n, "192.0.2.3:5060", ua.Config{OnCall: answerer(carol)})

		out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		require.NoError(t, recv(t, redirected, time.Second, "Redirect"))
		in := recv(t, carol, 10*time.Second, "carol's call")
		require.Equal(t, "192.0.2.3", out.RemoteTarget().Host, "the call went to the Contact of the 302")
		require.Equal(t, out.CallID(), in.CallID(), "same Call-ID after a redirect")

		var r302 *sip.Response
		for _, r := range aw.responses(sip.INVITE) {
			if r.StatusCode == sip.StatusMovedTemporarily {
				r302 = r
			}
		}
		require.NotNil(t, r302, "the caller received the 302")
		cts, err := r302.Contacts()
		require.NoError(t, err)
		require.Len(t, cts, 1)
		require.Equal(t, moved.String(), cts[0].URI.String())
		e, ok := rb.find(ua.EventCallEnded)
		require.True(t, ok)
		var se *ua.StatusError
		require.ErrorAs(t, e.Err, &se)
		require.Equal(t, 302, se.Code())
		require.NoError(t, out.Hangup(t.Context()))
	})
}

// With redirects refused (MaxRedirects < 0) Dial returns the 302, whose
// Contacts are those the callee gave.
func TestIncomingRedirectNotFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		c1, _ := sip.ParseURI("sip:carol@192.0.2.3:5060")
		c2, _ := sip.ParseURI("sip:dave@192.0.2.4:5060")
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Redirect(c1, c2)
		}})
		_, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP), MaxRedirects: -1})
		require.ErrorIs(t, err, ua.ErrTooManyRedirects)
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, sip.StatusMovedTemporarily, se.Code())
		cts, err := se.Response.Contacts()
		require.NoError(t, err)
		require.Len(t, cts, 2)
		require.Equal(t, c1.String(), cts[0].URI.String())
		require.Equal(t, c2.String(), cts[1].URI.String())
	})
}
