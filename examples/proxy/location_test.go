package main

import (
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// instance is one run of the program in a test.
type instance struct {
	udp    netip.AddrPort
	out    <-chan string
	cancel context.CancelFunc
	done   chan error
}

// startInstance runs the program with args and waits until it is ready.
func startInstance(t *testing.T, args ...string) *instance {
	t.Helper()
	out, ch := lines(t)
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{out: ch, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, args, out, io.Discard) }()
	t.Cleanup(func() { in.stop(t) })
	in.udp = netip.MustParseAddrPort(strings.TrimPrefix(waitLine(t, ch, "listening udp "), "listening udp "))
	waitLine(t, ch, "ready ")
	return in
}

// stop ends the run and waits for it; it may be called again.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err, ok := <-in.done:
		if ok {
			require.NoError(t, err)
			close(in.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// locPhone is one of our UAs with a line at the proxy at addr; a call to
// it is answered and its Request-URI sent on answered.
func locPhone(t *testing.T, user string, addr netip.AddrPort, answered chan<- string) *ua.UA {
	t.Helper()
	cfg := ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{"example.test": {{Network: transport.UDP, Addr: addr}}},
		Lines:    []ua.LineConfig{{AOR: "sip:" + user + "@example.test", Password: user + "-secret", Registrar: "sip:example.test"}},
	}
	if answered != nil {
		cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
			if _, err := ic.Answer([]byte(testSDP)); err == nil {
				answered <- ic.Request().URI.String()
			}
		}
	}
	cfg.Media.DisableMedia = true
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

const testSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// callThrough has caller dial user through the proxy and waits for the
// callee to answer, then hangs up.
func callThrough(t *testing.T, caller *ua.UA, user string, answered <-chan string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, "sip:"+user+"@example.test", ua.DialOptions{SDP: []byte(testSDP)})
	require.NoError(t, err, "call to %s", user)
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not answer", user)
	}
	require.NoError(t, c.Hangup(ctx))
}

// noLine fails if a line with prefix has been printed so far.
func noLine(t *testing.T, ch <-chan string, prefix string) {
	t.Helper()
	for {
		select {
		case l := <-ch:
			require.False(t, strings.HasPrefix(l, prefix), "printed %q", l)
		default:
			return
		}
	}
}

var locUsers = []string{"-domain", "example.test", "-user", "alice:alice-secret", "-user", "bob:bob-secret"}

// TestBindingsSurviveRestart: bob registers at a proxy with -db; the proxy
// stops and starts again on the same file and port, and alice's call
// reaches bob, who has not registered again.
func TestBindingsSurviveRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "location.db")
	args := append([]string{"-db", db}, locUsers...)
	first := startInstance(t, append(args, "-listen", "127.0.0.1:0")...)
	answered := make(chan string, 1)
	locPhone(t, "bob", first.udp, answered)
	waitLine(t, first.out, "registered aor=sip:bob@example.test contacts=1")
	first.stop(t)

	second := startInstance(t, append(args, "-listen", first.udp.String())...)
	alice := locPhone(t, "alice", second.udp, nil)
	waitLine(t, second.out, "registered aor=sip:alice@example.test contacts=1")
	callThrough(t, alice, "bob", answered)
	noLine(t, second.out, "registered aor=sip:bob@")
}

// TestSharedPostgres: two instances on one PostgreSQL database, each with
// one of the phones: each routes a call to the phone registered through
// the other.
func TestSharedPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	args := append([]string{"-pg", pg.DSN("postgres"), "-listen", "127.0.0.1:0"}, locUsers...)
	a := startInstance(t, args...)
	b := startInstance(t, args...)
	aliceAnswered, bobAnswered := make(chan string, 1), make(chan string, 1)
	alice := locPhone(t, "alice", a.udp, aliceAnswered)
	waitLine(t, a.out, "registered aor=sip:alice@example.test contacts=1")
	bob := locPhone(t, "bob", b.udp, bobAnswered)
	waitLine(t, b.out, "registered aor=sip:bob@example.test contacts=1")
	callThrough(t, alice, "bob", bobAnswered) // through a, to bob registered at b
	callThrough(t, bob, "alice", aliceAnswered)
	noLine(t, a.out, "registered aor=sip:bob@")
	noLine(t, b.out, "registered aor=sip:alice@")
}
