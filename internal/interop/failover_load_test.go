//go:build interop

package interop

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// The figures of issue 13, measured against the servers of
// failover_test.go: how long a new call takes when the primary is dead,
// with and without dead-target memory, and the calls of a load during
// which the primary is killed.
const (
	// foSampleCalls is the number of calls of each figure.
	foSampleCalls = 50
	// foSampleParallel is how many of the calls without memory run at
	// once (each waits FailoverAfter).
	foSampleParallel = 10
	// foLoadRate, foLoadFor and foLoadKillAt are case (e): calls per
	// second, for how long, and when the primary is killed.
	foLoadRate   = 100
	foLoadFor    = 30 * time.Second
	foLoadKillAt = 10 * time.Second
	// foLoadCallTimeout bounds one call of the load (set-up, and
	// hang-up).
	foLoadCallTimeout = 20 * time.Second
)

// durations summarizes set-up times: p50, p99, max.
type durations []time.Duration

func (d durations) summary() (p50, p99, max time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.5), at(0.99), s[len(s)-1]
}

// drainCalls hangs nothing up: it empties bob's channel of answered calls
// until the test ends, so that his OnCall never waits.
func drainCalls(t *testing.T, p *peerUA) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-p.calls:
			case <-done:
				return
			}
		}
	})
	t.Cleanup(func() {
		close(done)
		wg.Wait()
	})
}

// dialTimed places a call from p to bob, hangs it up and returns how long
// the set-up took, and the errors of the set-up and of the hang-up.
func dialTimed(ctx context.Context, p *peerUA) (time.Duration, string, error, error) {
	ctx, cancel := context.WithTimeout(ctx, foLoadCallTimeout)
	defer cancel()
	start := time.Now()
	c, err := p.ua.Dial(ctx, "sip:bob@"+testDomain, ua.DialOptions{SDP: testSDP(9)})
	took := time.Since(start)
	if err != nil {
		return took, "", err, nil
	}
	return took, c.CallID(), nil, c.Hangup(ctx)
}

// TestFailoverKamailioFigures measures a new call's set-up time with the
// primary hung (silent), without dead-target memory (every call waits
// FailoverAfter, the default 4 s) and with it (only the first does), and
// the time to move back once the primary answers again. Every call must
// succeed; the figures are logged.
func TestFailoverKamailioFigures(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), foTestTimeout)
	defer cancel()
	ks, dns := foServers(t, ctx)
	k1 := ks[0]
	bob := bobEverywhere(t, ctx, ks[:]...)
	drainCalls(t, bob)
	alice := func(dead *transport.DeadTargets, probe time.Duration) *peerUA {
		r, err := transport.NewDNSResolver(transport.DNSResolverConfig{Servers: []string{dns.addr()}})
		require.NoError(t, err)
		p, _ := newFailoverUA(t, "alice", ua.Config{Resolver: r, DeadTargets: dead, Lines: []ua.LineConfig{{
			AOR: "sip:alice@" + testDomain, Password: "alicepw", Registrar: "sip:" + testDomain,
			Manual: true, ProbeInterval: probe,
		}}})
		return p
	}

	base := alice(nil, -1)
	var d durations
	for range foSampleCalls {
		took, _, err, herr := dialTimed(ctx, base)
		require.NoError(t, err)
		require.NoError(t, herr)
		d = append(d, took)
	}
	p50, _, mx := d.summary()
	t.Logf("primary alive: %d calls, set-up p50 %v max %v", len(d), p50, mx)

	k1.freeze(t)
	// Without memory: a mark that ends at once.
	noMemory := alice(transport.NewDeadTargets(transport.DeadTargetsConfig{DeadTime: time.Nanosecond}), -1)
	d = nil
	var mu sync.Mutex
	var errs []error
	for range foSampleCalls / foSampleParallel {
		var wg sync.WaitGroup
		for range foSampleParallel {
			wg.Go(func() {
				took, _, err, herr := dialTimed(ctx, noMemory)
				mu.Lock()
				defer mu.Unlock()
				if err = cmp.Or(err, herr); err != nil {
					errs = append(errs, err)
				}
				d = append(d, took)
			})
		}
		wg.Wait()
	}
	require.Empty(t, errs, "calls without dead-target memory failed")
	p50, _, mx = d.summary()
	t.Logf("primary hung, no dead-target memory: %d calls, set-up p50 %v max %v (FailoverAfter %v)", len(d), p50, mx, ua.DefaultFailoverAfter)
	require.GreaterOrEqual(t, p50, ua.DefaultFailoverAfter, "each call waited for the silent primary")

	withMemory := alice(nil, foProbe)
	d = nil
	for range foSampleCalls {
		took, _, err, herr := dialTimed(ctx, withMemory)
		require.NoError(t, err)
		require.NoError(t, herr)
		d = append(d, took)
	}
	p50, _, mx = d.summary()
	t.Logf("primary hung, dead-target memory: %d calls, set-up p50 %v max %v (the first call waits)", len(d), p50, mx)
	require.Less(t, p50, ua.DefaultFailoverAfter, "only the first call waited")

	// Move back: the line registers (at a backup), the primary returns.
	require.NoError(t, withMemory.line().Register(ctx))
	k1.thaw(t)
	back := time.Now()
	ev := waitMove(t, ctx, withMemory)
	for ev.Move.Reason != ua.MoveProbe {
		ev = waitMove(t, ctx, withMemory)
	}
	t.Logf("primary back: the line moved back after %v (probe interval %v)", time.Since(back), foProbe)
}

// TestFailoverKamailioLoad (case e): our UA places foLoadRate calls a
// second for foLoadFor to bob through example.test (DNS: k1 first) while
// the primary is killed at foLoadKillAt. Calls started after the kill all
// succeed; those in flight at k1 when it died cannot (a server that has
// answered 100 Trying is never left, RFC 3263 §4.3 and issue 13 rule 2)
// and are counted. Logged: how many calls took the failover path, and
// their set-up times.
func TestFailoverKamailioLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), foTestTimeout)
	defer cancel()
	ks, dns := foServers(t, ctx)
	k1 := ks[0]
	bob := bobEverywhere(t, ctx, ks[:]...)
	drainCalls(t, bob)
	r, err := transport.NewDNSResolver(transport.DNSResolverConfig{Servers: []string{dns.addr()}})
	require.NoError(t, err)
	alice, hops := newFailoverUA(t, "alice", ua.Config{Resolver: r, Lines: []ua.LineConfig{{
		AOR: "sip:alice@" + testDomain, Password: "alicepw", Registrar: "sip:" + testDomain, Manual: true,
	}}})

	type result struct {
		start        time.Time
		took         time.Duration
		callID       string
		err, hangErr error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		killed  atomic.Int64 // unix nanoseconds of the kill
	)
	start := time.Now()
	tick := time.NewTicker(time.Second / foLoadRate)
	defer tick.Stop()
	// Every tick starts the calls due by then: a late tick (a loaded
	// machine) does not lower the rate.
	started := 0
	for now := range tick.C {
		elapsed := now.Sub(start)
		if elapsed >= foLoadFor || ctx.Err() != nil {
			break
		}
		if killed.Load() == 0 && elapsed >= foLoadKillAt {
			killed.Store(time.Now().UnixNano())
			require.NoError(t, syscall.Kill(-k1.cmd.Process.Pid, syscall.SIGKILL))
		}
		for due := int(elapsed.Seconds()*foLoadRate) + 1; started < due; started++ {
			wg.Go(func() {
				at := time.Now()
				took, id, err, herr := dialTimed(ctx, alice)
				mu.Lock()
				results = append(results, result{start: at, took: took, callID: id, err: err, hangErr: herr})
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	killAt := time.Unix(0, killed.Load())
	var (
		failedBefore, failedAfter, viaFailover, byeLost int
		setup                                           durations
	)
	invites := hops.invitesByCall()
	for _, res := range results {
		if res.hangErr != nil {
			byeLost++ // a call through k1: its BYE's route died with it
		}
		if res.err != nil {
			if res.start.Before(killAt) {
				failedBefore++
			} else {
				failedAfter++
				t.Logf("call started %v after the kill failed: %v", res.start.Sub(killAt), res.err)
			}
			continue
		}
		if byPort := invites[res.callID]; byPort[k1.port] > 0 && len(byPort) > 1 {
			viaFailover++
			setup = append(setup, res.took)
		}
	}
	p50, p99, mx := setup.summary()
	t.Logf("%d calls at %d/s, primary killed at %v: %d not set up (%d started before the kill, in flight at k1), %d hang-ups failed (BYE routed through the dead k1); %d took the failover path: set-up p50 %v p99 %v max %v",
		len(results), foLoadRate, killAt.Sub(start).Round(time.Millisecond), failedBefore+failedAfter, failedBefore, byeLost, viaFailover, p50, p99, mx)
	require.Zero(t, failedAfter, "calls started after the kill failed")
	require.Positive(t, viaFailover, "no call took the failover path")
}
