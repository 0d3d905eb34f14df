package ua_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// A panic in a host callback is recovered: the request it was handling is
// answered 500, the panic is logged with its stack, and the UA goes on
// serving (issue 21, hostile input).
func TestHostCallbackPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(armed *atomic.Bool, calls chan<- *ua.Call) ua.Config
		// provoke sends the request whose callback panics and returns
		// the status it was answered with.
		provoke func(t *testing.T, a *ua.UA, out *ua.Call) int
	}{
		{
			name: "OnCall",
			cfg: func(armed *atomic.Bool, calls chan<- *ua.Call) ua.Config {
				return ua.Config{OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
					if armed.Load() {
						panic("host bug in OnCall")
					}
					answerer(calls)(ctx, ic)
				}}
			},
			provoke: func(t *testing.T, a *ua.UA, _ *ua.Call) int {
				_, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
				return statusOf(t, err)
			},
		},
		{
			name: "OnMessage",
			cfg: func(armed *atomic.Bool, _ chan<- *ua.Call) ua.Config {
				return ua.Config{OnMessage: func(context.Context, *ua.Message) int {
					if armed.Load() {
						panic("host bug in OnMessage")
					}
					return 0
				}}
			},
			provoke: func(t *testing.T, a *ua.UA, _ *ua.Call) int {
				err := a.SendMessage(t.Context(), "sip:bob@192.0.2.2:5060", "text/plain", []byte("hi"), ua.RequestOptions{})
				return statusOf(t, err)
			},
		},
		{
			name: "OnReinvite",
			cfg: func(armed *atomic.Bool, _ chan<- *ua.Call) ua.Config {
				return ua.Config{OnReinvite: func(_ context.Context, c *ua.Call, offer []byte) ([]byte, error) {
					if armed.Load() {
						panic("host bug in OnReinvite")
					}
					return c.LocalSDP(), nil
				}}
			},
			provoke: func(t *testing.T, _ *ua.UA, out *ua.Call) int {
				return statusOf(t, out.Reinvite(t.Context(), []byte(testSDP)))
			},
		},
		{
			name: "OnInfo",
			cfg: func(armed *atomic.Bool, _ chan<- *ua.Call) ua.Config {
				return ua.Config{OnInfo: func(context.Context, *ua.Call, *sip.Request) {
					if armed.Load() {
						panic("host bug in OnInfo")
					}
				}}
			},
			provoke: func(t *testing.T, _ *ua.UA, out *ua.Call) int {
				_, err := out.Request(t.Context(), sip.INFO, []byte("Signal=5\r\nDuration=160\r\n"), ua.DTMFInfoContentType)
				return statusOf(t, err)
			},
		},
		{
			name: "OnEvent",
			cfg: func(armed *atomic.Bool, _ chan<- *ua.Call) ua.Config {
				return ua.Config{OnEvent: func(ua.Event) {
					if armed.Load() {
						panic("host bug in OnEvent")
					}
				}}
			},
			provoke: func(t *testing.T, _ *ua.UA, out *ua.Call) int {
				// Events are not requests: the INFO they accompany is
				// still answered normally.
				_, err := out.Request(t.Context(), sip.INFO, []byte("Signal=5\r\nDuration=160\r\n"), ua.DTMFInfoContentType)
				return statusOf(t, err)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var armed atomic.Bool
				logs := &testenv.SyncBuffer{}
				calls := make(chan *ua.Call, 4)
				cfgB := tc.cfg(&armed, calls)
				cfgB.Logger = slog.New(slog.NewTextHandler(logs, nil))
				if cfgB.OnCall == nil {
					cfgB.OnCall = answerer(calls)
				}
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				newUA(t, n, "192.0.2.2:5060", cfgB)
				out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				<-calls

				armed.Store(true)
				code := tc.provoke(t, a, out)
				synctest.Wait()
				if tc.name == "OnEvent" {
					require.Equal(t, sip.StatusOK, code)
				} else {
					require.Equal(t, sip.StatusServerInternalError, code)
				}
				require.Contains(t, logs.String(), "host callback panicked")
				require.Contains(t, logs.String(), "callback="+tc.name)
				require.Contains(t, logs.String(), "guard.go", "the stack is logged")

				// The UA keeps serving: the same request succeeds once the
				// host stops panicking, and the call is still up.
				armed.Store(false)
				require.Less(t, tc.provoke(t, a, out), 300)
				require.Equal(t, ua.CallEstablished, out.State())
				require.NoError(t, out.Hangup(t.Context()))
			})
		})
	}
}

// statusOf returns the status of a *ua.StatusError, 200 for nil.
func statusOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return sip.StatusOK
	}
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	return se.Response.StatusCode
}
