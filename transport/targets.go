package transport

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// The ordered target list of one request and the memory of dead targets
// (RFC 3263 §4.3): a client tries the targets a Resolver gave in order,
// moving to the next when one fails (a transport error, a timeout, a 503),
// and skips for a while the targets that failed. The ua and the proxy
// both send through them.

// Defaults of DeadTargetsConfig.
const (
	// DefaultDeadTime is how long a target that failed is skipped when
	// its failure gave no time of its own (a 503's Retry-After does).
	DefaultDeadTime = 30 * time.Second
	// DefaultMaxDeadTargets bounds the targets remembered as dead.
	DefaultMaxDeadTargets = 1024
)

// DeadTargetsConfig configures a DeadTargets. The zero value takes the
// defaults above.
type DeadTargetsConfig struct {
	// DeadTime is how long a failed target is skipped unless the failure
	// says otherwise (MarkDead's for). Zero: DefaultDeadTime.
	DeadTime time.Duration
	// MaxTargets bounds the targets remembered; when full, the mark that
	// ends soonest is forgotten first. Zero: DefaultMaxDeadTargets.
	MaxTargets int
}

// DeadTargets remembers the targets that failed and until when to skip
// them. One is shared by everything that sends from a host (every line
// and call of a UA), so that the second request after a failure does not
// wait for the dead target again. A nil *DeadTargets remembers nothing.
// It is safe for concurrent use; marks expire when read, so it needs no
// timer and nothing to close.
type DeadTargets struct {
	deadTime time.Duration
	max      int

	mu sync.Mutex
	m  map[targetKey]deadMark
}

// targetKey identifies a target by where it is, not by its server name.
type targetKey struct {
	network Network
	addr    netip.AddrPort
}

func keyOf(t Target) targetKey { return targetKey{t.Network, t.Addr} }

// deadMark is when a target failed and until when it is skipped.
type deadMark struct {
	failed, until time.Time
}

// NewDeadTargets returns an empty memory with cfg's settings.
func NewDeadTargets(cfg DeadTargetsConfig) *DeadTargets {
	d := &DeadTargets{deadTime: cfg.DeadTime, max: cfg.MaxTargets}
	if d.deadTime <= 0 {
		d.deadTime = DefaultDeadTime
	}
	if d.max <= 0 {
		d.max = DefaultMaxDeadTargets
	}
	return d
}

// DeadTime is how long a failure without a time of its own marks a target
// dead.
func (d *DeadTargets) DeadTime() time.Duration {
	if d == nil {
		return 0
	}
	return d.deadTime
}

// MarkDead records that t failed at now and is to be skipped for dur
// (DeadTime when dur is zero or negative).
func (d *DeadTargets) MarkDead(t Target, now time.Time, dur time.Duration) {
	if d == nil {
		return
	}
	if dur <= 0 {
		dur = d.deadTime
	}
	k := keyOf(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[targetKey]deadMark)
	}
	if _, ok := d.m[k]; !ok && len(d.m) >= d.max {
		d.evictLocked(now)
	}
	d.m[k] = deadMark{failed: now, until: now.Add(dur)}
}

// evictLocked forgets expired marks, and the one that ends soonest if
// none has expired.
func (d *DeadTargets) evictLocked(now time.Time) {
	evictExpiring(d.m, now, d.max, func(m deadMark) time.Time { return m.until })
}

// MarkAlive forgets that t failed: it answered.
func (d *DeadTargets) MarkAlive(t Target) {
	if d == nil {
		return
	}
	k := keyOf(t)
	d.mu.Lock()
	delete(d.m, k)
	d.mu.Unlock()
}

// Dead reports whether t is to be skipped at now, and since when it is
// marked.
func (d *DeadTargets) Dead(t Target, now time.Time) (bool, time.Time) {
	if d == nil {
		return false, time.Time{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.m[keyOf(t)]
	if !ok {
		return false, time.Time{}
	}
	if !now.Before(m.until) {
		delete(d.m, keyOf(t))
		return false, time.Time{}
	}
	return true, m.failed
}

// Until returns when t's mark ends, or the zero time when it is not dead
// at now.
func (d *DeadTargets) Until(t Target, now time.Time) time.Time {
	if d == nil {
		return time.Time{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.m[keyOf(t)]
	if !ok || !now.Before(m.until) {
		return time.Time{}
	}
	return m.until
}

// PlanEntry is one target of a TargetPlan and the hop it belongs to: the
// index of the list it was added with (a primary proxy's targets are hop
// 0, an alternate's hop 1).
type PlanEntry struct {
	Target Target
	Hop    int
}

// TargetPlan is the order in which one request tries its targets (RFC
// 3263 §4.3): the lists added, in order, without the targets the
// DeadTargets skips; when every target is dead, all of them from the
// least recently failed. It records what each attempt gave, for the
// error when none succeeds. A TargetPlan is used by one goroutine.
type TargetPlan struct {
	// Name is what was resolved, for the error ("example.test").
	Name string

	dead     *DeadTargets
	entries  []PlanEntry
	next     int
	ordered  bool
	attempts []TargetAttempt
}

// NewPlan returns a plan over the targets of name (hop 0), with the dead
// marks of d (nil: none).
func (d *DeadTargets) NewPlan(name string, targets []Target) *TargetPlan {
	p := &TargetPlan{Name: name, dead: d}
	p.Add(targets, 0)
	return p
}

// Add appends the targets of another hop, tried after those already in
// the plan. It must be called before Next.
func (p *TargetPlan) Add(targets []Target, hop int) {
	for _, t := range targets {
		p.entries = append(p.entries, PlanEntry{Target: t, Hop: hop})
	}
}

// order applies the dead marks once, when the first target is asked for.
func (p *TargetPlan) order(now time.Time) {
	p.ordered = true
	if p.dead == nil || len(p.entries) == 0 {
		return
	}
	type deadEntry struct {
		e      PlanEntry
		failed time.Time
	}
	var deadOnes []deadEntry
	live := p.entries[:0:0]
	for _, e := range p.entries {
		if dead, failed := p.dead.Dead(e.Target, now); dead {
			deadOnes = append(deadOnes, deadEntry{e, failed})
			continue
		}
		live = append(live, e)
	}
	if len(deadOnes) == 0 {
		return
	}
	if len(live) > 0 {
		p.entries = live
		return
	}
	// Every target is dead: try them anyway, the least recently failed
	// first (it is the likeliest to be back).
	slices.SortStableFunc(deadOnes, func(a, b deadEntry) int { return a.failed.Compare(b.failed) })
	p.entries = p.entries[:0]
	for _, de := range deadOnes {
		p.entries = append(p.entries, de.e)
	}
}

// Prefer moves t to the front of the targets not tried yet, when it is
// one of them and not dead at now: the server a client works with keeps
// its requests (a registration's refreshes, the request that answers a
// digest challenge) even where RFC 2782's weighted order would draw
// another of the same priority. It does nothing once Next has been
// called.
func (p *TargetPlan) Prefer(t Target, now time.Time) {
	if p.next > 0 {
		return
	}
	if !p.ordered {
		p.order(now)
	}
	k := keyOf(t)
	for i, e := range p.entries {
		if keyOf(e.Target) != k {
			continue
		}
		if dead, _ := p.dead.Dead(e.Target, now); dead {
			return
		}
		copy(p.entries[1:i+1], p.entries[:i])
		p.entries[0] = e
		return
	}
}

// Next returns the next target to try, or false when none is left.
func (p *TargetPlan) Next(now time.Time) (PlanEntry, bool) {
	if !p.ordered {
		p.order(now)
	}
	if p.next >= len(p.entries) {
		return PlanEntry{}, false
	}
	e := p.entries[p.next]
	p.next++
	return e, true
}

// Remaining is the number of targets left after the one Next returned.
func (p *TargetPlan) Remaining() int {
	if !p.ordered {
		return len(p.entries)
	}
	return len(p.entries) - p.next
}

// Entries returns the targets in the order the plan tries them.
func (p *TargetPlan) Entries(now time.Time) []PlanEntry {
	if !p.ordered {
		p.order(now)
	}
	return p.entries
}

// Fail records a failed attempt and marks its target dead at now, for
// a.RetryAfter when set, else for the DeadTargets' DeadTime.
func (p *TargetPlan) Fail(a TargetAttempt, now time.Time) {
	p.attempts = append(p.attempts, a)
	p.dead.MarkDead(a.Target, now, a.RetryAfter)
}

// Succeed records that t answered: its dead mark, if any, goes.
func (p *TargetPlan) Succeed(t Target) { p.dead.MarkAlive(t) }

// Attempts returns the failed attempts, in order.
func (p *TargetPlan) Attempts() []TargetAttempt { return p.attempts }

// Err is the error of a plan whose every attempt failed: the one
// attempt's error when there was one target, else a *FailoverError
// naming them all. Nil when nothing failed.
func (p *TargetPlan) Err() error {
	switch len(p.attempts) {
	case 0:
		return nil
	case 1:
		if p.attempts[0].Err != nil {
			return p.attempts[0].Err
		}
	}
	return &FailoverError{Name: p.Name, Attempts: slices.Clone(p.attempts)}
}

// ErrAllTargetsFailed is matched by every *FailoverError: each target of
// a request was tried and none took it.
var ErrAllTargetsFailed = errors.New("transport: every target failed")

// TargetAttempt is what one target gave a request that failed over.
type TargetAttempt struct {
	Target Target
	// Status is the final response's status code (503), 0 when none came.
	Status int
	// RetryAfter is the response's Retry-After, or how long the target
	// is skipped.
	RetryAfter time.Duration
	// Timeout is how long the attempt waited for a response that did not
	// come, for a timeout.
	Timeout time.Duration
	// Err is the attempt's error: a timeout, a transport error, or the
	// response as an error.
	Err error
}

// String describes the attempt: "127.0.0.1:5260 UDP timeout after 4s",
// "127.0.0.1:5262 UDP 503 Retry-After 60".
func (a TargetAttempt) String() string {
	var b strings.Builder
	b.WriteString(a.Target.Addr.String())
	b.WriteByte(' ')
	b.WriteString(a.Target.Network.ViaTransport())
	switch {
	case a.Status != 0:
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(a.Status))
		if a.RetryAfter > 0 {
			b.WriteString(" Retry-After ")
			b.WriteString(strconv.FormatInt(int64(a.RetryAfter/time.Second), 10))
		}
	case a.Timeout > 0:
		b.WriteString(" timeout after ")
		b.WriteString(a.Timeout.String())
	case a.Err != nil:
		b.WriteString(": ")
		b.WriteString(a.Err.Error())
	}
	return b.String()
}

// FailoverError reports a request that no target took: every target of
// Name was tried, and Attempts says what each gave, in order. It matches
// ErrAllTargetsFailed, and through Unwrap each attempt's error
// (errors.Is(err, transaction.ErrTimeout), errors.As to the response's
// error).
type FailoverError struct {
	Name     string
	Attempts []TargetAttempt
}

// Error reads "no response from any of 3 targets for example.test:
// 127.0.0.1:5260 UDP timeout after 4s; 127.0.0.1:5262 UDP 503 Retry-After
// 60; …".
func (e *FailoverError) Error() string {
	var b strings.Builder
	b.WriteString("no response from any of ")
	b.WriteString(strconv.Itoa(len(e.Attempts)))
	b.WriteString(" targets for ")
	b.WriteString(e.Name)
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// Is reports whether target is ErrAllTargetsFailed.
func (e *FailoverError) Is(target error) bool { return target == ErrAllTargetsFailed }

// Unwrap returns the attempts' errors.
func (e *FailoverError) Unwrap() []error {
	out := make([]error, 0, len(e.Attempts))
	for _, a := range e.Attempts {
		if a.Err != nil {
			out = append(out, a.Err)
		}
	}
	return out
}

// NumericResolver is implemented by the resolvers of this package: the
// target of a URI whose host (or maddr) is an IP address, which needs no
// DNS, without allocating (RFC 3263 §4.1, §4.2: the transport parameter,
// else n, else UDP, or TLS for sips; the port, else the transport's
// default). It gives what Resolve gives for the URI with transport=n
// added when it has none. A client takes this way first and calls
// Resolve only when ok is false.
type NumericResolver interface {
	ResolveNumeric(u sip.URI, n Network) (t Target, ok bool)
}

// ResolveNumeric implements NumericResolver.
func (r *DNSResolver) ResolveNumeric(u sip.URI, n Network) (Target, bool) {
	return resolveNumeric(u, n, r.networks)
}

// ResolveNumeric implements NumericResolver.
func (StaticResolver) ResolveNumeric(u sip.URI, n Network) (Target, bool) {
	return resolveNumeric(u, n, staticNetworks[:])
}

// staticNetworks are the networks StaticResolver resolves numeric hosts
// for.
var staticNetworks = [...]Network{UDP, TCP, TLS}

func resolveNumeric(u sip.URI, n Network, networks []Network) (Target, bool) {
	p, err := resolvePlanFor(u)
	if err != nil || !p.ip.IsValid() {
		return Target{}, false
	}
	if p.network == "" && n != "" {
		// As resolvePlanFor reads a transport parameter.
		switch {
		case !p.secure:
			p.network = n
		case n == TCP:
			p.network = TLS
		case n == WS:
			p.network = WSS
		case n == UDP:
			return Target{}, false // Resolve's error
		default:
			p.network = n
		}
	}
	return p.numericTarget(networks), true
}
