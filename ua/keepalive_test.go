package ua_test

// Keepalives of a registered line's flow (RFC 5626 §4.4) and STUN, in
// virtual time over memnet NATs.

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// natUA starts a UA at 10.0.0.2 behind a NAT of type typ (public
// 203.0.113.1) whose UDP mappings expire after 30 s, registered at an
// edge on 192.0.2.10.
func natUA(t *testing.T, n *memnet.Network, typ memnet.NATType, lc ua.LineConfig) (*ua.UA, *recorder, *memnet.NAT) {
	t.Helper()
	nat, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("203.0.113.1"), typ)
	require.NoError(t, err)
	nat.SetMappingTimeout(30 * time.Second)
	lc.Manual = true
	u, rec := newUA(t, n, "10.0.0.2:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("10.0.0.2"))},
		Lines: []ua.LineConfig{lc}, OnCall: answerer(nil)})
	require.NoError(t, u.Lines()[0].Register(t.Context()))
	return u, rec, nat
}

// The UDP keepalive (a STUN binding request every 25 s) holds a NAT
// binding that expires after 30 s: after 10 minutes idle the edge's
// INVITE still reaches the UA. Without keepalives it does not.
func TestKeepaliveHoldsNATBinding(t *testing.T) {
	tests := []struct {
		name      string
		keepalive time.Duration
		reached   bool
		pings     int64
	}{
		{"default 25 s", 0, true, int64(10 * time.Minute / ua.DefaultUDPKeepalive)},
		{"every 10 s", 10 * time.Second, true, 60},
		{"off", -1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
				natUA(t, n, memnet.PortRestricted, ua.LineConfig{AOR: "sip:alice@192.0.2.10",
					Registrar: "sip:192.0.2.10:5060", Keepalive: tt.keepalive})
				time.Sleep(10*time.Minute + time.Second)
				require.Equal(t, tt.pings, e.stunSeen.Load(), "keepalives in 10 minutes")
				if tt.pings > 0 {
					t.Logf("keepalive every %v: %d STUN payload bytes per hour (requests and answers; add 28 bytes of IPv4 and UDP headers per datagram)",
						cmp.Or(tt.keepalive, ua.DefaultUDPKeepalive), e.stunBytes.Load()*6)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				res, err := e.call(ctx, "alice")
				if !tt.reached {
					require.Error(t, err, "the NAT dropped the binding: the call is lost")
					return
				}
				require.NoError(t, err)
				require.Equal(t, sip.StatusOK, res.StatusCode)
			})
		})
	}
}

// A UDP peer that answered STUN keepalives and stops is a dead flow
// after KeepaliveMisses unanswered ones: EventFlowFailed, and the line
// registers again at once.
func TestKeepaliveUDPDeadFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
		lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060", Manual: true}
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		time.Sleep(time.Minute)
		require.Equal(t, int64(2), e.stunSeen.Load())
		e.stunOn.Store(false)
		lost := time.Now()
		waitFor(t, 3*ua.DefaultUDPKeepalive*ua.KeepaliveMisses, "flow failure", func() bool { return rec.count(ua.EventFlowFailed) == 1 })
		ev, _ := rec.find(ua.EventFlowFailed)
		require.ErrorIs(t, ev.Err, ua.ErrFlowDead)
		waitFor(t, time.Second, "re-registration", func() bool { regs, _ := e.registers(); return len(regs) == 2 })
		took := time.Since(lost)
		require.LessOrEqual(t, took, time.Duration(ua.KeepaliveMisses+1)*ua.DefaultUDPKeepalive)
		t.Logf("STUN answers lost → re-registered in %v (virtual)", took)
	})
}

// A NAT that forgets its binding (a reboot) gives the flow a new public
// port: the next keepalive's STUN answer shows it and the line registers
// its new address at once, within one keepalive interval.
func TestKeepaliveNATRebind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
		u, _, nat := natUA(t, n, memnet.PortRestricted, ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060"})
		line := u.Lines()[0]
		before, ok := line.PublicAddr()
		require.True(t, ok)
		time.Sleep(40 * time.Second)
		nat.Flush()
		lost := time.Now()
		waitFor(t, 2*ua.DefaultUDPKeepalive, "new public address", func() bool {
			p, _ := line.PublicAddr()
			regs, _ := e.registers()
			return p != before && len(regs) == 3
		})
		took := time.Since(lost)
		require.LessOrEqual(t, took, ua.DefaultUDPKeepalive+time.Second)
		t.Logf("NAT binding lost → re-registered in %v (virtual)", took)
		regs, _ := e.registers()
		cts, _ := regs[2].Contacts()
		require.Len(t, cts, 2, "the old Contact removed, the new one added")
		require.Equal(t, before.String(), cts[0].URI.HostPort())
		e0, _ := cts[0].Expires()
		require.Zero(t, e0)
		after, _ := line.PublicAddr()
		require.Equal(t, after.String(), cts[1].URI.HostPort())
		res, err := e.call(t.Context(), "alice")
		require.NoError(t, err)
		require.Equal(t, sip.StatusOK, res.StatusCode)
	})
}

// On a connection the keepalive is a CRLF ping every 120 s; when the
// registrar's side of the connection goes away the line registers again
// over a new connection, removing the old Contact.
func TestStreamKeepaliveAndFlowRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		e := newEdge(t, n, edgeConfig{tcp: "192.0.2.10:5060"})
		lc := ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060;transport=tcp", Manual: true,
			RetryMin: time.Second, RetryMax: time.Second}
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Net: n.Host(netip.MustParseAddr("192.0.2.1"))},
			Lines: []ua.LineConfig{lc}, OnCall: answerer(nil)})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		first := line.Contact()
		time.Sleep(3*ua.DefaultStreamKeepalive + time.Second)
		require.Equal(t, uint64(3), e.tp.Stats().PingsAnswered, "a CRLF ping every 120 s")

		e.close()
		e2 := newEdge(t, n, edgeConfig{tcp: "192.0.2.10:5060"})
		waitFor(t, 10*time.Second, "re-registration over a new connection", func() bool {
			regs, _ := e2.registers()
			return len(regs) == 1
		})
		require.Equal(t, 1, rec.count(ua.EventFlowFailed))
		regs, _ := e2.registers()
		cts, _ := regs[0].Contacts()
		require.Len(t, cts, 2)
		require.Equal(t, first.URI.String(), cts[0].URI.String())
		exp, _ := cts[0].Expires()
		require.Zero(t, exp, "the dead connection's Contact is removed")
		require.NotEqual(t, first.URI.Port, cts[1].URI.Port)
		res, err := e2.call(t.Context(), "alice")
		require.NoError(t, err)
		require.Equal(t, sip.StatusOK, res.StatusCode)
	})
}

// A STUN server on the public side gives the SIP socket's mapping before
// the first REGISTER: behind a cone NAT the first Contact is already
// public. Behind a symmetric NAT the registrar sees another mapping than
// STUN: the line says so (ErrSymmetricNAT) and uses the registrar's.
func TestSTUNDiscovery(t *testing.T) {
	tests := []struct {
		name      string
		typ       memnet.NATType
		registers int
		symmetric bool
	}{
		{"cone", memnet.EndpointIndependent, 1, false},
		{"port-restricted", memnet.PortRestricted, 1, false},
		{"symmetric", memnet.Symmetric, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				stunServer(t, n, "198.51.100.1:3478")
				e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
				u, rec, _ := natUA(t, n, tt.typ, ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060",
					STUNServer: "198.51.100.1:3478"})
				regs, flows := e.registers()
				require.Len(t, regs, tt.registers)
				cts, _ := regs[0].Contacts()
				require.Equal(t, "203.0.113.1", cts[0].URI.Host, "the first Contact is already public")
				pub, ok := u.Lines()[0].PublicAddr()
				require.True(t, ok)
				require.Equal(t, flows[len(flows)-1].Remote, pub, "the address the registrar sees")
				ev, ok := rec.find(ua.EventNATDetected)
				require.True(t, ok)
				require.Equal(t, tt.symmetric, errors.Is(ev.Err, ua.ErrSymmetricNAT))
				res, err := e.call(t.Context(), "alice")
				require.NoError(t, err)
				require.Equal(t, sip.StatusOK, res.StatusCode)
			})
		})
	}
}

// A STUN server that does not answer costs the first registration
// STUNAttempts tries, and the line falls back to the registrar's view.
func TestSTUNServerSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
		u, _, _ := natUA(t, n, memnet.PortRestricted, ua.LineConfig{AOR: "sip:alice@192.0.2.10", Registrar: "sip:192.0.2.10:5060",
			STUNServer: "198.51.100.1:3478"})
		regs, _ := e.registers()
		require.Len(t, regs, 2, "received/rport correct the Contact")
		pub, ok := u.Lines()[0].PublicAddr()
		require.True(t, ok)
		require.Equal(t, "203.0.113.1", pub.Addr().String())
	})
}
