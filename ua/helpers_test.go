package ua_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

const testSDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"

// recorder keeps the events of a UA.
type recorder struct {
	mu  sync.Mutex
	evs []ua.Event
}

func (r *recorder) add(e ua.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

// reset forgets the events recorded.
func (r *recorder) reset() {
	r.mu.Lock()
	r.evs = nil
	r.mu.Unlock()
}

func (r *recorder) kinds() []ua.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ua.EventKind, 0, len(r.evs))
	for _, e := range r.evs {
		out = append(out, e.Kind)
	}
	return out
}

func (r *recorder) find(k ua.EventKind) (ua.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.evs {
		if e.Kind == k {
			return e, true
		}
	}
	return ua.Event{}, false
}

func (r *recorder) count(k ua.EventKind) int {
	n := 0
	for _, x := range r.kinds() {
		if x == k {
			n++
		}
	}
	return n
}

// newUA starts a UA on memnet at addr (UDP) with cfg's other settings.
func newUA(t *testing.T, n *memnet.Network, addr string, cfg ua.Config) (*ua.UA, *recorder) {
	t.Helper()
	rec := &recorder{}
	if cfg.Transport.Net == nil {
		cfg.Transport.Net = n // a test may pass a memnet Host of n instead
	}
	// RTP sessions use real UDP sockets, which have no place in a synctest
	// bubble over memnet: media is tested in media_test.go over loopback.
	cfg.Media.DisableMedia = true
	if cfg.Listen == nil {
		cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: addr}}
	}
	if cfg.Resolver == nil {
		cfg.Resolver = transport.StaticResolver{}
	}
	prev := cfg.OnEvent
	cfg.OnEvent = func(e ua.Event) {
		rec.add(e)
		if prev != nil {
			prev(e)
		}
	}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u, rec
}

// answerer is an OnCall that answers every call with testSDP and sends the
// calls it answered on a channel.
func answerer(calls chan<- *ua.Call) func(context.Context, *ua.IncomingCall) {
	return func(_ context.Context, ic *ua.IncomingCall) {
		_ = ic.Ring()
		c, err := ic.Answer([]byte(testSDP))
		if err == nil && calls != nil {
			calls <- c
		}
	}
}

// rawPeer is a bare transaction layer on memnet: a test's stand-in for a
// registrar, redirect server or misbehaving phone.
type rawPeer struct {
	tp *transport.Layer
	tx *transaction.Layer
}

// peerTU is a rawPeer's transaction user: h serves requests (nil: 501),
// stray gets what the layer hands to the core directly.
type peerTU struct {
	h     transaction.HandlerFunc
	stray func(transport.Incoming)
}

func (p peerTU) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if p.h == nil {
		_ = w.Respond(sip.NewResponse(req, sip.StatusNotImplemented, ""))
		return
	}
	p.h(ctx, w, req)
}

func (p peerTU) HandleDirect(in transport.Incoming) {
	if p.stray != nil {
		p.stray(in)
	}
}

func newRawPeer(t *testing.T, n *memnet.Network, addr string, h transaction.HandlerFunc, stray func(transport.Incoming)) *rawPeer {
	t.Helper()
	tp, err := transport.New(transport.Config{Net: n})
	require.NoError(t, err)
	// Test handlers may block: a goroutine per request (transaction.Go).
	tx, err := transaction.New(tp, transaction.Config{Handler: transaction.Go(peerTU{h: h, stray: stray})})
	require.NoError(t, err)
	_, err = tp.Listen(context.Background(), transport.UDP, addr)
	require.NoError(t, err)
	p := &rawPeer{tp: tp, tx: tx}
	t.Cleanup(p.close)
	return p
}

func (p *rawPeer) close() {
	_ = p.tx.Close()
	_ = p.tp.Close()
}

func staticResolver() transport.Resolver { return transport.StaticResolver{} }

type netipAddrPort = netip.AddrPort

func parseAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// newUDPUA starts a UA with cfg listening on loopback UDP, port 0, with a
// static resolver, and closes it at the end of the test or benchmark.
func newUDPUA(tb testing.TB, cfg ua.Config) *ua.UA {
	tb.Helper()
	cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}}
	cfg.Resolver = transport.StaticResolver{}
	u, err := ua.New(cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = u.Close() })
	return u
}
