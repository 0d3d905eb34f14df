package ua_test

// How Dial fails, as the caller sees it.

import (
	"context"
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

func TestDialFailures(t *testing.T) {
	redirect := func(contacts ...string) transaction.HandlerFunc {
		return func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			res := sip.NewResponse(req, sip.StatusMovedTemporarily, "")
			for _, c := range contacts {
				res.Add("Contact", c)
			}
			_ = w.Respond(res)
		}
	}
	tests := []struct {
		name    string
		peer    transaction.HandlerFunc // at 192.0.2.8
		target  string
		opts    ua.DialOptions
		check   func(t *testing.T, err error)
		elapsed time.Duration // virtual time Dial took, when checked
	}{
		{"unresolvable", nil, "sip:bob@nowhere.test", ua.DialOptions{}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, transport.ErrNoTargets)
		}, 0},
		{"Timer B: nobody there", nil, // not even a 100 Trying
			"sip:bob@192.0.2.8:5060", ua.DialOptions{}, func(t *testing.T, err error) {
				require.ErrorIs(t, err, transaction.ErrTimeout)
			}, 32 * time.Second},
		{"401 without credentials", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			res := sip.NewResponse(req, sip.StatusUnauthorized, "")
			res.Set("WWW-Authenticate", `Digest realm="example.test", nonce="abc", algorithm=MD5`)
			_ = w.Respond(res)
		}, "sip:bob@192.0.2.8:5060", ua.DialOptions{}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, ua.ErrAuthFailed)
			require.ErrorIs(t, err, digest.ErrNoCredentials)
			var ae *ua.AuthError
			require.ErrorAs(t, err, &ae)
			require.Contains(t, ae.Error(), "401 Unauthorized")
		}, 0},
		{"redirects beyond MaxRedirects", redirect("<sip:a@192.0.2.8:5060>;q=0.5", "<sip:b@192.0.2.8:5060>;q=0.4"),
			"sip:bob@192.0.2.8:5060", ua.DialOptions{MaxRedirects: 2}, func(t *testing.T, err error) {
				require.ErrorIs(t, err, ua.ErrTooManyRedirects)
			}, 0},
		{"3xx without a SIP Contact", redirect("<mailto:bob@example.test>"),
			"sip:bob@192.0.2.8:5060", ua.DialOptions{}, func(t *testing.T, err error) {
				require.ErrorIs(t, err, ua.ErrRedirectLoop)
			}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				if tt.peer != nil {
					newRawPeer(t, n, "192.0.2.8:5060", tt.peer, nil)
				}
				a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				t0 := time.Now()
				c, err := a.Dial(t.Context(), tt.target, tt.opts)
				require.Nil(t, c)
				tt.check(t, err)
				if tt.elapsed > 0 {
					require.Equal(t, tt.elapsed, time.Since(t0).Round(time.Second))
				}
				require.Zero(t, a.Calls())
				e, ok := ra.find(ua.EventCallEnded)
				require.True(t, ok)
				require.Error(t, e.Err)
			})
		})
	}
}

// A Dial whose context ends before any response still cancels its
// INVITE once the peer answers provisionally; nothing is left behind.
func TestDialContextEndsBeforeResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{Latency: 100 * time.Millisecond})
		defer n.Close()
		w, causes := ringingPeer(t, n, "192.0.2.8:5060")
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := a.Dial(ctx, "sip:bob@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, recv(t, causes, time.Minute, "INVITE context end"), transaction.ErrCanceled)
		require.Len(t, w.requests(sip.CANCEL), 1, "CANCEL once the 180 came (RFC 3261 §9.1)")
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Zero(t, a.Calls())
	})
}
