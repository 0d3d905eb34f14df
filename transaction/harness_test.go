package transaction_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

var (
	clientAddr = netip.MustParseAddrPort("10.0.0.1:5060")
	serverAddr = netip.MustParseAddrPort("10.0.0.2:5060")
)

// loss describes how the fake network mistreats messages.
type loss struct {
	drop, dup float64       // probabilities
	maxDelay  time.Duration // uniform delay in [0, maxDelay): reorders
	seed      uint64
}

// wire is an in-memory network between Layers: it records every message
// sent (with the virtual time), and delivers it, serialized and parsed
// again, to the Layer at the destination address: in order through the
// destination's mailbox, as a transport's reader goroutine would (never
// on the sender's goroutine: a Sender must not call back into a Layer),
// or, when it is delayed, on a goroutine of its own, so delays reorder.
// Messages may also be dropped or duplicated.
type wire struct {
	mu    sync.Mutex
	nodes map[netip.AddrPort]transport.Handler
	boxes map[netip.AddrPort]*mailbox
	loss  loss
	rng   *rand.Rand
	log   []sent
	// blackhole drops everything sent to these addresses.
	blackhole map[netip.AddrPort]bool
}

type sent struct {
	at       time.Time
	from, to netip.AddrPort
	msg      sip.Message
}

func newWire(l loss) *wire {
	return &wire{
		nodes:     map[netip.AddrPort]transport.Handler{},
		boxes:     map[netip.AddrPort]*mailbox{},
		loss:      l,
		rng:       rand.New(rand.NewPCG(l.seed, l.seed^0x9e3779b97f4a7c15)),
		blackhole: map[netip.AddrPort]bool{},
	}
}

func (w *wire) send(m sip.Message, f transport.Flow) {
	data := m.AppendTo(nil)
	w.mu.Lock()
	w.log = append(w.log, sent{at: time.Now(), from: f.Local, to: f.Remote, msg: m})
	h := w.nodes[f.Remote]
	if h == nil || w.blackhole[f.Remote] {
		w.mu.Unlock()
		return
	}
	copies := 1
	if w.loss.drop > 0 && w.rng.Float64() < w.loss.drop {
		copies = 0
	} else if w.loss.dup > 0 && w.rng.Float64() < w.loss.dup {
		copies = 2
	}
	delays := make([]time.Duration, copies)
	for i := range delays {
		if w.loss.maxDelay > 0 {
			delays[i] = time.Duration(w.rng.Int64N(int64(w.loss.maxDelay)))
		}
	}
	box := w.boxes[f.Remote]
	if box == nil {
		box = &mailbox{h: h}
		w.boxes[f.Remote] = box
	}
	w.mu.Unlock()
	back := transport.Flow{Network: f.Network, Local: f.Remote, Remote: f.Local, Conn: f.Conn}
	for _, d := range delays {
		msg, err := sip.Parse(data)
		if err != nil {
			panic(err) // our own serialization must parse
		}
		if d == 0 {
			// In order, as over a stream or a quiet LAN.
			box.put(transport.Incoming{Msg: msg, Flow: back, At: time.Now()})
			continue
		}
		go func() {
			time.Sleep(d)
			h.HandleMessage(transport.Incoming{Msg: msg, Flow: back, At: time.Now()})
		}()
	}
}

// mailbox delivers to one Layer in order, on a goroutine that runs while
// messages wait and ends when none do.
type mailbox struct {
	h       transport.Handler
	mu      sync.Mutex
	q       []transport.Incoming
	running bool
}

func (b *mailbox) put(in transport.Incoming) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.q = append(b.q, in)
	if !b.running {
		b.running = true
		go b.drain()
	}
}

func (b *mailbox) drain() {
	for {
		b.mu.Lock()
		if len(b.q) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		in := b.q[0]
		b.q = b.q[1:]
		b.mu.Unlock()
		b.h.HandleMessage(in)
	}
}

// sentBy returns the messages sent from addr, with their offsets from t0.
func (w *wire) sentBy(addr netip.AddrPort, t0 time.Time, keep func(sip.Message) bool) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, s := range w.log {
		if s.from == addr && keep(s.msg) {
			out = append(out, s.at.Sub(t0))
		}
	}
	return out
}

func isMethod(m sip.Method) func(sip.Message) bool {
	return func(msg sip.Message) bool {
		r, ok := msg.(*sip.Request)
		return ok && r.Method == m
	}
}

func isStatus(code int) func(sip.Message) bool {
	return func(msg sip.Message) bool {
		r, ok := msg.(*sip.Response)
		return ok && r.StatusCode == code
	}
}

// node is one endpoint's Sender on a wire.
type node struct {
	w       *wire
	addr    netip.AddrPort
	failReq atomic.Pointer[error]
	// failResp, when set, fails every SendResponse, as a local firewall
	// makes sendto fail with EPERM.
	failResp atomic.Pointer[error]
	conn     atomic.Uint64
}

func (n *node) SendRequest(_ context.Context, req *sip.Request, t transport.Target) (transport.Flow, error) {
	if e := n.failReq.Load(); e != nil {
		return transport.Flow{}, *e
	}
	f := transport.Flow{Network: t.Network, Local: n.addr, Remote: t.Addr}
	if t.Network.Reliable() {
		f.Conn = n.conn.Add(1)
	}
	n.w.send(req, f)
	return f, nil
}

func (n *node) SendResponse(_ context.Context, res *sip.Response, f transport.Flow) error {
	if e := n.failResp.Load(); e != nil {
		return *e
	}
	n.w.send(res, f)
	return nil
}

func (n *node) SendOn(_ context.Context, m sip.Message, f transport.Flow) error {
	n.w.send(m, f)
	return nil
}

// Serve binds the node's layer to the wire.
func (n *node) Serve(h transport.Handler) error {
	n.w.mu.Lock()
	n.w.nodes[n.addr] = h
	n.w.mu.Unlock()
	return nil
}

// tu is a test's transaction user: h serves requests (nil: 501), strays
// records what the layer hands to the core directly.
type tu struct {
	h      transaction.Handler
	strays *strays
}

func (u tu) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	if u.h == nil {
		_ = w.Respond(sip.NewResponse(req, 501, ""))
		return
	}
	u.h.ServeSIP(ctx, w, req)
}

func (u tu) HandleDirect(in transport.Incoming) { u.strays.hook(in) }

// strays records what reaches the Handler's HandleDirect.
type strays struct {
	mu   sync.Mutex
	msgs []sip.Message
}

func (s *strays) hook(in transport.Incoming) {
	s.mu.Lock()
	s.msgs = append(s.msgs, in.Msg)
	s.mu.Unlock()
}

func (s *strays) list() []sip.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sip.Message(nil), s.msgs...)
}

// pair is a client Layer and a server Layer on one wire.
type pair struct {
	w              *wire
	cn, sn         *node
	client, server *transaction.Layer
	cStray, sStray *strays
}

func newPair(t *testing.T, l loss, h transaction.Handler, mod func(c, s *transaction.Config)) *pair {
	t.Helper()
	p := &pair{w: newWire(l), cStray: &strays{}, sStray: &strays{}}
	p.cn = &node{w: p.w, addr: clientAddr}
	p.sn = &node{w: p.w, addr: serverAddr}
	// No timer slack: the tests check the RFC instants exactly.
	// The handlers may block, as tests' handlers do: each request gets a
	// goroutine of its own (transaction.Go).
	cc := transaction.Config{Handler: transaction.Go(tu{strays: p.cStray}), Shards: 2, TimerSlack: -1}
	sc := transaction.Config{Handler: transaction.Go(tu{h: h, strays: p.sStray}), Shards: 2, TimerSlack: -1}
	if mod != nil {
		mod(&cc, &sc)
	}
	var err error
	p.client, err = transaction.New(p.cn, cc)
	require.NoError(t, err)
	p.server, err = transaction.New(p.sn, sc)
	require.NoError(t, err)
	t.Cleanup(func() {
		p.client.Close()
		p.server.Close()
	})
	return p
}

func newReq(m sip.Method) *sip.Request {
	u := sip.URI{Scheme: "sip", User: "bob", Host: "10.0.0.2", Port: 5060}
	r := sip.NewRequest(m, u)
	r.SetFrom(sip.Address{URI: sip.URI{Scheme: "sip", User: "alice", Host: "10.0.0.1"}, Params: sip.Params(";tag=" + sip.NewTag())})
	return r
}

func udp() transport.Target { return transport.Target{Network: transport.UDP, Addr: serverAddr} }
func tcp() transport.Target { return transport.Target{Network: transport.TCP, Addr: serverAddr} }

// collect reads every response until the transaction ends.
func collect(tx *transaction.ClientTx) []int {
	var codes []int
	for r := range tx.Responses() {
		codes = append(codes, r.StatusCode)
	}
	return codes
}

// respondWith is a handler that answers code at once.
func respondWith(code int) transaction.Handler {
	return transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		_ = w.Respond(sip.NewResponse(req, code, ""))
	})
}
