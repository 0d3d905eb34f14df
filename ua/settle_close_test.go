package ua_test

import (
	"bytes"
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// sentTracer counts the messages a UA sends that start with prefix.
type sentTracer struct {
	prefix string
	n      atomic.Int32
}

func (s *sentTracer) Trace(ev transport.TraceEvent) {
	if ev.Direction == transport.Out && bytes.HasPrefix(ev.Data, []byte(s.prefix)) {
		s.n.Add(1)
	}
}

// cut drops every datagram from one address to another until heal.
func cut(n *memnet.Network, from, to string) {
	n.SetLink(netip.MustParsePrefix(from+"/32"), netip.MustParsePrefix(to+"/32"), memnet.Conditions{Loss: 1})
}

// waitErr receives from ch, failing the test if nothing comes within a
// (virtual) hour.
func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(time.Hour):
		t.Fatal("no result within an hour")
		return nil
	}
}

// TestCloseLetsByeFinish is examples/dial's sequence: hang up, and close
// the UA as soon as the call is Done. The first copies of the BYE are lost:
// Close waits for its retransmission to be answered, and the callee's call
// has ended before Close returns.
func TestCloseLetsByeFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		byes := &sentTracer{prefix: "BYE "}
		a, _, out, in, ra, _ := established(t, n, ua.Config{Transport: ua.TransportConfig{Tracer: byes}}, ua.Config{})
		cut(n, "192.0.2.1", "192.0.2.2")
		hung := make(chan error, 1)
		start := time.Now()
		go func() { hung <- out.Hangup(context.Background()) }()
		<-out.Done()
		require.Equal(t, ua.CallEnded, out.State(), "ended locally at once")
		require.Zero(t, a.Calls())
		time.AfterFunc(time.Second, n.ClearLinks) // copies at 0 and 0.5 s lost

		require.NoError(t, a.Close())
		require.Equal(t, 1500*time.Millisecond, time.Since(start), "Close returned when the copy sent at 1.5 s was answered")
		// The callee answers the BYE before its call ends (so that a host
		// closing its UA at Done cannot cut the 200 off): let it finish.
		synctest.Wait()
		require.Equal(t, ua.CallEnded, in.State(), "the callee got the BYE and answered it")
		require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)
		require.EqualValues(t, 3, byes.n.Load(), "BYE sent at 0, 0.5 and 1.5 s")
		require.NoError(t, waitErr(t, hung))
		e, ok := ra.find(ua.EventCallEnded)
		require.True(t, ok)
		require.Equal(t, ua.ByeAnswered, e.Bye)
		require.Equal(t, 200, e.Response.StatusCode)
		require.ErrorIs(t, e.Err, ua.ErrLocalHangup)
	})
}

// TestCloseBoundsUnansweredBye: a BYE that never gets an answer holds
// Close for Limits.CloseTimeout, no longer; the call then reports
// ByeNotWaited.
func TestCloseBoundsUnansweredBye(t *testing.T) {
	tests := []struct {
		name  string
		limit time.Duration
		want  time.Duration
	}{
		{"default", 0, ua.DefaultCloseTimeout},
		{"configured", 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				byes := &sentTracer{prefix: "BYE "}
				a, _, out, in, ra, _ := established(t, n,
					ua.Config{Transport: ua.TransportConfig{Tracer: byes}, Limits: ua.Limits{CloseTimeout: tt.limit}}, ua.Config{})
				cut(n, "192.0.2.1", "192.0.2.2")
				hung := make(chan error, 1)
				go func() { hung <- out.Hangup(context.Background()) }()
				<-out.Done()
				start := time.Now()
				require.NoError(t, a.Close())
				require.Equal(t, tt.want, time.Since(start))
				require.ErrorIs(t, waitErr(t, hung), transaction.ErrClosed)
				require.Equal(t, ua.CallEstablished, in.State(), "no BYE arrived")
				require.GreaterOrEqual(t, byes.n.Load(), int32(3), "retransmitted until Close gave up")
				e, ok := ra.find(ua.EventCallEnded)
				require.True(t, ok)
				require.Equal(t, ua.ByeNotWaited, e.Bye)
				require.Nil(t, e.Response)
			})
		})
	}
}

// TestHangupOutcome: Hangup returns on the BYE's final response, on Timer
// F, or when its context ends, and the call's EventCallEnded says which;
// the call ends locally at once in every case, and the BYE's transaction
// runs on after Hangup stopped waiting.
func TestHangupOutcome(t *testing.T) {
	tests := []struct {
		name    string
		healAt  time.Duration // the BYE's path is cut until then (0: not cut; <0: for good)
		ctx     time.Duration // Hangup's context (0: none)
		wantErr error
		want    ua.ByeOutcome
		took    time.Duration
	}{
		{"answered", 0, 0, nil, ua.ByeAnswered, 0},
		{"answered after retransmissions", time.Second, 0, nil, ua.ByeAnswered, 1500 * time.Millisecond},
		{"Timer F", -1, 0, transaction.ErrTimeout, ua.ByeTimedOut, 32 * time.Second},
		{"context ends", 3 * time.Second, 2 * time.Second, context.DeadlineExceeded, ua.ByeNotWaited, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				_, _, out, in, ra, _ := established(t, n, ua.Config{}, ua.Config{})
				if tt.healAt != 0 {
					cut(n, "192.0.2.1", "192.0.2.2")
				}
				if tt.healAt > 0 {
					time.AfterFunc(tt.healAt, n.ClearLinks)
				}
				ctx := context.Background()
				if tt.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctx)
					defer cancel()
				}
				start := time.Now()
				hung := make(chan error, 1)
				go func() { hung <- out.Hangup(ctx) }()
				<-out.Done()
				if tt.took > 0 {
					_, reported := ra.find(ua.EventCallEnded)
					require.False(t, reported, "the end is reported with the BYE's outcome")
				}
				err := waitErr(t, hung)
				require.Equal(t, tt.took, time.Since(start))
				if tt.wantErr == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tt.wantErr)
				}
				e, ok := ra.find(ua.EventCallEnded)
				require.True(t, ok)
				require.Equal(t, tt.want, e.Bye)
				require.ErrorIs(t, e.Err, ua.ErrLocalHangup)
				require.Equal(t, tt.want == ua.ByeAnswered, e.Response != nil)
				require.Contains(t, e.String(), "bye="+tt.want.String())

				if tt.healAt > 0 {
					// The BYE's transaction went on after Hangup
					// returned: its copy at 3.5 s reaches the callee.
					select {
					case <-in.Done():
					case <-time.After(time.Minute):
						t.Fatal("the callee never got the BYE")
					}
					require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)
				}
				if tt.healAt < 0 {
					require.Equal(t, ua.CallEstablished, in.State())
					n.ClearLinks()
					require.NoError(t, in.Hangup(t.Context()))
				}
			})
		})
	}
}

// inFlightCases are the two fates of a request in flight at Close whose
// first copies (0 and 0.5 s) are lost: its path heals after a second, or
// never.
var inFlightCases = []struct {
	name   string
	healed bool
	took   time.Duration // from the first copy to Close's return
}{
	{"answered at the third copy", true, 1500 * time.Millisecond},
	{"never answered", false, ua.DefaultCloseTimeout},
}

// TestCloseLetsCancelFinish: a Dial given up while ringing sends CANCEL,
// whose first copies are lost; Close returns once the CANCEL reached the
// callee and the INVITE got its 487, or at Limits.CloseTimeout.
func TestCloseLetsCancelFinish(t *testing.T) {
	for _, tt := range inFlightCases {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				cancels := &sentTracer{prefix: "CANCEL "}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Tracer: cancels}, OnEvent: func(e ua.Event) {
					if e.Kind == ua.EventCallProgress {
						cut(n, "192.0.2.1", "192.0.2.2")
						cancel() // the caller gives up once it rings
					}
				}})
				_, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
					_ = ic.Ring()
					<-ctx.Done()
				}})
				_, err := a.Dial(ctx, "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.ErrorIs(t, err, context.Canceled)
				start := time.Now()
				if tt.healed {
					time.AfterFunc(time.Second, n.ClearLinks)
				}
				require.NoError(t, a.Close())
				require.Equal(t, tt.took, time.Since(start))
				if !tt.healed {
					synctest.Wait()
					_, ok := rb.find(ua.EventCallEnded)
					require.False(t, ok, "no CANCEL reached the callee")
					require.GreaterOrEqual(t, cancels.n.Load(), int32(4), "CANCEL sent at 0, 0.5, 1.5 and 3.5 s")
					return
				}
				require.EqualValues(t, 3, cancels.n.Load(), "CANCEL sent at 0, 0.5 and 1.5 s")
				e, ok := ra.find(ua.EventCallEnded)
				require.True(t, ok, "the INVITE got its final response before Close returned")
				var se *ua.StatusError
				require.ErrorAs(t, e.Err, &se)
				require.Equal(t, 487, se.Code(), "the callee answered the CANCEL")
				synctest.Wait()
				e, ok = rb.find(ua.EventCallEnded)
				require.True(t, ok)
				require.ErrorIs(t, e.Err, ua.ErrCallCanceled)
			})
		})
	}
}

// TestCloseLetsUnregisterFinish: an un-REGISTER whose Unregister stopped
// waiting (its context ended while every copy was lost) is still
// retransmitted, and Close returns once the registrar has answered it, or
// at Limits.CloseTimeout.
func TestCloseLetsUnregisterFinish(t *testing.T) {
	for _, tt := range inFlightCases {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 3600, 0)
				regs := &sentTracer{prefix: "REGISTER "}
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Tracer: regs}, Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
				line := u.Lines()[0]
				require.NoError(t, line.Register(t.Context()))
				before, sentBefore := len(reg.seen()), regs.n.Load()

				cut(n, "192.0.2.1", "192.0.2.9")
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				require.ErrorIs(t, line.Unregister(ctx), context.DeadlineExceeded)
				require.Len(t, reg.seen(), before, "nothing got through yet")
				if tt.healed {
					n.ClearLinks()
				}
				require.NoError(t, u.Close())
				want := tt.took // from the first copy, sent at start
				if !tt.healed {
					want += time.Second // Close started after Unregister gave up
				}
				require.Equal(t, want, time.Since(start))
				seen := reg.seen()
				if !tt.healed {
					require.Len(t, seen, before)
					require.GreaterOrEqual(t, regs.n.Load()-sentBefore, int32(4), "sent at 0, 0.5, 1.5 and 3.5 s")
					return
				}
				require.Greater(t, len(seen), before)
				require.Zero(t, seen[len(seen)-1].expires, "the binding is removed")
			})
		})
	}
}

// TestShutdownWaitsPastCloseTimeout: Shutdown waits for the BYE as long as
// its context allows, beyond Limits.CloseTimeout, and says when the
// context cut it short.
func TestShutdownWaitsPastCloseTimeout(t *testing.T) {
	tests := []struct {
		name    string
		healAt  time.Duration
		ctx     time.Duration
		wantErr error
		took    time.Duration
	}{
		{"answered at 7.5 s", 6 * time.Second, 20 * time.Second, nil, 7500 * time.Millisecond},
		{"context ends first", 0, 10 * time.Second, context.DeadlineExceeded, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				a, _, out, in, _, _ := established(t, n, ua.Config{}, ua.Config{})
				cut(n, "192.0.2.1", "192.0.2.2")
				if tt.healAt > 0 {
					time.AfterFunc(tt.healAt, n.ClearLinks)
				}
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
				defer cancel()
				require.ErrorIs(t, out.Hangup(ctx), context.DeadlineExceeded)
				sctx, scancel := context.WithDeadline(t.Context(), start.Add(tt.ctx))
				defer scancel()
				err := a.Shutdown(sctx)
				if tt.wantErr == nil {
					require.NoError(t, err)
					synctest.Wait() // the callee ends its call after answering the BYE
					require.Equal(t, ua.CallEnded, in.State())
				} else {
					require.ErrorIs(t, err, tt.wantErr)
					require.Equal(t, ua.CallEstablished, in.State())
				}
				require.Equal(t, tt.took, time.Since(start))
			})
		})
	}
}
