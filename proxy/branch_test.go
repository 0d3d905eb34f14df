package proxy_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// TestBranchWithoutNextHop: a branch whose next hop does not resolve
// ends with 503 (RFC 3261 §16.7 step 2), which reaches the caller as 500
// (step 6: the caller must not take the proxy for overloaded), at once.
func TestBranchWithoutNextHop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{CallAuth: proxy.AuthNone})
		c := e.newClient("192.0.2.50:5060", 0)
		start := time.Now()
		res := c.send(newRequest(sip.INVITE, "sip:dave@nowhere.test", "alice", "<sip:alice@192.0.2.50:5060>"))
		require.Equal(t, 500, res.StatusCode)
		require.Less(t, time.Since(start), time.Second)
	})
}

// TestBranchCanceledWhileResolving: the caller CANCELs while the
// branch's next hop is still being resolved (a slow DNS answer): the
// caller gets 487 at once, and the request is never sent, even when the
// resolution ends later.
func TestBranchCanceledWhileResolving(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := &slowResolver{static: transport.StaticResolver{"other.test": {udpTarget("192.0.2.30:5060")}},
			host: "other.test", nth: 1, delay: 10 * time.Second}
		e := newEnv(t, proxy.Config{CallAuth: proxy.AuthNone, Resolver: res})
		far := e.newClient("192.0.2.30:5060", 0)
		c := e.newClient("192.0.2.50:5060", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		tx, err := c.tx.Request(ctx, newRequest(sip.INVITE, "sip:dave@other.test", "alice", "<sip:alice@192.0.2.50:5060>"),
			transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort(proxyAddr)})
		require.NoError(t, err)
		time.Sleep(time.Second) // the proxy's 100 Trying came: the CANCEL can go
		cancel()
		final, err := tx.Final(context.Background())
		require.NoError(t, err)
		require.Equal(t, 487, final.StatusCode)
		require.Less(t, time.Since(start), 2*time.Second, "487 at once, not after the resolution")
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, far.received(), "a branch canceled before it was sent is not sent")
	})
}
