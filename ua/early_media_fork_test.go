package ua_test

// Early media beyond one 183 (issue 18 §4): a 183 from another fork with
// a different SDP moves the caller's session to it, the 200 of that fork
// keeps the same session; DTMF goes both ways before the answer. SIP over
// memnet or loopback, RTP on real loopback sockets.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// forkSDP is a fork's answer to the caller's PCMU offer, on port.
func forkSDP(port string) []byte {
	return []byte("v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + port + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
}

func TestEarlyMediaForkRenegotiates(t *testing.T) {
	ctx := mediaCtx(t)
	n := memnet.New(memnet.Config{})
	defer n.Close()
	step := make(chan struct{}) // the test lets the peer send its next response
	// A forking proxy's view: two early dialogs (tags a and b), then b answers.
	newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		if req.Method != sip.INVITE {
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
			return
		}
		for _, r := range []struct {
			code      int
			tag, port string
		}{{183, "fork-a", "41000"}, {183, "fork-b", "42000"}, {200, "fork-b", "42000"}} {
			select {
			case <-step:
			case <-ctx.Done():
				return
			}
			res := sip.NewResponseTag(req, r.code, "", r.tag)
			res.Set("Contact", "<sip:"+r.tag+"@192.0.2.7:5060>")
			res.SetBody(forkSDP(r.port), "application/sdp")
			_ = w.Respond(res)
		}
	}, nil)
	progress := make(chan ua.Event, 4)
	a, err := ua.New(ua.Config{
		Transport: ua.TransportConfig{Net: n},
		Listen:    []ua.ListenConfig{{Network: transport.UDP, Addr: "192.0.2.1:5060"}},
		Resolver:  transport.StaticResolver{},
		Media:     ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				progress <- e
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	dialed := make(chan *ua.Call, 1)
	errs := make(chan error, 1)
	go func() {
		c, err := a.Dial(ctx, "sip:bob@192.0.2.7:5060", ua.DialOptions{})
		if err != nil {
			errs <- err
		}
		dialed <- c
	}()
	var session any
	for _, want := range []uint16{41000, 42000} {
		step <- struct{}{}
		e := recvReal(t, progress, "183")
		p, ok := e.Call.MediaParams()
		require.True(t, ok, "the 183's answer applied")
		require.Equal(t, want, p.RemoteRTP.Port(), "the session follows the fork's early SDP")
		require.Equal(t, ua.CallRinging, e.Call.State())
		if session == nil {
			session = e.Call.Media()
		}
		require.Same(t, session, e.Call.Media(), "one session across the forks")
	}
	step <- struct{}{}
	var c *ua.Call
	select {
	case c = <-dialed:
	case err := <-errs:
		t.Fatal(err)
	}
	require.Same(t, session, c.Media(), "the same session continues at the 200")
	p, ok := c.MediaParams()
	require.True(t, ok)
	require.Equal(t, uint16(42000), p.RemoteRTP.Port())
	require.Equal(t, "fork-b", c.DialogID().RemoteTag)
	require.NoError(t, c.Hangup(ctx))
}

// DTMF during early media, both ways: the callee's digits in its early
// session reach the caller as EventDTMF while it rings; the caller's
// Call.SendDTMF before the answer reaches the callee's early session.
func TestEarlyMediaDTMF(t *testing.T) {
	ctx := mediaCtx(t)
	loopback := ua.MediaConfig{IP: netip.MustParseAddr("127.0.0.1")}
	progressed := make(chan *ua.IncomingCall, 1)
	b, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		OnCall: func(cctx context.Context, ic *ua.IncomingCall) {
			if ic.Progress(nil) == nil {
				progressed <- ic
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	var mu sync.Mutex
	var digits []rune
	var states []ua.CallState
	ringing := make(chan *ua.Call, 1)
	a, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    loopback,
		OnEvent: func(e ua.Event) {
			switch e.Kind {
			case ua.EventDTMF:
				mu.Lock()
				digits = append(digits, e.Digit)
				states = append(states, e.Call.State())
				mu.Unlock()
			case ua.EventCallProgress:
				if e.Response.StatusCode == 183 {
					ringing <- e.Call
				}
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	go func() { _, _ = a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{}) }()
	ic := recvReal(t, progressed, "183 sent")
	out := recvReal(t, ringing, "183 received")
	p, ok := out.MediaParams()
	require.True(t, ok)
	require.True(t, p.HasTelephoneEvent, "telephone-event negotiated in the 183")

	require.NoError(t, ic.Media().SendDTMF(ctx, "42#"))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(digits) == 3
	}, mediaWait, mediaTick, "the caller gets the callee's early digits")
	mu.Lock()
	require.Equal(t, "42#", string(digits))
	for _, s := range states {
		require.Equal(t, ua.CallRinging, s, "digits came before the answer")
	}
	mu.Unlock()

	require.NoError(t, out.SendDTMF(ctx, "7*"))
	var got strings.Builder
	for got.Len() < 2 {
		select {
		case d := <-ic.Media().DTMF():
			got.WriteRune(d.Digit)
		case <-ctx.Done():
			t.Fatalf("callee got %q of the caller's early digits", got.String())
		}
	}
	require.Equal(t, "7*", got.String())
	require.Equal(t, ua.CallRinging, out.State())
	require.NoError(t, ic.Reject(sip.StatusBusyHere, ""))
}
