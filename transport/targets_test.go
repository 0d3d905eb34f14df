package transport_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

func udpTarget(s string) transport.Target {
	return transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort(s)}
}

var (
	tA = udpTarget("127.0.0.1:5260")
	tB = udpTarget("127.0.0.1:5262")
	tC = udpTarget("127.0.0.1:5264")
)

// planOrder drains a plan at now.
func planOrder(p *transport.TargetPlan, now time.Time) []transport.Target {
	var out []transport.Target
	for {
		e, ok := p.Next(now)
		if !ok {
			return out
		}
		out = append(out, e.Target)
	}
}

// A dead mark skips its target for the DeadTime, or for the time the
// failure gave (a 503's Retry-After), and expires by itself; a target
// marked alive is tried again at once.
func TestDeadTargetsExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cfg     transport.DeadTargetsConfig
		dur     time.Duration // MarkDead's
		deadFor time.Duration // expected
	}{
		{"default", transport.DeadTargetsConfig{}, 0, transport.DefaultDeadTime},
		{"configured", transport.DeadTargetsConfig{DeadTime: 5 * time.Second}, 0, 5 * time.Second},
		{"retry-after", transport.DeadTargetsConfig{}, 60 * time.Second, 60 * time.Second},
		{"retry-after shorter", transport.DeadTargetsConfig{}, 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := transport.NewDeadTargets(tt.cfg)
			d.MarkDead(tA, t0, tt.dur)
			dead, since := d.Dead(tA, t0.Add(tt.deadFor-time.Millisecond))
			require.True(t, dead, "dead just before the end")
			require.Equal(t, t0, since)
			require.Equal(t, t0.Add(tt.deadFor), d.Until(tA, t0))
			dead, _ = d.Dead(tA, t0.Add(tt.deadFor))
			require.False(t, dead, "alive at the end")
			dead, _ = d.Dead(tB, t0)
			require.False(t, dead, "another target is not dead")

			d.MarkDead(tA, t0, tt.dur)
			d.MarkAlive(tA)
			dead, _ = d.Dead(tA, t0)
			require.False(t, dead, "marked alive")
		})
	}
}

// The memory is keyed by network and address (not the TLS server name),
// is bounded, and a nil memory remembers nothing.
func TestDeadTargetsKeysAndBound(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := transport.NewDeadTargets(transport.DeadTargetsConfig{MaxTargets: 2})
	named := tA
	named.ServerName = "example.test"
	d.MarkDead(named, t0, 0)
	dead, _ := d.Dead(tA, t0)
	require.True(t, dead, "the same address and network, another server name")
	tcp := tA
	tcp.Network = transport.TCP
	dead, _ = d.Dead(tcp, t0)
	require.False(t, dead, "TCP to the same address is another target")

	d.MarkDead(tB, t0, time.Second) // ends soonest
	d.MarkDead(tC, t0, 0)           // full: tB goes
	deadB, _ := d.Dead(tB, t0)
	deadA, _ := d.Dead(tA, t0)
	deadC, _ := d.Dead(tC, t0)
	require.Equal(t, []bool{true, false, true}, []bool{deadA, deadB, deadC})

	var none *transport.DeadTargets
	none.MarkDead(tA, t0, 0)
	dead, _ = none.Dead(tA, t0)
	require.False(t, dead)
	require.Equal(t, []transport.Target{tA, tB}, planOrder(none.NewPlan("x", []transport.Target{tA, tB}), t0))
}

// A plan tries its targets in order without the dead ones; when every
// target is dead it tries them all, the least recently failed first.
func TestTargetPlanOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := []transport.Target{tA, tB, tC}
	tests := []struct {
		name string
		dead map[transport.Target]time.Duration // failed at t0+offset
		want []transport.Target
	}{
		{"none dead", nil, all},
		{"first dead", map[transport.Target]time.Duration{tA: 0}, []transport.Target{tB, tC}},
		{"two dead", map[transport.Target]time.Duration{tA: 0, tC: 0}, []transport.Target{tB}},
		{"all dead", map[transport.Target]time.Duration{tA: 2 * time.Second, tB: 0, tC: time.Second},
			[]transport.Target{tB, tC, tA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := transport.NewDeadTargets(transport.DeadTargetsConfig{})
			for tg, off := range tt.dead {
				d.MarkDead(tg, t0.Add(off), 0)
			}
			now := t0.Add(3 * time.Second)
			p := d.NewPlan("example.test", all)
			require.Equal(t, len(all), p.Remaining(), "before the first Next: every target")
			require.Equal(t, tt.want, planOrder(p, now))
			require.Zero(t, p.Remaining())
			require.NoError(t, p.Err(), "nothing failed")
		})
	}
	t.Run("hops", func(t *testing.T) {
		p := transport.NewDeadTargets(transport.DeadTargetsConfig{}).NewPlan("example.test", []transport.Target{tA})
		p.Add([]transport.Target{tB}, 1)
		e1, _ := p.Next(t0)
		e2, _ := p.Next(t0)
		require.Equal(t, []transport.PlanEntry{{Target: tA, Hop: 0}, {Target: tB, Hop: 1}}, []transport.PlanEntry{e1, e2})
	})
}

// Failed attempts mark their targets dead (for Retry-After when given),
// and the plan's error names every target tried and what it gave.
func TestTargetPlanFailures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	errTimeout := errors.New("no response")
	errStatus := errors.New("503 Service Unavailable")
	d := transport.NewDeadTargets(transport.DeadTargetsConfig{})
	p := d.NewPlan("example.test", []transport.Target{tA, tB, tC})
	a, _ := p.Next(t0)
	p.Fail(transport.TargetAttempt{Target: a.Target, Timeout: 4 * time.Second, Err: errTimeout}, t0)
	b, _ := p.Next(t0)
	p.Fail(transport.TargetAttempt{Target: b.Target, Status: 503, RetryAfter: 60 * time.Second, Err: errStatus}, t0)
	c, _ := p.Next(t0)
	p.Fail(transport.TargetAttempt{Target: c.Target, Err: errors.New("connection refused")}, t0)

	require.Equal(t, t0.Add(transport.DefaultDeadTime), d.Until(tA, t0))
	require.Equal(t, t0.Add(60*time.Second), d.Until(tB, t0), "a 503's Retry-After")
	err := p.Err()
	require.ErrorIs(t, err, transport.ErrAllTargetsFailed)
	require.ErrorIs(t, err, errTimeout)
	require.ErrorIs(t, err, errStatus)
	var fe *transport.FailoverError
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe.Attempts, 3)
	require.Equal(t, "no response from any of 3 targets for example.test: "+
		"127.0.0.1:5260 UDP timeout after 4s; 127.0.0.1:5262 UDP 503 Retry-After 60; "+
		"127.0.0.1:5264 UDP: connection refused", err.Error())

	// The next request skips them all but, all being dead, tries them
	// from the least recently failed.
	p2 := d.NewPlan("example.test", []transport.Target{tA, tB, tC})
	require.Len(t, planOrder(p2, t0.Add(time.Second)), 3)
	// One target: its own error, not a list.
	p3 := d.NewPlan("example.test", []transport.Target{tA})
	e, _ := p3.Next(t0)
	p3.Fail(transport.TargetAttempt{Target: e.Target, Err: errTimeout}, t0)
	require.Same(t, errTimeout, p3.Err())
}

// Ordering a plan with no dead target allocates nothing beyond the plan.
func BenchmarkTargetPlanNoneDead(b *testing.B) {
	d := transport.NewDeadTargets(transport.DeadTargetsConfig{})
	targets := []transport.Target{tA}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		p := d.NewPlan("127.0.0.1", targets)
		if _, ok := p.Next(now); !ok {
			b.Fatal("no target")
		}
	}
}

// Prefer puts the server a client works with first, unless it is dead or
// not in the plan, and only before the first Next.
func TestTargetPlanPrefer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := []transport.Target{tA, tB, tC}
	d := transport.NewDeadTargets(transport.DeadTargetsConfig{})
	p := d.NewPlan("x", all)
	p.Prefer(tC, t0)
	require.Equal(t, []transport.Target{tC, tA, tB}, planOrder(p, t0))

	p = d.NewPlan("x", all)
	p.Prefer(udpTarget("127.0.0.1:9999"), t0)
	require.Equal(t, all, planOrder(p, t0), "not in the plan")

	d.MarkDead(tC, t0, 0)
	p = d.NewPlan("x", all)
	p.Prefer(tC, t0)
	require.Equal(t, []transport.Target{tA, tB}, planOrder(p, t0), "dead")

	p = d.NewPlan("x", all)
	_, _ = p.Next(t0)
	p.Prefer(tB, t0)
	e, _ := p.Next(t0)
	require.Equal(t, tB, e.Target, "after Next: no change")
}

// ResolveNumeric gives what Resolve gives for the URI with the network as
// transport parameter, and nothing for a name.
func TestResolveNumeric(t *testing.T) {
	dnsR, err := transport.NewDNSResolver(transport.DNSResolverConfig{Servers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	for _, r := range []interface {
		transport.Resolver
		transport.NumericResolver
	}{dnsR, transport.StaticResolver{}} {
		for _, tc := range []struct {
			uri string
			n   transport.Network
		}{
			{"sip:bob@192.0.2.1", ""},
			{"sip:bob@192.0.2.1:5070", ""},
			{"sip:bob@192.0.2.1", transport.TCP},
			{"sip:bob@192.0.2.1", transport.TLS},
			{"sip:bob@192.0.2.1;transport=tcp", transport.UDP},
			{"sips:bob@192.0.2.1", ""},
			{"sips:bob@192.0.2.1", transport.TCP},
			{"sip:bob@[2001:db8::1]:5062", ""},
			{"sip:bob@example.test;maddr=192.0.2.7", ""},
		} {
			u, err := sip.ParseURI(tc.uri)
			require.NoError(t, err)
			got, ok := r.ResolveNumeric(u, tc.n)
			require.True(t, ok, tc.uri)
			withN := u
			if tc.n != "" && !u.Params.Has("transport") {
				withN.Params = u.Params.Set("transport", string(tc.n))
			}
			want, err := r.Resolve(t.Context(), withN)
			require.NoError(t, err, tc.uri)
			require.Equal(t, want, []transport.Target{got}, "%s over %q", tc.uri, tc.n)
		}
		for _, s := range []string{"sip:bob@example.test", "sips:bob@192.0.2.1;transport=udp"} {
			u, err := sip.ParseURI(s)
			require.NoError(t, err)
			_, ok := r.ResolveNumeric(u, "")
			require.False(t, ok, s)
		}
		u, err := sip.ParseURI("sips:bob@192.0.2.1")
		require.NoError(t, err)
		_, ok := r.ResolveNumeric(u, transport.UDP)
		require.False(t, ok, "sips over UDP: Resolve's error")
	}
}
