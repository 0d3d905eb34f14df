package ua_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// The servers of the failover tests: example.test resolves to A, B and C,
// in that order (as SRV priorities 10, 20, 30 would give).
const (
	srvA = "192.0.2.10:5060"
	srvB = "192.0.2.11:5060"
	srvC = "192.0.2.12:5060"
)

func failoverResolver(addrs ...string) transport.StaticResolver {
	var ts []transport.Target
	for _, a := range addrs {
		ts = append(ts, transport.Target{Network: transport.UDP, Addr: netip.MustParseAddrPort(a)})
	}
	return transport.StaticResolver{"example.test": ts}
}

// seen is a request a failover server got, and when.
type seen struct {
	at  time.Time
	req *sip.Request
}

// foServer is a SIP server on memnet whose behaviour a test switches:
// it answers REGISTER, OPTIONS and INVITE with 200 (mode "ok"), or with
// 503 and a Retry-After (mode "503"), or rings and holds the INVITE
// ("ring"), or answers 500 ("500"). It records every request.
type foServer struct {
	addr string
	mode atomic.Value // string
	ra   atomic.Int64 // Retry-After seconds for "503"
	// canceled counts the held INVITEs ended by a CANCEL.
	canceled atomic.Int32

	mu   sync.Mutex
	reqs []seen
}

func newFOServer(t *testing.T, n *memnet.Network, addr, mode string) *foServer {
	t.Helper()
	s := &foServer{addr: addr}
	s.mode.Store(mode)
	newRawPeer(t, n, addr, s.serve, nil)
	return s
}

func (s *foServer) serve(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, seen{at: time.Now(), req: req})
	s.mu.Unlock()
	switch s.mode.Load().(string) {
	case "503":
		res := sip.NewResponse(req, sip.StatusServiceUnavailable, "")
		if ra := s.ra.Load(); ra > 0 {
			res.Set("Retry-After", strconv.FormatInt(ra, 10))
		}
		_ = w.Respond(res)
	case "500":
		_ = w.Respond(sip.NewResponse(req, sip.StatusServerInternalError, ""))
	case "ring":
		if req.Method == sip.INVITE {
			_ = w.Respond(sip.NewResponse(req, sip.StatusRinging, ""))
			<-ctx.Done() // held until CANCEL
			if errors.Is(context.Cause(ctx), transaction.ErrCanceled) {
				s.canceled.Add(1)
			}
			return
		}
		fallthrough
	default:
		res := sip.NewResponse(req, sip.StatusOK, "")
		if req.Method == sip.INVITE {
			res.Set("Contact", "<sip:srv@"+s.addr+">")
			res.SetBody([]byte(testSDP), "application/sdp")
		}
		if req.Method == sip.REGISTER {
			if cts := req.Values("Contact"); len(cts) > 0 {
				res.Set("Contact", cts[0])
			}
		}
		_ = w.Respond(res)
	}
}

// got returns the requests of method m the server received.
func (s *foServer) got(m sip.Method) []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []seen
	for _, x := range s.reqs {
		if x.req.Method == m {
			out = append(out, x)
		}
	}
	return out
}

// blackhole is a UDP socket on memnet that reads and records whatever
// comes and answers nothing unless told to: a dead server, or one that
// answers late.
type blackhole struct {
	pc   net.PacketConn
	done chan struct{}

	mu   sync.Mutex
	msgs []seenMsg
}

type seenMsg struct {
	at   time.Time
	from net.Addr
	msg  sip.Message
}

func newBlackhole(t *testing.T, n *memnet.Network, addr string) *blackhole {
	t.Helper()
	pc, err := n.ListenPacket(context.Background(), "udp", addr)
	require.NoError(t, err)
	b := &blackhole{pc: pc, done: make(chan struct{})}
	go b.read()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) read() {
	defer close(b.done)
	buf := make([]byte, 65535)
	for {
		k, from, err := b.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := sip.Parse(append([]byte(nil), buf[:k]...))
		if err != nil {
			continue
		}
		b.mu.Lock()
		b.msgs = append(b.msgs, seenMsg{at: time.Now(), from: from, msg: m})
		b.mu.Unlock()
	}
}

func (b *blackhole) close() {
	_ = b.pc.Close()
	<-b.done
}

// requests returns the requests of method m received.
func (b *blackhole) requests(m sip.Method) []seenMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []seenMsg
	for _, x := range b.msgs {
		if r, ok := x.msg.(*sip.Request); ok && r.Method == m {
			out = append(out, x)
		}
	}
	return out
}

// answer sends res to where the first request of method m came from.
func (b *blackhole) answer(t *testing.T, m sip.Method, mk func(*sip.Request) *sip.Response) {
	t.Helper()
	rs := b.requests(m)
	require.NotEmpty(t, rs)
	res := mk(rs[0].msg.(*sip.Request))
	_, err := b.pc.WriteTo(res.AppendTo(nil), rs[0].from)
	require.NoError(t, err)
}

// foLine is the line of the failover tests: registrar example.test.
func foLine(mod func(*ua.LineConfig)) ua.LineConfig {
	lc := ua.LineConfig{AOR: "sip:alice@example.test", Registrar: "sip:example.test", Manual: true}
	if mod != nil {
		mod(&lc)
	}
	return lc
}

// requireSameRequest checks that b is a that failed over: a new
// transaction (another branch) of the same request (Call-ID, From tag,
// CSeq).
func requireSameRequest(t *testing.T, a, b *sip.Request) {
	t.Helper()
	require.Equal(t, a.CallID(), b.CallID(), "same Call-ID")
	fa, _ := a.From()
	fb, _ := b.From()
	require.Equal(t, fa.Tag(), fb.Tag(), "same From tag")
	ca, _ := a.CSeq()
	cb, _ := b.CSeq()
	require.Equal(t, ca, cb, "same CSeq")
	va, _ := a.TopVia()
	vb, _ := b.TopVia()
	require.NotEqual(t, va.Branch(), vb.Branch(), "a new transaction")
}

// foSetup is the common failover scene: a UA at 192.0.2.1 whose lines
// reach example.test, which resolves to srvA, a blackhole, then srvB, a
// server that answers "ok".
type foSetup struct {
	n    *memnet.Network
	hole *blackhole
	b    *foServer
	u    *ua.UA
	rec  *recorder
}

// newFOSetup builds the scene with lines (one foLine(nil) when none); the
// network closes when the test ends.
func newFOSetup(t *testing.T, lines ...ua.LineConfig) *foSetup {
	t.Helper()
	if len(lines) == 0 {
		lines = []ua.LineConfig{foLine(nil)}
	}
	s := &foSetup{n: memnet.New(memnet.Config{})}
	t.Cleanup(func() { s.n.Close() })
	s.hole = newBlackhole(t, s.n, srvA)
	s.b = newFOServer(t, s.n, srvB, "ok")
	s.u, s.rec = newUA(t, s.n, "192.0.2.1:5060", ua.Config{Resolver: failoverResolver(srvA, srvB), Lines: lines})
	return s
}
