package proxy_test

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// rawPeer is a SIP endpoint of a test on a real UDP socket, read and
// written on the test's goroutine: it starts no goroutine of its own.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	addr netip.AddrPort
}

func newRawPeer(t *testing.T) *rawPeer {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func (p *rawPeer) send(m sip.Message, to netip.AddrPort) {
	_, err := p.conn.WriteToUDPAddrPort(m.AppendTo(nil), to)
	require.NoError(p.t, err)
}

// recv reads the next message, skipping 100 Trying.
func (p *rawPeer) recv() sip.Message {
	buf := make([]byte, 65535)
	for {
		require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := p.conn.Read(buf)
		require.NoError(p.t, err)
		m, err := sip.Parse(buf[:n])
		require.NoError(p.t, err)
		if res, ok := m.(*sip.Response); ok && res.StatusCode == sip.StatusTrying {
			continue
		}
		return m
	}
}

func (p *rawPeer) uri(user string) sip.URI {
	return sip.URI{Scheme: "sip", User: user, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}
}

// request builds a request of the caller's dialog.
func (p *rawPeer) request(m sip.Method, ruri sip.URI, callID, fromTag string, to sip.Address, seq uint32, routes []sip.Address) *sip.Request {
	r := sip.NewRequest(m, ruri)
	r.Set("Via", "SIP/2.0/UDP "+p.addr.String()+";branch="+sip.NewBranch())
	r.SetFrom(sip.Address{URI: p.uri("alice"), Params: sip.Params(";tag=" + fromTag)})
	r.SetTo(to)
	r.SetCallID(callID)
	r.SetCSeq(sip.CSeq{Seq: seq, Method: m})
	r.Set("Contact", "<"+p.uri("alice").String()+">")
	r.Set("Max-Forwards", "70")
	for i := len(routes) - 1; i >= 0; i-- {
		r.Prepend("Route", routes[i].String())
	}
	return r
}

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestProxiedCallsStartNoGoroutine: calls through the record-routing
// proxy over UDP (INVITE, 180, 200, ACK, BYE, 200, every message through
// it) are served on the goroutines that deliver their messages, with the
// in-memory users and location service: no goroutine per request, per
// branch or per ACK (issue 19's cost). With a handler goroutine per
// request (transaction.Go) and one per branch, each call started six.
func TestProxiedCallsStartNoGoroutine(t *testing.T) {
	const calls = 50
	caller, callee := newRawPeer(t), newRawPeer(t)
	tp, err := transport.New(transport.Config{})
	require.NoError(t, err)
	defer tp.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	at := netip.AddrPortFrom(lo, testenv.FreeUDPPorts(t, lo, 1))
	loc := proxy.NewMemoryLocation()
	srv, err := proxy.New(tp, proxy.Config{Domains: []string{domain}, Users: users, Location: loc,
		Self: []string{at.String()}, Resolver: transport.StaticResolver{}})
	require.NoError(t, err)
	defer srv.Close()
	_, err = tp.Listen(context.Background(), transport.UDP, at.String())
	require.NoError(t, err)
	_, err = loc.Update(t.Context(), "sip:bob@"+domain, time.Now(), func([]proxy.Binding) ([]proxy.Binding, error) {
		return []proxy.Binding{{AOR: "sip:bob@" + domain, Contact: callee.uri("bob"), Q: 1, Expires: time.Now().Add(time.Hour)}}, nil
	})
	require.NoError(t, err)

	call := func() {
		callID, fromTag := sip.NewCallID(), sip.NewTag()
		to := sip.Address{URI: sip.URI{Scheme: "sip", User: "bob", Host: domain}}
		caller.send(caller.request(sip.INVITE, to.URI, callID, fromTag, to, 1, nil), at)
		inv, ok := callee.recv().(*sip.Request)
		require.True(t, ok)
		require.Equal(t, sip.INVITE, inv.Method)
		rr, err := inv.RecordRoutes()
		require.NoError(t, err)
		require.NotEmpty(t, rr, "the proxy record-routes")
		tag := sip.NewTag()
		for _, code := range []int{180, 200} {
			res := sip.NewResponseTag(inv, code, "", tag)
			for _, v := range inv.Values("Record-Route") {
				res.Add("Record-Route", v)
			}
			res.Set("Contact", "<"+callee.uri("bob").String()+">")
			callee.send(res, at)
			got, ok := caller.recv().(*sip.Response)
			require.True(t, ok)
			require.Equal(t, code, got.StatusCode)
			if code == 200 {
				to, err = got.To()
				require.NoError(t, err)
				rr, err = got.RecordRoutes()
				require.NoError(t, err)
			}
		}
		// The route set is the 2xx's Record-Route in reverse (RFC 3261
		// §12.1.2); the remote target its Contact.
		for i, j := 0, len(rr)-1; i < j; i, j = i+1, j-1 {
			rr[i], rr[j] = rr[j], rr[i]
		}
		caller.send(caller.request(sip.ACK, callee.uri("bob"), callID, fromTag, to, 1, rr), at)
		ack, ok := callee.recv().(*sip.Request)
		require.True(t, ok)
		require.Equal(t, sip.ACK, ack.Method)
		caller.send(caller.request(sip.BYE, callee.uri("bob"), callID, fromTag, to, 2, rr), at)
		bye, ok := callee.recv().(*sip.Request)
		require.True(t, ok)
		require.Equal(t, sip.BYE, bye.Method)
		callee.send(sip.NewResponse(bye, 200, ""), at)
		got, ok := caller.recv().(*sip.Response)
		require.True(t, ok)
		require.Equal(t, 200, got.StatusCode)
		cs, err := got.CSeq()
		require.NoError(t, err)
		require.Equal(t, sip.BYE, cs.Method)
	}
	call() // the first: anything made once (a shard's timer, a GC worker)
	runtime.GC()
	before := goroutinesCreated()
	for range calls {
		call()
	}
	created := goroutinesCreated() - before
	t.Logf("%d goroutines started for %d calls", created, calls)
	require.Less(t, created, uint64(calls/10), "goroutines started per call")
}
