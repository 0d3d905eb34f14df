package ua_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// altResolver resolves example.test to A and alt.test to B.
func altResolver() transport.StaticResolver {
	r := failoverResolver(srvA)
	r["alt.test"] = []transport.Target{{Network: transport.UDP, Addr: netip.MustParseAddrPort(srvB)}}
	return r
}

// Without dual registration the alternate is the next target once the
// primary's are exhausted: as the Request-URI of a REGISTER (alternate
// proxy), or as its Route (alternate outbound proxy).
func TestFailoverAlternate(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*ua.LineConfig)
		wantURI   string
		wantRoute string
	}{
		{"alternate proxy", func(lc *ua.LineConfig) { lc.AlternateProxy = "sip:alt.test" }, "sip:alt.test", ""},
		{"alternate outbound proxy", func(lc *ua.LineConfig) {
			lc.OutboundProxy = "sip:example.test"
			lc.AlternateOutboundProxy = "sip:alt.test"
		}, "sip:example.test", "<sip:alt.test;lr>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				newBlackhole(t, n, srvA)
				b := newFOServer(t, n, srvB, "ok")
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Resolver: altResolver(), Lines: []ua.LineConfig{foLine(tt.mod)}})
				t0 := time.Now()
				require.NoError(t, u.Lines()[0].Register(t.Context()))
				regs := b.got(sip.REGISTER)
				require.Len(t, regs, 1)
				require.Equal(t, ua.DefaultFailoverAfter, regs[0].at.Sub(t0))
				require.Equal(t, tt.wantURI, regs[0].req.URI.String())
				require.Equal(t, tt.wantRoute, regs[0].req.Header("Route"))
			})
		})
	}
}

// Dual registration: both proxies hold a binding (two registrations);
// requests go to the primary first, and straight to the alternate while
// the primary registration has failed.
func TestFailoverDualRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		a := newFOServer(t, n, srvA, "ok")
		b := newFOServer(t, n, srvB, "ok")
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Resolver: altResolver(), Lines: []ua.LineConfig{foLine(func(lc *ua.LineConfig) {
			lc.AlternateProxy = "sip:alt.test"
			lc.DualRegistration = true
		})}})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		ra, rb := a.got(sip.REGISTER), b.got(sip.REGISTER)
		require.Len(t, ra, 1)
		require.Len(t, rb, 1)
		require.NotEqual(t, ra[0].req.CallID(), rb[0].req.CallID(), "two registrations")
		ca, err := ra[0].req.Contacts()
		require.NoError(t, err)
		cb, err := rb[0].req.Contacts()
		require.NoError(t, err)
		require.Equal(t, ca[0].URI, cb[0].URI, "of the same Contact")
		param := func(a sip.Address, name string) string {
			v, ok := a.Params.Get(name)
			require.True(t, ok, name)
			return v
		}
		require.Equal(t, param(ca[0], "+sip.instance"), param(cb[0], "+sip.instance"), "one instance")
		require.Equal(t, "1", param(ca[0], "reg-id"))
		require.Equal(t, "2", param(cb[0], "reg-id"), "two flows, two reg-ids (RFC 5626 §4.2)")
		st, err := line.AltState()
		require.NoError(t, err)
		require.Equal(t, ua.RegRegistered, st)

		// Refreshed together.
		time.Sleep(ua.DefaultExpires/2 + time.Second)
		synctest.Wait()
		require.Len(t, a.got(sip.REGISTER), 2)
		require.Len(t, b.got(sip.REGISTER), 2)
		require.EqualValues(t, 2, cseqOf(b.got(sip.REGISTER)[1].req))

		// Calls go to the primary first.
		c, err := u.Dial(t.Context(), "sip:bob@example.test", ua.DialOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Hangup(t.Context()))
		require.Len(t, a.got(sip.INVITE), 1)
		require.Empty(t, b.got(sip.INVITE))

		// The primary registration fails: calls go straight to the
		// alternate, through it as Route.
		a.mode.Store("500")
		require.Error(t, line.Register(t.Context()))
		st, _ = line.AltState()
		require.Equal(t, ua.RegRegistered, st)
		t0 := time.Now()
		c, err = u.Dial(t.Context(), "sip:bob@example.test", ua.DialOptions{})
		require.NoError(t, err)
		require.Equal(t, t0, time.Now(), "no wait for the primary")
		require.Len(t, a.got(sip.INVITE), 1, "the primary is not tried")
		invs := b.got(sip.INVITE)
		require.Len(t, invs, 1)
		require.Equal(t, "<sip:alt.test;lr>", invs[0].req.Header("Route"))
		require.NoError(t, c.Hangup(t.Context()))

		// Unregistering removes both bindings.
		a.mode.Store("ok")
		require.NoError(t, line.Register(t.Context()))
		require.NoError(t, line.Unregister(t.Context()))
		last := b.got(sip.REGISTER)
		require.Equal(t, "0", last[len(last)-1].req.Header("Expires"))
	})
}

func cseqOf(r *sip.Request) uint32 {
	cs, _ := r.CSeq()
	return cs.Seq
}
