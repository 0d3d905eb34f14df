package proxy_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// The proxy remembers a next hop that timed out (the shared
// transport.DeadTargets): the next request skips it at once, until the
// mark's DeadTime ends.
func TestLeavingDomainDeadHop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dead := transport.NewDeadTargets(transport.DeadTargetsConfig{})
		e := newEnv(t, proxy.Config{DeadTargets: dead, Resolver: transport.StaticResolver{
			"other.test": {udpTarget("192.0.2.98:5060"), udpTarget("192.0.2.30:5060")},
		}})
		far := e.newClient("192.0.2.30:5060", 0)
		c := e.newClient("192.0.2.50:5060", 0)
		invite := func() time.Duration {
			callID, tag := sip.NewCallID(), sip.NewTag()
			start := time.Now()
			res := c.sendAuth("alice", func(seq uint32) *sip.Request {
				r := newRequest(sip.INVITE, "sip:dave@other.test", "alice", "<sip:alice@192.0.2.50:5060>")
				from, _ := sip.ParseAddress("<sip:alice@" + domain + ">;tag=" + tag)
				r.SetFrom(from)
				r.SetCallID(callID)
				r.SetCSeq(sip.CSeq{Seq: seq, Method: sip.INVITE})
				return r
			})
			require.Equal(t, 200, res.StatusCode)
			return time.Since(start)
		}
		require.GreaterOrEqual(t, invite(), 32*time.Second, "Timer B on the silent first hop")
		dead98, _ := dead.Dead(udpTarget("192.0.2.98:5060"), time.Now())
		require.True(t, dead98)
		require.Less(t, invite(), time.Second, "the dead hop is skipped")
		require.Len(t, far.received(), 2)
		time.Sleep(transport.DefaultDeadTime)
		require.GreaterOrEqual(t, invite(), 32*time.Second, "tried again once its mark ended")
	})
}
