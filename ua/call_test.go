package ua_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

func TestCallBothWays(t *testing.T) {
	tests := []struct {
		name        string
		aCalls      bool // A dials B (else B dials A)
		callerHangs bool
		inline      bool // Config.InlineOnCall on both
	}{
		{"A calls B, A hangs up", true, true, false},
		{"A calls B, B hangs up", true, false, false},
		{"B calls A, B hangs up", false, true, false},
		{"B calls A, A hangs up", false, false, false},
		{"inline OnCall, A calls B, A hangs up", true, true, true},
		{"inline OnCall, B calls A, A hangs up", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				inA, inB := make(chan *ua.Call, 1), make(chan *ua.Call, 1)
				a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{OnCall: answerer(inA), InlineOnCall: tt.inline})
				b, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(inB), InlineOnCall: tt.inline})
				caller, callerRec, calleeIn, calleeRec, target := a, ra, inB, rb, "sip:bob@192.0.2.2:5060"
				if !tt.aCalls {
					caller, callerRec, calleeIn, calleeRec, target = b, rb, inA, ra, "sip:alice@192.0.2.1:5060"
				}
				out, err := caller.Dial(t.Context(), target, ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				require.Equal(t, ua.CallEstablished, out.State())
				require.Equal(t, testSDP, string(out.RemoteSDP()))
				in := <-calleeIn
				synctest.Wait()
				require.Equal(t, ua.CallEstablished, in.State(), "ACK arrived")
				require.Equal(t, 1, calleeRec.count(ua.EventCallConfirmed))
				require.Equal(t, 1, callerRec.count(ua.EventCallProgress), "180 reported")

				hanger, other := out, in
				if !tt.callerHangs {
					hanger, other = in, out
				}
				require.NoError(t, hanger.Hangup(t.Context()))
				<-other.Done()
				require.ErrorIs(t, hanger.Err(), ua.ErrLocalHangup)
				require.ErrorIs(t, other.Err(), ua.ErrRemoteHangup)
				synctest.Wait()
				require.Zero(t, a.Calls())
				require.Zero(t, b.Calls())
				require.NoError(t, a.Close())
				require.NoError(t, b.Close())
			})
		})
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		gotCancel := make(chan error, 1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress {
				cancel() // the caller gives up once it rings
			}
		}})
		_, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
			_ = ic.Ring()
			<-ctx.Done()
			gotCancel <- context.Cause(ctx)
		}})
		_, err := a.Dial(ctx, "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.ErrorIs(t, err, context.Canceled)
		require.Error(t, <-gotCancel)
		synctest.Wait()
		e, ok := ra.find(ua.EventCallEnded)
		require.True(t, ok)
		var se *ua.StatusError
		require.ErrorAs(t, e.Err, &se)
		require.Equal(t, 487, se.Code())
		e, ok = rb.find(ua.EventCallEnded)
		require.True(t, ok)
		require.ErrorIs(t, e.Err, ua.ErrCallCanceled)
		require.Zero(t, a.Calls())
	})
}

func TestRejectIsStatusError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			_ = ic.Reject(486, "")
		}})
		_, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{})
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 486, se.Response.StatusCode)
	})
}

// TestInlineOnCallLateAnswer: an inline OnCall that returns without
// answering leaves the call waiting, on a goroutine of the UA's, for a
// later answer or for Limits.AnswerTimeout (480).
func TestInlineOnCallLateAnswer(t *testing.T) {
	tests := []struct {
		name    string
		answer  bool
		wantErr int // 0: established
	}{
		{"answered later", true, 0},
		{"never answered", false, 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				pending := make(chan *ua.IncomingCall, 1)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				newUA(t, n, "192.0.2.2:5060", ua.Config{
					InlineOnCall: true,
					OnCall:       func(_ context.Context, ic *ua.IncomingCall) { pending <- ic },
					Limits:       ua.Limits{AnswerTimeout: 10 * time.Second},
				})
				go func() {
					ic := <-pending
					if tt.answer {
						time.Sleep(2 * time.Second)
						_, _ = ic.Answer([]byte(testSDP))
					}
				}()
				c, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
				if tt.wantErr == 0 {
					require.NoError(t, err)
					require.Equal(t, ua.CallEstablished, c.State())
					require.NoError(t, c.Hangup(t.Context()))
					return
				}
				var se *ua.StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.wantErr, se.Code())
			})
		})
	}
}
