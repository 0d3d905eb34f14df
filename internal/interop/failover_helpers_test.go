//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// The real parts of the failover tests (failover_test.go): a DNS server
// (dnsmasq) serving NAPTR, SRV and A records of a test domain, Kamailio
// instances behind it, and a tracer that times what our UA sent where.

// testDomain is the SIP domain the failover tests resolve through DNS.
const testDomain = "example.test"

// dnsServer is a dnsmasq started by a test on a free loopback port,
// serving only the records the test wrote into its configuration.
type dnsServer struct {
	*daemon
	port int
}

// addr is where to ask it, "127.0.0.1:port".
func (d *dnsServer) addr() string { return net.JoinHostPort(loopback, strconv.Itoa(d.port)) }

// srvRecord is one SRV record of _sip._udp.<testDomain>.
type srvRecord struct {
	host             string // the target, a name under testDomain
	port             int
	priority, weight int
}

// startDNS starts dnsmasq with a NAPTR record of testDomain pointing to
// its _sip._udp SRV records, the SRV records given, and an A record of
// 127.0.0.1 for each SRV target. It reads no other file (no resolv.conf,
// no hosts) and forwards nothing.
func startDNS(t *testing.T, ctx context.Context, srvs []srvRecord) *dnsServer {
	t.Helper()
	bin := peerBinary(t, "dnsmasq", "dnsmasq-base")
	dir := shortTempDir(t, "dtdns")
	d := &dnsServer{port: freePort(t)}
	var b strings.Builder
	fmt.Fprintf(&b, "port=%d\nlisten-address=%s\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\n", d.port, loopback)
	fmt.Fprintf(&b, "pid-file=%s\nlocal-ttl=60\nlog-queries\nlog-facility=-\n", filepath.Join(dir, "dnsmasq.pid"))
	fmt.Fprintf(&b, "naptr-record=%s,10,50,S,SIP+D2U,,_sip._udp.%s\n", testDomain, testDomain)
	hosts := map[string]bool{}
	for _, s := range srvs {
		fmt.Fprintf(&b, "srv-host=_sip._udp.%s,%s,%d,%d,%d\n", testDomain, s.host, s.port, s.priority, s.weight)
		if !hosts[s.host] {
			hosts[s.host] = true
			fmt.Fprintf(&b, "host-record=%s,%s\n", s.host, loopback)
		}
	}
	conf := filepath.Join(dir, "dnsmasq.conf")
	require.NoError(t, os.WriteFile(conf, []byte(b.String()), 0o644))
	d.daemon = startDaemon(t, "dnsmasq", filepath.Join(artifacts(t), "dnsmasq.log"), bin,
		"--keep-in-foreground", "--conf-file="+conf)
	t.Cleanup(func() { logTails(t, d.log, conf) })
	waitListening(t, ctx, "udp", d.port)
	require.False(t, d.exited(), "dnsmasq exited at start: %v", d.err)
	return d
}

// setBusy makes a Kamailio started with busySwitch answer 503 with
// Retry-After to every request (on), or serve again (off).
func (k *kamailio) setBusy(t *testing.T, ctx context.Context, on bool) {
	t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	out, err := k.kamcmd(ctx, "htable.seti", "ctl", "busy", v)
	require.NoError(t, err, "kamcmd htable.seti: %s", out)
	require.NotContains(t, out, "error", "kamcmd htable.seti: %s", out)
}

// freeze stops every process of the Kamailio (SIGSTOP to its group): it
// holds its sockets but answers nothing, as a hung server does; thaw
// resumes it. A frozen Kamailio is thawed before it is stopped.
func (k *kamailio) freeze(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-k.cmd.Process.Pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGCONT) })
}

func (k *kamailio) thaw(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-k.cmd.Process.Pid, syscall.SIGCONT))
}

// hopLog is a transport.Tracer that keeps when each message went where.
type hopLog struct {
	mu   sync.Mutex
	msgs []hopMsg
}

type hopMsg struct {
	at     time.Time
	out    bool
	remote int // the peer's port
	start  string
	callID string
}

// Trace implements transport.Tracer.
func (h *hopLog) Trace(ev transport.TraceEvent) {
	data := string(ev.Data)
	start, _, _ := strings.Cut(data, "\r\n")
	m := hopMsg{at: ev.Time, out: ev.Direction == transport.Out, remote: int(ev.Flow.Remote.Port()),
		start: start, callID: headerValue(data, "Call-ID")}
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

// sentTo returns the times the requests of method with Call-ID callID
// ("" for any) were sent to port (0 for any), first to last.
func (h *hopLog) sentTo(method, callID string, port int) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, m := range h.msgs {
		if m.out && strings.HasPrefix(m.start, method+" ") && (callID == "" || m.callID == callID) && (port == 0 || m.remote == port) {
			out = append(out, m.at)
		}
	}
	return out
}

// invitesByCall counts the INVITEs sent, by Call-ID and by port.
func (h *hopLog) invitesByCall() map[string]map[int]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[int]int{}
	for _, m := range h.msgs {
		if !m.out || !strings.HasPrefix(m.start, "INVITE ") {
			continue
		}
		if out[m.callID] == nil {
			out[m.callID] = map[int]int{}
		}
		out[m.callID][m.remote]++
	}
	return out
}

// newFailoverUA starts one of our UAs on a UDP loopback port with cfg's
// lines and resolver; its events go to a channel and its messages to a
// wire log and a hop log.
func newFailoverUA(t *testing.T, name string, cfg ua.Config) (*peerUA, *hopLog) {
	t.Helper()
	p := &peerUA{name: name, events: make(chan ua.Event, 1024), wire: &wireLog{}, calls: make(chan *ua.Call, 16)}
	hops := &hopLog{}
	cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}}
	cfg.Transport.Tracer = tracers{p.wire, hops}
	cfg.UserAgent = "dialtone-interop"
	cfg.Media.DisableMedia = true
	cfg.OnEvent = func(e ua.Event) {
		select {
		case p.events <- e:
		default:
		}
	}
	cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
		c, err := ic.Answer(testSDP(9))
		if err == nil {
			p.calls <- c
		}
	}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	p.ua = u
	t.Cleanup(func() {
		require.NoError(t, u.Close(), "Close of %s", name)
		if t.Failed() {
			t.Logf("--- last messages of UA %s:\n%s", name, p.wire.dump(16))
		}
	})
	return p, hops
}

// tracers passes each event to several tracers.
type tracers []transport.Tracer

func (ts tracers) Trace(ev transport.TraceEvent) {
	for _, t := range ts {
		t.Trace(ev)
	}
}

// bobEverywhere starts bob, a UA with one line registered directly
// (numeric registrar) at each Kamailio, so that a call to
// sip:bob@example.test reaches him through any of them.
func bobEverywhere(t *testing.T, ctx context.Context, ks ...*kamailio) *peerUA {
	t.Helper()
	var lines []ua.LineConfig
	for _, k := range ks {
		lines = append(lines, ua.LineConfig{AOR: "sip:bob@" + testDomain, Password: "bobpw", Registrar: k.uri(""), Manual: true})
	}
	bob, _ := newFailoverUA(t, "bob", ua.Config{Lines: lines})
	for i, l := range bob.ua.Lines() {
		require.NoError(t, l.Register(ctx), "bob's registration at %s", ks[i].hostPort())
	}
	return bob
}

// callBob has p call bob and hang up, and returns the Call-ID.
func callBob(t *testing.T, ctx context.Context, p, bob *peerUA) string {
	t.Helper()
	c, err := p.ua.Dial(ctx, "sip:bob@"+testDomain, ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err, "Dial")
	in := bob.nextCall(t, ctx)
	require.Equal(t, c.CallID(), in.CallID())
	require.NoError(t, c.Hangup(ctx), "Hangup")
	return c.CallID()
}

// waitMove waits for the line's next EventServerMoved.
func waitMove(t *testing.T, ctx context.Context, p *peerUA) ua.Event {
	t.Helper()
	return p.waitEvent(t, ctx, ua.EventServerMoved, "")
}

// mustAddrPort parses "ip:port".
func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	require.NoError(t, err)
	return ap
}
