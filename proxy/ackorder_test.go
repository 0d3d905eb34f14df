package proxy_test

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// slowResolver delays its nth resolution of a URI of host by delay. It is
// no transport.NumericResolver, so that the proxy resolves every next hop
// through it, on a goroutine, even an IP address.
type slowResolver struct {
	static transport.StaticResolver
	host   string
	nth    int
	delay  time.Duration
	mu     sync.Mutex
	seen   int
}

func (r *slowResolver) Resolve(ctx context.Context, u sip.URI) ([]transport.Target, error) {
	if u.Host == r.host {
		r.mu.Lock()
		r.seen++
		slow := r.seen == r.nth
		r.mu.Unlock()
		if slow {
			time.Sleep(r.delay)
		}
	}
	return r.static.Resolve(ctx, u)
}

// methodLog records the methods of the requests a UA receives, in order.
type methodLog struct {
	mu  sync.Mutex
	got []string
}

func (l *methodLog) Trace(ev transport.TraceEvent) {
	if ev.Direction != transport.In || bytes.HasPrefix(ev.Data, []byte("SIP/2.0")) {
		return
	}
	m, _, _ := bytes.Cut(ev.Data, []byte(" "))
	l.mu.Lock()
	l.got = append(l.got, string(m))
	l.mu.Unlock()
}

func (l *methodLog) methods() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// TestACKBeforeBYE: alice hangs up right after her ACK. The proxy's
// forward of the ACK is slow (its next hop resolves late), and the BYE
// behind it must still not overtake it: bob gets INVITE, ACK, BYE.
func TestACKBeforeBYE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bobAddr = "192.0.2.12:5060"
		// The INVITE's next hop resolves first, the ACK's second.
		e := newEnv(t, proxy.Config{Resolver: &slowResolver{host: "192.0.2.12", nth: 2, delay: time.Second}})
		alice := e.newPhone("192.0.2.11:5060", "alice", noUA, true)
		log := &methodLog{}
		answered := make(chan *ua.Call, 1)
		cfg := ua.Config{
			Transport: ua.TransportConfig{Net: e.n, Tracer: log}, Resolver: phoneResolver(),
			Lines:  []ua.LineConfig{{AOR: "sip:bob@" + domain, Password: users["bob"].Password, Registrar: "sip:" + domain}},
			Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: bobAddr}},
			OnCall: func(_ context.Context, ic *ua.IncomingCall) {
				if c, err := ic.Answer([]byte(testSDP)); err == nil {
					answered <- c
				}
			},
		}
		cfg.Media.DisableMedia = true
		bob, err := ua.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = bob.Close() })
		synctest.Wait()

		c, err := alice.dial(t, "sip:bob@"+domain)
		require.NoError(t, err)
		in := recv(t, answered, time.Minute, "bob's answer")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Hangup(ctx))
		select {
		case <-in.Done():
		case <-time.After(time.Minute):
			t.Fatal("bob's call did not end")
		}
		synctest.Wait()
		// The delayed ACK lets bob retransmit his 2xx, and alice ACKs
		// each: the ACKs of retransmissions that came after the BYE may
		// follow it, but the first ACK comes before it.
		got := log.methods()
		ack, bye := slices.Index(got, "ACK"), slices.Index(got, "BYE")
		require.Equal(t, "INVITE", got[0], got)
		require.True(t, ack > 0 && bye > ack, "the BYE overtook the ACK: %v", got)
	})
}
