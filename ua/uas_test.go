package ua_test

// The UAS side: answers the UA gives by itself, final responses the host
// chooses, and hang-ups before the ACK.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
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

// RFC 3261 §8.2.2, §8.2.3: an unknown method gets 501 with Allow, a body
// type the UA cannot read gets 415 with Accept.
func TestAutomaticAnswersAllowAccept(t *testing.T) {
	tests := []struct {
		name   string
		method sip.Method
		ctype  string
		want   int
		header string
	}{
		{"unknown method", "PUBLISH", "", sip.StatusNotImplemented, "Allow"},
		{"unknown body type", sip.INVITE, "application/x-unknown", sip.StatusUnsupportedMediaType, "Accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				called := false
				newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(context.Context, *ua.IncomingCall) { called = true }})
				peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
				req := rawRequest(tt.method, "sip:bob@192.0.2.2:5060")
				if tt.ctype != "" {
					req.SetBody([]byte("x"), tt.ctype)
				}
				tx, err := peer.tx.Request(t.Context(), req, uaTarget)
				require.NoError(t, err)
				res, err := tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, tt.want, res.StatusCode)
				require.NotEmpty(t, res.Header(tt.header))
				if tt.header == "Allow" {
					require.Contains(t, res.Header("Allow"), "INVITE")
				} else {
					require.Contains(t, res.Header("Accept"), "application/sdp")
				}
				require.Equal(t, ua.DefaultUserAgent, res.Header("Server"))
				require.False(t, called)
			})
		})
	}
}

// Reject sends the host's status, 500 for a code that is not a final
// failure, with the reason given.
func TestIncomingReject(t *testing.T) {
	tests := []struct {
		code   int
		reason string
		want   int
	}{
		{486, "Busy Here Now", 486},
		{603, "", 603},
		{200, "", 500},
		{700, "", 500},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			n := memnet.New(memnet.Config{})
			defer n.Close()
			a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{UserAgent: "test-agent/1"})
			newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
				_ = ic.Reject(tt.code, tt.reason)
			}})
			_, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
			var se *ua.StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.want, se.Code(), "Reject(%d)", tt.code)
			if tt.reason != "" {
				require.Equal(t, tt.reason, se.Response.Reason)
			}
		})
	}
}

// Hangup of an incoming call whose 2xx awaits its ACK sends the BYE once
// the ACK came (RFC 3261 §15: not before the dialog is confirmed).
func TestHangupBeforeACKWaitsForIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		var mu sync.Mutex
		var byeAt time.Time
		peer := newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			if req.Method == sip.BYE {
				mu.Lock()
				byeAt = time.Now()
				mu.Unlock()
			}
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
		}, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.SetBody([]byte(testSDP), "application/sdp")
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		var ok *sip.Response
		for res := range tx.Responses() {
			if res.IsSuccess() {
				ok = res
				break
			}
		}
		in := recv(t, calls, time.Second, "answered call")
		hung := make(chan error, 1)
		go func() { hung <- in.Hangup(t.Context()) }()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		require.True(t, byeAt.IsZero(), "no BYE before the ACK")
		mu.Unlock()
		ackAt := time.Now()
		d, err := dialog.NewUAC(req, ok)
		require.NoError(t, err)
		ack, err := d.NewAck(req, ok)
		require.NoError(t, err)
		_, err = peer.tp.SendRequest(t.Context(), ack, uaTarget)
		require.NoError(t, err)
		require.NoError(t, recv(t, hung, time.Minute, "Hangup's return"))
		synctest.Wait() // the BYE reaches the peer
		mu.Lock()
		require.False(t, byeAt.IsZero(), "BYE after the ACK")
		require.Less(t, byeAt.Sub(ackAt), time.Second, "right after the ACK, not at 64·T1")
		mu.Unlock()
		require.ErrorIs(t, in.Err(), ua.ErrLocalHangup)
	})
}

// A re-INVITE that arrives while another is being answered gets 500 with
// a Retry-After of 0 to 10 s (RFC 3261 §14.2).
func TestOverlappingReinvite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		entered := make(chan struct{}, 2)
		release := make(chan struct{})
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls), OnReinvite: func(_ context.Context, c *ua.Call, offer []byte) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return c.LocalSDP(), nil
		}})
		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		d, _ := rawEstablish(t, peer, 1)
		recv(t, calls, time.Second, "answered call")

		first, err := d.NewRequest(sip.INVITE, []byte(testSDP), "application/sdp")
		require.NoError(t, err)
		tx1, err := peer.tx.Request(t.Context(), first, uaTarget)
		require.NoError(t, err)
		recv(t, entered, time.Second, "OnReinvite")
		// The peer's own dialog would not send it: build it by hand.
		second := first.Clone()
		second.Del("Via")
		cs, _ := first.CSeq()
		second.SetCSeq(sip.CSeq{Seq: cs.Seq + 1, Method: sip.INVITE})
		res := rawSend(t, peer, second)
		require.Equal(t, sip.StatusServerInternalError, res.StatusCode)
		ra, err := res.RetryAfter()
		require.NoError(t, err)
		require.LessOrEqual(t, ra.Delay, 10*time.Second)
		close(release)
		res1, err := tx1.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, 200, res1.StatusCode, "the first one is answered")
	})
}

// The zero Config is valid: UDP on an ephemeral port of every interface,
// DNS resolution, no lines, calls refused with 480.
func TestZeroConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		u, err := ua.New(ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.2"))}, Media: ua.MediaConfig{DisableMedia: true}})
		require.NoError(t, err)
		defer u.Close()
		addr := u.Addrs()[0].String()
		require.True(t, strings.HasPrefix(addr, "192.0.2.2:"), addr)
		require.NotEqual(t, "192.0.2.2:0", addr, "an ephemeral port")
		require.Empty(t, u.Lines())
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		_, err = a.Dial(t.Context(), "sip:bob@"+addr, ua.DialOptions{SDP: []byte(testSDP)})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, sip.StatusTemporarilyUnavailable, se.Code())
	})
}
