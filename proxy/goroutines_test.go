package proxy_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
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
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort
}

func newRawPeer(t testing.TB) *rawPeer {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func (p *rawPeer) send(m sip.Message, to netip.AddrPort) {
	_, err := p.conn.WriteToUDPAddrPort(m.AppendTo(nil), to)
	require.NoError(p.t, err)
}

// recv reads the next message, skipping 100 Trying. The message is
// parsed from a copy of the datagram's size.
func (p *rawPeer) recv() sip.Message {
	var buf [65535]byte
	for {
		require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := p.conn.Read(buf[:])
		require.NoError(p.t, err)
		m, err := sip.Parse(bytes.Clone(buf[:n]))
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
func (p *rawPeer) request(m sip.Method, ruri sip.URI, callID, fromTag, to string, seq uint32, routes []string) *sip.Request {
	r := sip.NewRequest(m, ruri)
	r.Set("Via", "SIP/2.0/UDP "+p.addr.String()+";branch="+sip.NewBranch())
	r.SetFrom(sip.Address{URI: p.uri("alice"), Params: sip.Params(";tag=" + fromTag)})
	r.Set("To", to)
	r.SetCallID(callID)
	r.SetCSeq(sip.CSeq{Seq: seq, Method: m})
	r.Set("Contact", "<"+p.uri("alice").String()+">")
	r.Set("Max-Forwards", "70")
	for i := len(routes) - 1; i >= 0; i-- {
		r.Prepend("Route", routes[i])
	}
	return r
}

// rawProxy is examples of record-routed calls through a proxy on
// loopback UDP between two raw peers: the caller (alice) and the callee
// (bob, whose binding is in the proxy's MemoryLocation).
type rawProxy struct {
	t              testing.TB
	caller, callee *rawPeer
	at             netip.AddrPort // the proxy
}

func newRawProxy(t testing.TB) *rawProxy {
	p := &rawProxy{t: t, caller: newRawPeer(t), callee: newRawPeer(t)}
	tp, err := transport.New(transport.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tp.Close() })
	lo := netip.MustParseAddr("127.0.0.1")
	p.at = netip.AddrPortFrom(lo, testenv.FreeUDPPorts(t, lo, 1))
	loc := proxy.NewMemoryLocation()
	srv, err := proxy.New(tp, proxy.Config{Domains: []string{domain}, Users: users, Location: loc,
		Self: []string{p.at.String()}, Resolver: transport.StaticResolver{}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	_, err = tp.Listen(context.Background(), transport.UDP, p.at.String())
	require.NoError(t, err)
	_, err = loc.Update(context.Background(), "sip:bob@"+domain, time.Now(), func([]proxy.Binding) ([]proxy.Binding, error) {
		return []proxy.Binding{{AOR: "sip:bob@" + domain, Contact: p.callee.uri("bob"), Q: 1, Expires: time.Now().Add(time.Hour)}}, nil
	})
	require.NoError(t, err)
	return p
}

// rawCall is the caller's side of an established call, in strings of
// its own (it keeps no message alive).
type rawCall struct {
	callID, fromTag string
	to              string   // with the callee's tag
	routes          []string // the route set
}

// establish makes a call: INVITE, 180, 200, ACK, each through the proxy.
func (p *rawProxy) establish() *rawCall {
	t, caller, callee, at := p.t, p.caller, p.callee, p.at
	bob := sip.URI{Scheme: "sip", User: "bob", Host: domain}
	c := &rawCall{callID: sip.NewCallID(), fromTag: sip.NewTag(), to: "<" + bob.String() + ">"}
	caller.send(caller.request(sip.INVITE, bob, c.callID, c.fromTag, c.to, 1, nil), at)
	inv, ok := callee.recv().(*sip.Request)
	require.True(t, ok)
	require.Equal(t, sip.INVITE, inv.Method)
	require.NotEmpty(t, inv.Values("Record-Route"), "the proxy record-routes")
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
			c.to = strings.Clone(got.Header("To"))
			for _, v := range got.Values("Record-Route") {
				c.routes = append(c.routes, strings.Clone(v))
			}
		}
	}
	// The route set is the 2xx's Record-Route in reverse (RFC 3261
	// §12.1.2); the remote target its Contact.
	slices.Reverse(c.routes)
	caller.send(caller.request(sip.ACK, callee.uri("bob"), c.callID, c.fromTag, c.to, 1, c.routes), at)
	ack, ok := callee.recv().(*sip.Request)
	require.True(t, ok)
	require.Equal(t, sip.ACK, ack.Method)
	return c
}

// hangUp ends an established call: BYE and its 200 through the proxy.
func (p *rawProxy) hangUp(c *rawCall) {
	t, caller, callee, at := p.t, p.caller, p.callee, p.at
	caller.send(caller.request(sip.BYE, callee.uri("bob"), c.callID, c.fromTag, c.to, 2, c.routes), at)
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
	p := newRawProxy(t)
	p.hangUp(p.establish()) // the first: anything made once (a shard's timer, a GC worker)
	runtime.GC()
	before := goroutinesCreated()
	for range calls {
		p.hangUp(p.establish())
	}
	created := goroutinesCreated() - before
	t.Logf("%d goroutines started for %d calls", created, calls)
	require.Less(t, created, uint64(calls/10), "goroutines started per call")
}

// BenchmarkCallInProgressMemory reports the heap of the proxy (and of the
// transaction layer and transport beneath it) per call in progress
// (B/call): 2,000 calls established through it (ACKed, not hung up), as
// scripts/proxy-load.sh's memory step holds them, the live heap after a
// full collection compared with before. The raw peers keep only each
// call's To and route set as strings (about 250 B). It measures memory, not time: run it with -benchtime 1x.
//
//	go test -run '^$' -bench CallInProgressMemory -benchtime 1x ./proxy/
func BenchmarkCallInProgressMemory(b *testing.B) {
	const calls = 2000
	for b.Loop() {
		p := newRawProxy(b)
		p.hangUp(p.establish())
		cs := make([]*rawCall, 0, calls)
		before := heapInUse()
		for range calls {
			cs = append(cs, p.establish())
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/calls, "B/call")
		for _, c := range cs {
			p.hangUp(c)
		}
	}
}
