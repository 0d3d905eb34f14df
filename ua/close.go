package ua

import (
	"context"
	"sync"
)

// Close stops the UA, first letting what it has sent reach its peers. In
// the bound of Limits.CloseTimeout (DefaultCloseTimeout, 5 s), shared by
// all three steps, it waits for:
//
//   - the unregistration of every registered line (REGISTER with
//     Expires: 0), until the registrar's final answer;
//   - the hang-up of every call: BYE for an established call, until its
//     final response; CANCEL for an outgoing call not answered yet, until
//     the INVITE's final response; for an incoming call whose 2xx awaits
//     its ACK, the ACK, then the BYE; an incoming call not answered yet
//     gets 480;
//   - the final response, or the timeout (Timer F), of every other BYE,
//     CANCEL and un-REGISTER already sent: those of Hangup and
//     Line.Unregister calls that returned or still wait, of Dials whose
//     context ended, of calls ended for want of an ACK.
//
// Meanwhile those requests are retransmitted over UDP (T1, then doubling
// up to T2: with the default T1 of 500 ms, 5 s cover the request and three
// retransmissions). Then it stops the layers — a request still unanswered
// is abandoned and its call reports ByeNotWaited, transactions stop
// absorbing retransmissions — and returns once every goroutine of the UA
// has ended. It is idempotent and returns nil; the events (Event.Bye of
// EventCallEnded, Event.Err of EventUnregistered) tell what was cut short.
func (u *UA) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.Limits.CloseTimeout)
	defer cancel()
	_ = u.shutdown(ctx)
	return nil
}

// Shutdown is Close bounded by ctx instead of Limits.CloseTimeout: it waits
// for the same answers for as long as ctx allows (a request that gets none
// settles at Timer F, 64·T1: 32 s with the default T1), then stops the UA
// as Close does. It returns ctx's error when ctx ended before every one of
// them had its outcome, else nil. Once Close or Shutdown has run, further
// calls return at once.
func (u *UA) Shutdown(ctx context.Context) error {
	return u.shutdown(ctx)
}

func (u *UA) shutdown(ctx context.Context) error {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		u.stopping = true
		calls := u.liveCallsLocked()
		u.mu.Unlock()
		u.refusePending() // 480 to incoming calls still waiting for the host

		var wg sync.WaitGroup
		for _, l := range u.lines {
			wg.Go(func() { l.shutdown(ctx) })
		}
		for _, c := range calls {
			wg.Go(func() { _ = c.Hangup(ctx) })
		}
		wg.Go(func() { u.endSubscriptions(ctx) })
		wg.Wait()
		// The BYEs, CANCELs and un-REGISTERs sent before (or by a
		// goroutine of the UA meanwhile) get their outcome too.
		err := u.tx.Settle(ctx, finishing)
		if err == nil {
			err = ctx.Err()
		}
		u.closeErr = err

		u.g.Shut()
		u.stop()
		_ = u.tx.Close()
		_ = u.tp.Close()
		u.g.Wait()
		// Calls still alive (Close cut their hang-up short) end here.
		u.mu.Lock()
		left := u.liveCallsLocked()
		u.mu.Unlock()
		for _, c := range left {
			c.end(ErrClosed)
		}
		u.mediaWG.Wait()
	})
	return u.closeErr
}

// liveCallsLocked returns every call alive: established ones and outgoing
// ones still being set up. Called with u.mu held.
func (u *UA) liveCallsLocked() []*Call {
	calls := make([]*Call, 0, len(u.calls)+len(u.setup))
	for _, c := range u.calls {
		calls = append(calls, c)
	}
	for c := range u.setup {
		calls = append(calls, c)
	}
	return calls
}
