package ua_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// established sets up A calling B and returns both ends.
func established(t *testing.T, n *memnet.Network, cfgA, cfgB ua.Config) (a, b *ua.UA, out, in *ua.Call, ra, rb *recorder) {
	t.Helper()
	calls := make(chan *ua.Call, 1)
	if cfgB.OnCall == nil {
		cfgB.OnCall = answerer(calls)
	}
	a, ra = newUA(t, n, "192.0.2.1:5060", cfgA)
	b, rb = newUA(t, n, "192.0.2.2:5060", cfgB)
	out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
	require.NoError(t, err)
	in = <-calls
	synctest.Wait()
	return a, b, out, in, ra, rb
}

func TestHoldResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		_, _, out, in, _, rb := established(t, n, ua.Config{}, ua.Config{})

		require.NoError(t, out.Hold(t.Context()))
		synctest.Wait()
		require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(out.LocalSDP()))
		require.Equal(t, ua.MediaRecvOnly, ua.SDPDirection(out.RemoteSDP()), "the default answer mirrors the offer")
		require.True(t, in.RemoteHold())
		e, ok := rb.find(ua.EventCallUpdated)
		require.True(t, ok)
		require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(e.SDP))

		require.NoError(t, out.Resume(t.Context()))
		synctest.Wait()
		require.Equal(t, ua.MediaSendRecv, ua.SDPDirection(out.RemoteSDP()))
		require.False(t, in.RemoteHold())
		require.Equal(t, ua.CallEstablished, in.State(), "the re-INVITE's 2xx was acknowledged")

		// The other way round: B holds A.
		require.NoError(t, in.Hold(t.Context()))
		synctest.Wait()
		require.True(t, out.RemoteHold())
		require.NoError(t, out.Hangup(t.Context()))
	})
}

type countTracer struct {
	prefix string
	n      atomic.Int32
}

func (c *countTracer) Trace(ev transport.TraceEvent) {
	if ev.Direction == transport.In && bytes.HasPrefix(ev.Data, []byte(c.prefix)) {
		c.n.Add(1)
	}
}

func TestGlare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{Latency: 50 * time.Millisecond})
		defer n.Close()
		tr := &countTracer{prefix: "SIP/2.0 491"}
		_, _, out, in, _, _ := established(t, n, ua.Config{Transport: ua.TransportConfig{Tracer: tr}}, ua.Config{})
		time.Sleep(time.Second) // the ACK crosses the network
		var wg sync.WaitGroup
		var errA, errB error
		start := time.Now()
		wg.Go(func() { errA = out.Hold(t.Context()) })
		wg.Go(func() { errB = in.Hold(t.Context()) })
		wg.Wait()
		require.NoError(t, errA)
		require.NoError(t, errB)
		require.Positive(t, tr.n.Load(), "A got 491 Request Pending")
		require.GreaterOrEqual(t, time.Since(start), 2100*time.Millisecond, "the Call-ID owner backed off 2.1 s to 4 s")
		require.NoError(t, out.Hangup(t.Context()))
	})
}

func TestInDialogInfoOptionsUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var infos atomic.Int32
		_, _, out, _, _, _ := established(t, n, ua.Config{}, ua.Config{AllowUpdate: true, OnInfo: func(context.Context, *ua.Call, *sip.Request) { infos.Add(1) }})
		for _, m := range []sip.Method{sip.INFO, sip.OPTIONS, sip.UPDATE} {
			res, err := out.Request(t.Context(), m, nil, "")
			require.NoError(t, err, m)
			require.Equal(t, 200, res.StatusCode, m)
		}
		require.EqualValues(t, 1, infos.Load())
		require.NoError(t, out.Hangup(t.Context()))
	})
}

func TestMessageBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		got := make(chan *ua.Message, 2)
		onMsg := func(_ context.Context, m *ua.Message) int { got <- m; return 0 }
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{OnMessage: onMsg})
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnMessage: onMsg})
		c, _ := newUA(t, n, "192.0.2.3:5060", ua.Config{})
		require.NoError(t, a.SendMessage(t.Context(), "sip:bob@192.0.2.2:5060", "text/plain", []byte("hello bob"), ua.RequestOptions{}))
		m := <-got
		require.Equal(t, "hello bob", string(m.Body))
		require.Equal(t, "text/plain", m.ContentType)
		require.NoError(t, b.SendMessage(t.Context(), "sip:alice@192.0.2.1:5060", "text/plain", []byte("hi alice"), ua.RequestOptions{}))
		require.Equal(t, "hi alice", string((<-got).Body))

		err := a.SendMessage(t.Context(), "sip:carol@192.0.2.3:5060", "text/plain", []byte("x"), ua.RequestOptions{})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 405, se.Code(), "no MESSAGE handler")

		res, err := c.Options(t.Context(), "sip:192.0.2.1:5060", ua.RequestOptions{})
		require.NoError(t, err)
		require.Contains(t, res.Header("Allow"), "MESSAGE")
	})
}

func TestRedirect(t *testing.T) {
	tests := []struct {
		name     string
		contacts []string
		wantErr  error
	}{
		{"followed by q", []string{"<sip:nobody@192.0.2.99:5060>;q=0.1", "<sip:bob@192.0.2.2:5060>;q=0.9"}, nil},
		{"loop", []string{"<sip:bob@192.0.2.8:5060>"}, ua.ErrRedirectLoop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					res := sip.NewResponse(req, sip.StatusMovedTemporarily, "")
					for _, c := range tt.contacts {
						res.Add("Contact", c)
					}
					_ = w.Respond(res)
				}, nil)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(nil)})
				c, err := a.Dial(t.Context(), "sip:bob@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				require.Equal(t, "192.0.2.2", c.RemoteTarget().Host, "the call went to the Contact with the highest q")
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}

func TestInviteDigestAuth(t *testing.T) {
	for _, pw := range []string{"secret", "wrong"} {
		t.Run(pw, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				srv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test"})
				require.NoError(t, err)
				var invites atomic.Int32
				newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					invites.Add(1)
					for _, v := range req.ProxyAuthorization() {
						if _, err := srv.Verify(v, "INVITE", nil, func(string, string) (digest.Credentials, bool) {
							return digest.Credentials{Password: "secret"}, true
						}); err == nil {
							_ = w.Respond(sip.NewResponse(req, sip.StatusBusyHere, ""))
							return
						}
					}
					res := sip.NewResponse(req, sip.StatusProxyAuthenticationRequired, "")
					chs, _ := srv.Challenges(false)
					for _, c := range chs {
						res.Add("Proxy-Authenticate", c)
					}
					_ = w.Respond(res)
				}, nil)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Password: pw}}})
				_, err = a.Dial(t.Context(), "sip:bob@192.0.2.8:5060", ua.DialOptions{})
				var se *ua.StatusError
				require.ErrorAs(t, err, &se)
				require.EqualValues(t, 2, invites.Load(), "the challenge is answered once")
				if pw == "secret" {
					require.Equal(t, 486, se.Code())
				} else {
					require.ErrorIs(t, err, ua.ErrAuthFailed)
					require.Equal(t, 407, se.Code())
				}
			})
		})
	}
}

// A 200 that crosses our CANCEL is acknowledged, then the call is ended with
// a BYE (RFC 3261 §9.1, §15).
func TestOKCrossingCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var acks, byes atomic.Int32
		peer := newRawPeer(t, n, "192.0.2.8:5060", func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			switch req.Method {
			case sip.BYE:
				byes.Add(1)
				_ = w.Respond(sip.NewResponse(req, 200, ""))
			case sip.INVITE:
				tag := sip.NewTag()
				r := sip.NewResponse(req, 180, "")
				r.SetToTag(tag)
				_ = w.Respond(r)
				<-ctx.Done() // the CANCEL came; answer 200 anyway, as if it crossed
				ok := sip.NewResponse(req, 200, "")
				ok.SetToTag(tag)
				ok.Set("Contact", "<sip:peer@192.0.2.8:5060>")
				ok.SetBody([]byte(testSDP), "application/sdp")
				_ = w.Respond(ok)
			}
		}, func(in transport.Incoming) {
			if r, ok := in.Msg.(*sip.Request); ok && r.Method == sip.ACK {
				acks.Add(1)
			}
		})
		_ = peer
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				cancel()
			}
		}})
		_, err := a.Dial(ctx, "sip:bob@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorIs(t, err, context.Canceled)
		time.Sleep(time.Second)
		synctest.Wait()
		require.EqualValues(t, 1, acks.Load(), "the 2xx is acknowledged")
		require.EqualValues(t, 1, byes.Load(), "then hung up")
		e, ok := ra.find(ua.EventCallEnded)
		require.True(t, ok)
		require.ErrorIs(t, e.Err, ua.ErrLocalHangup)
		require.Zero(t, a.Calls())
	})
}
