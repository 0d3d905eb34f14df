package ua

import (
	"context"
	"strconv"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// DefaultDrainRetryAfter is the default of Limits.DrainRetryAfter.
const DefaultDrainRetryAfter = 30 * time.Second

// Drain begins a graceful stop, the way a server behind a load balancer
// (Kamailio's dispatcher, OpenSIPS's load_balancer) leaves the farm: from
// now an initial INVITE, and an OPTIONS or MESSAGE outside a dialog, is
// answered 503 Service Unavailable with a Retry-After
// of Limits.DrainRetryAfter (RFC 3261 §21.5.4), so that the balancer's
// OPTIONS probe marks this instance down and its failover route sends the
// new call elsewhere. Calls in progress go on, in-dialog requests are
// served, lines stay registered and the host may still Dial.
//
// Drain returns once no call is in progress or waiting for the host's
// answer, or with ctx's error when ctx ends first; either way the UA keeps
// draining until Close, which then hangs up what is left and unregisters.
// With a ctx that has ended already, Drain only begins the stop and
// returns at once.
func (u *UA) Drain(ctx context.Context) error {
	u.mu.Lock()
	u.draining = true
	idle := u.idleLocked()
	u.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Draining reports whether Drain has been called.
func (u *UA) Draining() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.draining
}

// busyLocked counts the calls in progress and those waiting for the
// host's answer. u.mu is held.
func (u *UA) busyLocked() int { return int(u.nCalls.Load()) + len(u.incoming) }

// idleLocked returns a channel closed once busyLocked is 0 (already
// closed when it is). u.mu is held.
func (u *UA) idleLocked() <-chan struct{} {
	if u.busyLocked() == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if u.idle == nil {
		u.idle = make(chan struct{})
	}
	return u.idle
}

// noteCallGoneLocked wakes Drain when the last call has ended. u.mu is
// held.
func (u *UA) noteCallGoneLocked() {
	if u.idle != nil && u.busyLocked() == 0 {
		close(u.idle)
		u.idle = nil
	}
}

// drainRefusal is the answer to a request outside a dialog while
// draining, nil when the UA is not draining.
func (u *UA) drainRefusal(req *sip.Request) *sip.Response {
	u.mu.Lock()
	draining := u.draining
	u.mu.Unlock()
	if !draining {
		return nil
	}
	res := sip.NewResponse(req, sip.StatusServiceUnavailable, "Draining")
	res.Set("Retry-After", strconv.Itoa(int(u.cfg.Limits.DrainRetryAfter/time.Second)))
	return res
}
