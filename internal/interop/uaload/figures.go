package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/ua"
)

// counters are the run's outcome: calls that succeeded, failures by
// cause, concurrency and every successful set-up's time.
type counters struct {
	ok atomic.Int64
	// Dial failures: Timer B expired (no final response in 64·T1), a
	// non-2xx final status, anything else (transport error, -call-timeout
	// or the run's -timeout first).
	inviteTimeouts, inviteStatus, inviteOther atomic.Int64
	// Hang-up failures: Timer F expired on the BYE, anything else (a
	// non-2xx final status, ctx first, the call ended otherwise).
	byeTimeouts, byeOther atomic.Int64
	live, maxLive         atomic.Int64

	mu    sync.Mutex
	setup []time.Duration // INVITE sent → 2xx received, one per answered call
	// With -media, the quality of each call that ended well.
	mos                       []float64
	rtpSent, rtpRecv, rtpLost uint64
	rtpLate                   uint64
	rtpSilent                 int // calls that received no RTP
}

// quality records the media quality of a call that ended well.
func (n *counters) quality(q rtp.Quality) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mos = append(n.mos, q.MOS)
	n.rtpSent += q.PacketsSent
	n.rtpRecv += q.PacketsReceived
	n.rtpLost += q.PacketsLost
	n.rtpLate += q.Late
	if q.PacketsReceived == 0 {
		n.rtpSilent++
	}
}

// cause names a failure's kind for -v: "timeout" for a transaction timer
// (Timer B or F), "status" for a non-2xx final response, "other".
func cause(err error) string {
	var se *ua.StatusError
	switch {
	case errors.Is(err, ua.ErrTimeout):
		return "timeout"
	case errors.As(err, &se):
		return "status"
	}
	return "other"
}

// dialFailed counts a failed Dial by its cause.
func (n *counters) dialFailed(err error) {
	switch cause(err) {
	case "timeout":
		n.inviteTimeouts.Add(1)
	case "status":
		n.inviteStatus.Add(1)
	default:
		n.inviteOther.Add(1)
	}
}

// byeFailed counts a failed hang-up by its cause.
func (n *counters) byeFailed(err error) {
	if cause(err) == "timeout" {
		n.byeTimeouts.Add(1)
	} else {
		n.byeOther.Add(1)
	}
}

// answered records a call's set-up time.
func (n *counters) answered(d time.Duration) {
	n.mu.Lock()
	n.setup = append(n.setup, d)
	n.mu.Unlock()
}

// enter counts a call in progress; the returned func counts it out.
func (n *counters) enter() func() {
	live := n.live.Add(1)
	for {
		m := n.maxLive.Load()
		if live <= m || n.maxLive.CompareAndSwap(m, live) {
			break
		}
	}
	return func() { n.live.Add(-1) }
}

// summary is uaload's one summary line (see the package comment).
func (n *counters) summary(cfg config, started int, elapsed time.Duration, st ua.Stats) string {
	n.mu.Lock()
	setup := slices.Clone(n.setup)
	mos := slices.Clone(n.mos)
	media := fmt.Sprintf(" media-calls=%d rtp-silent=%d rtp-sent=%d rtp-received=%d rtp-lost=%d rtp-late=%d",
		len(mos), n.rtpSilent, n.rtpSent, n.rtpRecv, n.rtpLost, n.rtpLate)
	n.mu.Unlock()
	slices.Sort(setup)
	slices.Sort(mos)
	if len(mos) > 0 {
		media += fmt.Sprintf(" mos-min=%.2f mos-p50=%.2f mos-max=%.2f", mos[0], mos[len(mos)/2], mos[len(mos)-1])
	}
	if !cfg.media {
		media = ""
	}
	ok := n.ok.Load()
	dialErrs := n.inviteTimeouts.Load() + n.inviteStatus.Load() + n.inviteOther.Load()
	byeErrs := n.byeTimeouts.Load() + n.byeOther.Load()
	rtx := st.Transactions.RetransmitsSent
	return fmt.Sprintf("summary calls=%d ok=%d failed=%d dial-errors=%d hangup-errors=%d not-started=%d "+
		"elapsed=%s cps=%.1f max-concurrent=%d "+
		"invite-timeouts=%d invite-status=%d invite-other=%d bye-timeouts=%d bye-other=%d "+
		"setup-n=%d setup-p50=%s setup-p99=%s setup-max=%s retransmits=%d retransmits-per-call=%.3f",
		cfg.calls, ok, int64(cfg.calls)-ok, dialErrs, byeErrs, cfg.calls-started,
		elapsed.Round(time.Millisecond), float64(ok)/elapsed.Seconds(), n.maxLive.Load(),
		n.inviteTimeouts.Load(), n.inviteStatus.Load(), n.inviteOther.Load(), n.byeTimeouts.Load(), n.byeOther.Load(),
		len(setup), quantile(setup, 0.50), quantile(setup, 0.99), quantile(setup, 1),
		rtx, float64(rtx)/float64(cfg.calls)) + media
}

// quantile returns the p-quantile (0 < p ≤ 1) of sorted durations by the
// nearest-rank method, to the microsecond; 0 for none.
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(time.Microsecond)
}

// hold waits the call's hold time, or until it ends or ctx does.
func hold(ctx context.Context, c *ua.Call, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Done():
	case <-ctx.Done():
	}
}
