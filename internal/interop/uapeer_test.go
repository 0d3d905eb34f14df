//go:build interop

package interop

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// testSDP is the fixed offer or answer our UAs carry (media is not part of
// these tests): PCMU on a port nothing listens on.
func testSDP(port int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", port)
}

// wireLog keeps a copy of every message a UA sends and receives (its
// transport.Tracer).
type wireLog struct {
	mu   sync.Mutex
	msgs []tracedMsg
}

type tracedMsg struct {
	out  bool
	data string
}

// Trace implements transport.Tracer.
func (w *wireLog) Trace(ev transport.TraceEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, tracedMsg{out: ev.Direction == transport.Out, data: string(ev.Data)})
}

// sent returns the messages sent whose start line begins with prefix.
func (w *wireLog) sent(prefix string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if m.out && strings.HasPrefix(m.data, prefix) {
			out = append(out, m.data)
		}
	}
	return out
}

// received returns the messages received whose start line begins with
// prefix.
func (w *wireLog) received(prefix string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if !m.out && strings.HasPrefix(m.data, prefix) {
			out = append(out, m.data)
		}
	}
	return out
}

// waitReceived waits until a message whose start line begins with prefix
// has been received, for messages that travel beside what the test waited
// on (an ACK to a 302 races the redirected call it leads to), and returns
// those received.
func (w *wireLog) waitReceived(t *testing.T, prefix, msg string) []string {
	t.Helper()
	require.Eventually(t, func() bool { return len(w.received(prefix)) > 0 }, peerWait, 20*time.Millisecond, msg)
	return w.received(prefix)
}

// tracedUA starts a UA from cfg with a wireLog as its tracer, listening
// on a loopback UDP port unless cfg says where. When the test ends the UA
// is closed and, if the test failed, the last messages it sent and
// received are logged.
func tracedUA(t *testing.T, cfg ua.Config) (*ua.UA, *wireLog) {
	t.Helper()
	w := &wireLog{}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []ua.ListenConfig{{Network: transport.UDP, Addr: net.JoinHostPort(loopback, "0")}}
	}
	cfg.Transport.Tracer = w
	u, err := ua.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, u.Close())
		if t.Failed() {
			t.Logf("--- last messages of our UA:\n%s", w.dump(12))
		}
	})
	return u, w
}

// dump returns the last n messages, for a failing test's log.
func (w *wireLog) dump(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b bytes.Buffer
	from := max(0, len(w.msgs)-n)
	for _, m := range w.msgs[from:] {
		dir := "<<< received"
		if m.out {
			dir = ">>> sent"
		}
		fmt.Fprintf(&b, "%s\n%s\n", dir, m.data)
	}
	return b.String()
}

// headerValue returns the value of the first header line called name (full
// form, any case) in a traced message.
func headerValue(msg, name string) string {
	for l := range strings.SplitSeq(msg, "\r\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// peerUA is one of our user agents in a peer test, with its events on a
// channel and its wire log.
type peerUA struct {
	name   string
	ua     *ua.UA
	events chan ua.Event
	wire   *wireLog
	calls  chan *ua.Call // incoming calls it answered
}

// uaOptions are the variants of a test UA.
type uaOptions struct {
	user     string // AOR user at the Kamailio; "" for no line
	password string // "" for <user>pw
	expires  time.Duration
	manual   bool              // do not register at New
	network  transport.Network // listen and register over it; "" for UDP
	outbound string            // the line's outbound proxy; "" for none
	// onCall overrides the default handler, which answers every call with
	// testSDP.
	onCall func(ctx context.Context, ic *ua.IncomingCall)
	// media gives the UA media sessions on loopback: the default handler
	// answers from the call's session instead of testSDP.
	media bool
}

// newPeerUA starts one of our UAs on a UDP loopback port with a line at
// registrar k (Kamailio or our proxy). Close runs when the test ends; the
// wire log is printed when the test has failed.
func newPeerUA(t *testing.T, k registrar, opt uaOptions) *peerUA {
	t.Helper()
	p := &peerUA{name: opt.user, events: make(chan ua.Event, 1024), wire: &wireLog{}, calls: make(chan *ua.Call, 16)}
	cfg := ua.Config{
		Listen:    []ua.ListenConfig{{Network: cmp.Or(opt.network, transport.UDP), Addr: net.JoinHostPort(loopback, "0")}},
		Transport: ua.TransportConfig{Tracer: p.wire},
		UserAgent: "dialtone-interop",
		OnEvent: func(e ua.Event) {
			select {
			case p.events <- e:
			default:
			}
		},
	}
	if opt.onCall != nil {
		cfg.OnCall = opt.onCall
	} else {
		var answer []byte
		if !opt.media {
			answer = testSDP(9)
		}
		cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(answer)
			if err == nil {
				p.calls <- c
			}
		}
	}
	if opt.media {
		cfg.Media = ua.MediaConfig{IP: netip.MustParseAddr(loopback)}
	}
	if opt.user != "" {
		pw := opt.password
		if pw == "" {
			pw = opt.user + "pw"
		}
		cfg.Lines = []ua.LineConfig{{
			AOR: k.uri(opt.user), Password: pw, Registrar: k.uri(""),
			Expires: opt.expires, Manual: opt.manual, Transport: opt.network, OutboundProxy: opt.outbound,
		}}
	}
	u, err := ua.New(cfg)
	require.NoError(t, err)
	p.ua = u
	t.Cleanup(func() {
		require.NoError(t, u.Close(), "Close of %s", p.name)
		if t.Failed() {
			t.Logf("--- last messages of UA %s:\n%s", p.name, p.wire.dump(12))
		}
	})
	return p
}

// line returns the UA's line.
func (p *peerUA) line() *ua.Line { return p.ua.Lines()[0] }

// waitEvent waits for an event of kind (and, if set, of call callID),
// dropping the others, and returns it.
func (p *peerUA) waitEvent(t *testing.T, ctx context.Context, kind ua.EventKind, callID string) ua.Event {
	t.Helper()
	timer := time.NewTimer(peerWait)
	defer timer.Stop()
	for {
		select {
		case e := <-p.events:
			if e.Kind == kind && (callID == "" || e.CallID == callID) {
				return e
			}
		case <-timer.C:
			t.Fatalf("UA %s: no %s event within %s", p.name, kind, peerWait)
		case <-ctx.Done():
			t.Fatalf("UA %s: no %s event: %v", p.name, kind, ctx.Err())
		}
	}
}

// nextCall waits for the next call the UA answered.
func (p *peerUA) nextCall(t *testing.T, ctx context.Context) *ua.Call {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(peerWait):
		t.Fatalf("UA %s answered no call within %s", p.name, peerWait)
	case <-ctx.Done():
		t.Fatalf("UA %s answered no call: %v", p.name, ctx.Err())
	}
	return nil
}

// waitDone waits until call c has ended and returns why.
func waitDone(t *testing.T, ctx context.Context, c *ua.Call, who string) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(peerWait):
		t.Fatalf("%s: call %s did not end within %s (state %s)", who, c.CallID(), peerWait, c.State())
	case <-ctx.Done():
		t.Fatalf("%s: call %s did not end: %v", who, c.CallID(), ctx.Err())
	}
	return nil
}
