package ua_test

// RFC 3263 §4.3 failover in virtual time over memnet: a request outside a
// dialog goes to the next target on a timeout, a transport error, a 503,
// or FailoverAfter of silence; dead targets are skipped for a while.

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// A REGISTER reaches the second target after what the first gave: at
// once for a 503 or an ICMP-like refusal, after FailoverAfter for
// silence, after Timer F for silence with fast failover off or after a
// provisional; a 500 ends the attempt there.
func TestFailoverRegister(t *testing.T) {
	tests := []struct {
		name     string
		primary  string // "dead", or a foServer mode
		after    time.Duration
		ra       int64
		wantAt   time.Duration // when B gets the REGISTER; -1: never
		wantDead time.Duration // how long A is then skipped
	}{
		{"silent primary", "dead", 0, 0, ua.DefaultFailoverAfter, transport.DefaultDeadTime},
		{"silent primary, FailoverAfter 1s", "dead", time.Second, 0, time.Second, transport.DefaultDeadTime},
		{"fast failover off", "dead", -1, 0, 32 * time.Second, transport.DefaultDeadTime},
		{"503 with Retry-After", "503", 0, 60, 0, 60 * time.Second},
		{"503 without Retry-After", "503", 0, 0, 0, transport.DefaultDeadTime},
		{"500 ends the attempt", "500", 0, 0, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var a *foServer
				var hole *blackhole
				if tt.primary == "dead" {
					hole = newBlackhole(t, n, srvA)
				} else {
					a = newFOServer(t, n, srvA, tt.primary)
					a.ra.Store(tt.ra)
				}
				b := newFOServer(t, n, srvB, "ok")
				dead := transport.NewDeadTargets(transport.DeadTargetsConfig{})
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
					Resolver:    failoverResolver(srvA, srvB),
					DeadTargets: dead,
					Lines:       []ua.LineConfig{foLine(func(lc *ua.LineConfig) { lc.FailoverAfter = tt.after })},
				})
				t0 := time.Now()
				err := u.Lines()[0].Register(t.Context())
				regs := b.got(sip.REGISTER)
				if tt.wantAt < 0 {
					var se *ua.StatusError
					require.ErrorAs(t, err, &se)
					require.Equal(t, 500, se.Code())
					require.Empty(t, regs, "a 500 is not failed over")
					return
				}
				require.NoError(t, err)
				require.Len(t, regs, 1)
				require.Equal(t, tt.wantAt, regs[0].at.Sub(t0))
				var first *sip.Request
				if hole != nil {
					rs := hole.requests(sip.REGISTER)
					require.NotEmpty(t, rs)
					first = rs[0].msg.(*sip.Request)
				} else {
					first = a.got(sip.REGISTER)[0].req
				}
				requireSameRequest(t, first, regs[0].req)
				until := dead.Until(transport.Target{Network: transport.UDP, Addr: parseAP(srvA)}, time.Now())
				require.Equal(t, t0.Add(tt.wantAt).Add(tt.wantDead), until, "A skipped from its failure on")
				srv, ok := u.Lines()[0].Server()
				require.True(t, ok)
				require.Equal(t, parseAP(srvB), srv.Addr)
			})
		})
	}
}

// A target that has answered provisionally is never abandoned: a REGISTER
// that got a 100 Trying waits for Timer F before the next target.
func TestFailoverNotAfterProvisional(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fo := newFOSetup(t)
		hole, u := fo.hole, fo.u
		b := fo.b
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- u.Lines()[0].Register(t.Context()) }()
		time.Sleep(time.Second)
		hole.answer(t, sip.REGISTER, func(r *sip.Request) *sip.Response { return sip.NewResponse(r, sip.StatusTrying, "") })
		err := recv(t, done, time.Minute, "registration")
		require.NoError(t, err)
		regs := b.got(sip.REGISTER)
		require.Len(t, regs, 1)
		require.Equal(t, 32*time.Second, regs[0].at.Sub(t0), "Timer F, not FailoverAfter")
	})
}

// Dead-target memory: after a failover, the next requests of every line
// skip the dead target at once, until its mark expires; then it is tried
// again. When every target is dead, the least recently failed is tried.
func TestFailoverDeadMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fo := newFOSetup(t, foLine(nil), foLine(func(lc *ua.LineConfig) {
			lc.AOR = "sip:bob@example.test"
			lc.ProbeInterval = -1
		}))
		hole, u := fo.hole, fo.u
		b := fo.b
		l1, l2 := u.Lines()[0], u.Lines()[1]
		t0 := time.Now()
		require.NoError(t, l1.Register(t.Context()))
		require.Equal(t, ua.DefaultFailoverAfter, time.Since(t0))

		// The other line, and an OPTIONS, go straight to B.
		t1 := time.Now()
		require.NoError(t, l2.Register(t.Context()))
		_, err := u.Options(t.Context(), "sip:example.test", ua.RequestOptions{Line: l2})
		require.NoError(t, err)
		require.Equal(t, t1, time.Now(), "no wait for the dead target")
		require.Len(t, hole.requests(sip.REGISTER), 4, "A got only the first REGISTER (sent at 0 and again at 0.5, 1.5, 3.5 s)")

		// After the mark's 30 s, A is tried again (and fails over again).
		time.Sleep(transport.DefaultDeadTime)
		nA := len(hole.requests(sip.OPTIONS))
		t2 := time.Now()
		_, err = u.Options(t.Context(), "sip:example.test", ua.RequestOptions{Line: l2})
		require.NoError(t, err)
		require.Equal(t, ua.DefaultFailoverAfter, time.Since(t2))
		require.Greater(t, len(hole.requests(sip.OPTIONS)), nA)
		require.Len(t, b.got(sip.OPTIONS), 2)
	})
}

// When every target fails the error names each, what it was sent over
// and what it gave; it matches the causes.
func TestFailoverAllTargetsFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		newBlackhole(t, n, srvA)
		b := newFOServer(t, n, srvB, "503")
		b.ra.Store(60)
		newBlackhole(t, n, srvC)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
			Resolver: failoverResolver(srvA, srvB, srvC),
			Lines:    []ua.LineConfig{foLine(nil)},
		})
		t0 := time.Now()
		err := u.Lines()[0].Register(t.Context())
		require.Equal(t, ua.DefaultFailoverAfter+32*time.Second, time.Since(t0), "A silent 4 s, B 503, C (the last) Timer F")
		require.ErrorIs(t, err, transport.ErrAllTargetsFailed)
		require.ErrorIs(t, err, ua.ErrTimeout)
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 503, se.Code())
		require.ErrorContains(t, err, "no response from any of 3 targets for example.test: "+
			"192.0.2.10:5060 UDP timeout after 4s; 192.0.2.11:5060 UDP 503 Retry-After 60; 192.0.2.12:5060 UDP timeout after 32s")
		var fe *transport.FailoverError
		require.ErrorAs(t, err, &fe)
		require.Len(t, fe.Attempts, 3)
		require.True(t, errors.Is(u.Lines()[0].Err(), transport.ErrAllTargetsFailed))
	})
}

// An INVITE fails over like any request: a silent target is left after
// FailoverAfter (a new transaction, same Call-ID, From tag and CSeq), a
// 503 at once; a ringing target is never left.
func TestFailoverInvite(t *testing.T) {
	tests := []struct {
		name    string
		primary string // "dead", or a foServer mode
		wantAt  time.Duration
	}{
		{"silent primary", "dead", ua.DefaultFailoverAfter},
		{"503", "503", 0},
		{"ringing primary is kept", "ring", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var first func() *sip.Request
				if tt.primary == "dead" {
					hole := newBlackhole(t, n, srvA)
					first = func() *sip.Request { return hole.requests(sip.INVITE)[0].msg.(*sip.Request) }
				} else {
					a := newFOServer(t, n, srvA, tt.primary)
					first = func() *sip.Request { return a.got(sip.INVITE)[0].req }
				}
				b := newFOServer(t, n, srvB, "ok")
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
					Resolver: failoverResolver(srvA, srvB),
					Lines:    []ua.LineConfig{foLine(nil)},
				})
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				c, err := u.Dial(ctx, "sip:bob@example.test", ua.DialOptions{})
				if tt.wantAt < 0 {
					require.ErrorIs(t, err, context.DeadlineExceeded)
					require.Equal(t, time.Minute, time.Since(t0), "the ring timeout, no failover")
					require.Empty(t, b.got(sip.INVITE))
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.wantAt, time.Since(t0))
				invs := b.got(sip.INVITE)
				require.Len(t, invs, 1)
				requireSameRequest(t, first(), invs[0].req)
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}

// The caller's CANCEL races the failover: canceled before the primary's
// FailoverAfter, the INVITE never reaches the next target; at the same
// instant, the next target gets no call that stays up; after the
// failover, the next target (ringing) gets the CANCEL.
func TestFailoverInviteCancelRace(t *testing.T) {
	tests := []struct {
		name     string
		cancelAt time.Duration
	}{
		{"before the failover", 2 * time.Second},
		{"at the failover", ua.DefaultFailoverAfter},
		{"after the failover", ua.DefaultFailoverAfter + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				hole := newBlackhole(t, n, srvA)
				b := newFOServer(t, n, srvB, "ring")
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
					Resolver: failoverResolver(srvA, srvB),
					Lines:    []ua.LineConfig{foLine(nil)},
				})
				ctx, cancel := context.WithTimeout(t.Context(), tt.cancelAt)
				defer cancel()
				_, err := u.Dial(ctx, "sip:bob@example.test", ua.DialOptions{})
				require.ErrorIs(t, err, context.DeadlineExceeded)
				time.Sleep(time.Minute)
				synctest.Wait()
				require.Empty(t, hole.requests(sip.CANCEL), "A never answered: no CANCEL (RFC 3261 §9.1)")
				invs := b.got(sip.INVITE)
				if tt.cancelAt < ua.DefaultFailoverAfter {
					require.Empty(t, invs, "no failover after the caller gave up")
				}
				if len(invs) > 0 {
					require.EqualValues(t, len(invs), b.canceled.Load(), "B's INVITE was canceled")
				}
				if tt.cancelAt > ua.DefaultFailoverAfter {
					require.Len(t, invs, 1)
				}
				require.Zero(t, u.Calls())
			})
		})
	}
}

// A 2xx that the abandoned target sends after the failover gets its ACK
// and a BYE: no call is left up there.
func TestFailoverLate2xxFromAbandonedTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fo := newFOSetup(t)
		hole, u := fo.hole, fo.u
		c, err := u.Dial(t.Context(), "sip:bob@example.test", ua.DialOptions{})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		hole.answer(t, sip.INVITE, func(r *sip.Request) *sip.Response {
			res := sip.NewResponse(r, sip.StatusOK, "")
			res.Set("Contact", "<sip:a@"+srvA+">")
			res.SetBody([]byte(testSDP), "application/sdp")
			return res
		})
		time.Sleep(time.Second)
		synctest.Wait()
		require.NotEmpty(t, hole.requests(sip.ACK), "the late 2xx is acknowledged")
		byes := hole.requests(sip.BYE)
		require.NotEmpty(t, byes, "and its dialog ended")
		require.Equal(t, c.CallID(), byes[0].msg.(*sip.Request).CallID())
		require.Equal(t, 1, u.Calls(), "the call through B stays")
		require.NoError(t, c.Hangup(t.Context()))
	})
}

// Probe-back: after a failover the line probes the preferred server every
// ProbeInterval; when it answers, the line moves back (an event) and
// re-registers there. Each move is an event with its reason.
func TestFailoverProbeBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fo := newFOSetup(t)
		n, hole, u := fo.n, fo.hole, fo.u
		b := fo.b
		rec := fo.rec
		line := u.Lines()[0]
		t0 := time.Now()
		require.NoError(t, line.Register(t.Context()))
		require.Len(t, b.got(sip.REGISTER), 1)
		ev, ok := rec.find(ua.EventServerMoved)
		require.True(t, ok)
		require.Equal(t, ua.MoveFailover, ev.Move.Reason)
		require.Equal(t, parseAP(srvA), ev.Move.From.Addr)
		require.Equal(t, parseAP(srvB), ev.Move.To.Addr)
		require.Contains(t, ev.Move.Detail, "192.0.2.10:5060 UDP timeout after 4s")

		// First probe at 4 + 30 s: A is still dead.
		time.Sleep(ua.DefaultProbeInterval + time.Second)
		synctest.Wait()
		probes := hole.requests(sip.OPTIONS)
		require.NotEmpty(t, probes)
		require.Equal(t, ua.DefaultFailoverAfter+ua.DefaultProbeInterval, probes[0].at.Sub(t0))
		require.Equal(t, 1, rec.count(ua.EventServerMoved))

		// A comes back; the next probe (at 4 + 30 + 4 + 30 s) finds it.
		time.Sleep(10 * time.Second)
		hole.close()
		a := newFOServer(t, n, srvA, "ok")
		time.Sleep(ua.DefaultProbeInterval)
		synctest.Wait()
		opts := a.got(sip.OPTIONS)
		require.Len(t, opts, 1)
		backAt := 2*ua.DefaultFailoverAfter + 2*ua.DefaultProbeInterval
		require.Equal(t, backAt, opts[0].at.Sub(t0))
		require.Equal(t, 2, rec.count(ua.EventServerMoved))
		var back ua.Event
		for _, e := range rec.evs {
			if e.Kind == ua.EventServerMoved {
				back = e
			}
		}
		require.Equal(t, ua.MoveProbe, back.Move.Reason)
		require.Equal(t, parseAP(srvB), back.Move.From.Addr)
		require.Equal(t, parseAP(srvA), back.Move.To.Addr)
		regs := a.got(sip.REGISTER)
		require.Len(t, regs, 1, "re-registered with A")
		require.Equal(t, backAt, regs[0].at.Sub(t0))
		// Then the binding at B, which is up, goes: same Call-ID, next
		// CSeq, Expires 0.
		bRegs := b.got(sip.REGISTER)
		require.Len(t, bRegs, 2)
		require.Equal(t, "0", bRegs[1].req.Header("Expires"))
		require.Equal(t, regs[0].req.CallID(), bRegs[1].req.CallID())
		require.Equal(t, cseqOf(regs[0].req)+1, cseqOf(bRegs[1].req))
		require.Equal(t, backAt, bRegs[1].at.Sub(t0), "right after the registration with A")
		srv, _ := line.Server()
		require.Equal(t, parseAP(srvA), srv.Addr)
		// Back on the preferred server: no more probes.
		time.Sleep(3 * ua.DefaultProbeInterval)
		synctest.Wait()
		require.Len(t, a.got(sip.OPTIONS), 1)
	})
}

// A call keeps its route: after the failover its BYE goes to the dialog's
// remote target, not to the now preferred server, and a BYE that times
// out still ends the call locally (RFC 3261 §12, §15).
func TestFailoverDialogKeepsRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fo := newFOSetup(t)
		n, hole, u := fo.n, fo.hole, fo.u
		rec := fo.rec
		c, err := u.Dial(t.Context(), "sip:bob@example.test", ua.DialOptions{})
		require.NoError(t, err)
		hole.close()
		a := newFOServer(t, n, srvA, "ok")
		// B disappears: the BYE, sent to B's Contact, times out.
		lost := memnet.Conditions{Loss: 1}
		bNet, all := netip.MustParsePrefix("192.0.2.11/32"), netip.MustParsePrefix("0.0.0.0/0")
		n.SetLink(bNet, all, lost)
		n.SetLink(all, bNet, lost)
		t0 := time.Now()
		require.ErrorIs(t, c.Hangup(t.Context()), ua.ErrTimeout)
		require.Equal(t, parseAP(srvB).String(), c.RemoteTarget().Host+":5060")
		for _, bye := range a.got(sip.BYE) {
			// A answered a retransmission of the INVITE it had been left
			// with: that stray dialog gets its BYE, the call's does not.
			to, _ := bye.req.To()
			require.NotEqual(t, c.DialogID().RemoteTag, to.Tag(), "the BYE follows the dialog, not the resolver")
		}
		ev, ok := rec.find(ua.EventCallEnded)
		require.True(t, ok)
		require.Equal(t, ua.ByeTimedOut, ev.Bye)
		require.Equal(t, 32*time.Second, time.Since(t0), "Timer F: in-dialog requests do not fail over")
		require.Zero(t, u.Calls(), "ended locally")
	})
}

// A probe answered 503 does not move the line back: the server is up
// but refusing work. Once it answers otherwise, the line moves back.
func TestFailoverProbeAnswered503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a := newFOServer(t, n, srvA, "503")
		newFOServer(t, n, srvB, "ok")
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{
			Resolver: failoverResolver(srvA, srvB),
			Lines:    []ua.LineConfig{foLine(func(lc *ua.LineConfig) { lc.ProbeInterval = 10 * time.Second })},
		})
		t0 := time.Now()
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		time.Sleep(15 * time.Second)
		synctest.Wait()
		require.Len(t, a.got(sip.OPTIONS), 1, "probed at 10 s")
		require.Equal(t, 1, rec.count(ua.EventServerMoved), "the failover only")
		a.mode.Store("ok")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		opts := a.got(sip.OPTIONS)
		require.Len(t, opts, 2)
		require.Equal(t, 20*time.Second, opts[1].at.Sub(t0))
		require.Equal(t, 2, rec.count(ua.EventServerMoved), "moved back")
		srv, _ := u.Lines()[0].Server()
		require.Equal(t, parseAP(srvA), srv.Addr)
	})
}

// rotatingResolver gives example.test's targets in another order at each
// resolution, as RFC 2782's weighted draw among equal priorities may.
type rotatingResolver struct {
	mu      sync.Mutex
	n       int
	targets []transport.Target
}

func (r *rotatingResolver) Resolve(ctx context.Context, u sip.URI) ([]transport.Target, error) {
	if u.Hostname() != "example.test" {
		return transport.StaticResolver{}.Resolve(ctx, u)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	out := make([]transport.Target, 0, len(r.targets))
	for i := range r.targets {
		out = append(out, r.targets[(i+r.n)%len(r.targets)])
	}
	return out, nil
}

// The server a line works with keeps its requests: the REGISTER that
// answers a challenge, and the refreshes, go to the registrar that
// challenged, whatever order the next resolution draws.
func TestFailoverStickyServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		regA := newRegistrar(t, n, srvA, "secret", 100, 0)
		regB := newRegistrar(t, n, srvB, "secret", 100, 0)
		res := &rotatingResolver{targets: failoverResolver(srvA, srvB)["example.test"]}
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{
			Resolver: res,
			Lines: []ua.LineConfig{foLine(func(lc *ua.LineConfig) {
				lc.Password, lc.Expires = "secret", 100*time.Second
			})},
		})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		time.Sleep(160 * time.Second) // refreshes at 50, 100, 150 s
		synctest.Wait()
		a, b := len(regA.seen()), len(regB.seen())
		require.True(t, (a == 0) != (b == 0), "every REGISTER at one registrar: A %d, B %d", a, b)
		require.GreaterOrEqual(t, a+b, 5, "challenge, answer, three refreshes")
	})
}
