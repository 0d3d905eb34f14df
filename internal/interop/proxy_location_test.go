//go:build interop

package interop

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/ua"
)

// TestProxyRestartSQLite: baresip (carol) registers at examples/proxy
// -db; the proxy stops and starts again on the same file and port, and
// our UA's call through it reaches carol, who has not registered again.
func TestProxyRestartSQLite(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	db := filepath.Join(t.TempDir(), "location.db")
	first := startNamedProxy(t, ctx, "proxy", "-db", db)
	carol := startBaresip(t, ctx, first, "carol")
	first.waitBinding(t, ctx, "carol", true)
	require.NoError(t, first.stop(t), "the first proxy's exit")

	second := startNamedProxy(t, ctx, "proxy-restarted", "-db", db,
		"-listen", net.JoinHostPort(loopback, strconv.Itoa(first.port)))
	require.Equal(t, first.port, second.port)
	dave := newPeerUA(t, second, uaOptions{user: "dave"})
	dave.waitEvent(t, ctx, ua.EventRegistered, "")
	c, err := dave.ua.Dial(ctx, second.uri("carol"), ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err, "Dial carol through the restarted proxy")
	carol.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
	require.NotEmpty(t, second.traced("INVITE sip:carol@", c.CallID()), "the INVITE did not cross the restarted proxy")
	_, seen := second.bindings("carol")
	require.False(t, seen, "carol registered again: the call proves nothing of the file")
	require.NoError(t, c.Hangup(ctx))
}

// TestProxySharedPostgres: two instances of examples/proxy on one
// PostgreSQL database. baresip (carol) registers through one, our UA
// (dave) through the other; each instance routes a call to the user
// registered through the other.
func TestProxySharedPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	pg := testenv.StartPostgres(t)
	a := startNamedProxy(t, ctx, "proxy-a", "-pg", pg.DSN("postgres"))
	b := startNamedProxy(t, ctx, "proxy-b", "-pg", pg.DSN("postgres"))
	carol := startBaresip(t, ctx, a, "carol")
	a.waitBinding(t, ctx, "carol", true)
	dave := newPeerUA(t, b, uaOptions{user: "dave"})
	dave.waitEvent(t, ctx, ua.EventRegistered, "")
	b.waitBinding(t, ctx, "dave", true)

	t.Run("b routes to carol, registered through a", func(t *testing.T) {
		c, err := dave.ua.Dial(ctx, b.uri("carol"), ua.DialOptions{SDP: testSDP(9)})
		require.NoError(t, err, "Dial carol through proxy b")
		carol.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
		require.NotEmpty(t, b.traced("INVITE sip:carol@", c.CallID()), "the INVITE did not cross proxy b")
		require.Empty(t, a.traced(c.CallID()), "proxy a saw the call")
		require.NoError(t, c.Hangup(ctx))
		carol.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	})

	t.Run("a routes to dave, registered through b", func(t *testing.T) {
		_, err := carol.ctl(ctx, "dial", a.uri("dave"))
		require.NoError(t, err)
		in := dave.nextCall(t, ctx)
		dave.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
		require.NotEmpty(t, a.traced("INVITE sip:dave@", in.CallID()), "the INVITE did not cross proxy a")
		require.Empty(t, b.traced(in.CallID()), "proxy b saw the call")
		_, err = carol.ctl(ctx, "hangup", "")
		require.NoError(t, err)
		require.ErrorIs(t, waitDone(t, ctx, in, "dave"), ua.ErrRemoteHangup)
	})
}
