package transaction_test

import (
	"context"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// memSender is a Transport that delivers straight to the handler its peer
// was bound to, sharing the message (no serialization), so that
// benchmarks measure the transaction layer rather than the parser. Set
// peer before New binds the layers.
type memSender struct {
	local netip.AddrPort
	peer  *memSender
	h     transport.Handler // bound by Serve
	sent  atomic.Int64
	drop  bool
}

func (m *memSender) Serve(h transport.Handler) error {
	m.h = h
	return nil
}

func (m *memSender) deliver(msg sip.Message, f transport.Flow) {
	m.sent.Add(1)
	if m.drop {
		return
	}
	if p := m.peer; p != nil && p.h != nil {
		p.h.HandleMessage(transport.Incoming{Msg: msg, Flow: transport.Flow{Network: f.Network, Local: f.Remote, Remote: f.Local, Conn: f.Conn}})
	}
}

func (m *memSender) SendRequest(_ context.Context, req *sip.Request, t transport.Target) (transport.Flow, error) {
	f := transport.Flow{Network: t.Network, Local: m.local, Remote: t.Addr}
	m.deliver(req, f)
	return f, nil
}

func (m *memSender) SendResponse(_ context.Context, res *sip.Response, f transport.Flow) error {
	m.deliver(res, f)
	return nil
}

func (m *memSender) SendOn(_ context.Context, msg sip.Message, f transport.Flow) error {
	m.deliver(msg, f)
	return nil
}

// benchReq builds a small OPTIONS with a unique branch.
func benchReq(tmpl *sip.Request, n uint64, network string) *sip.Request {
	r := tmpl.Clone()
	r.Prepend("Via", "SIP/2.0/"+network+" 10.0.0.1:5060;branch=z9hG4bK"+strconv.FormatUint(n, 36))
	return r
}

func benchTemplate() *sip.Request {
	r := sip.NewRequest(sip.OPTIONS, sip.URI{Scheme: "sip", Host: "10.0.0.2"})
	r.SetFrom(sip.Address{URI: sip.URI{Scheme: "sip", Host: "10.0.0.1"}, Params: ";tag=1"})
	return r
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const held = 100_000

// BenchmarkHeldClient holds 100,000 non-INVITE client transactions waiting
// for responses (Timers E and F armed, UDP) and reports the heap bytes per
// transaction, the requests themselves excluded.
func BenchmarkHeldClient(b *testing.B) {
	tmpl := benchTemplate()
	var perTx float64
	for b.Loop() {
		s := &memSender{local: clientAddr, drop: true}
		l, err := transaction.New(s, transaction.Config{MaxTransactions: -1})
		if err != nil {
			b.Fatal(err)
		}
		reqs := make([]*sip.Request, held)
		txs := make([]*transaction.ClientTx, held)
		h0 := heap()
		for i := range reqs {
			reqs[i] = benchReq(tmpl, uint64(i), "UDP")
		}
		h1 := heap()
		for i, r := range reqs {
			txs[i], err = l.Request(context.Background(), r, udp())
			if err != nil {
				b.Fatal(err)
			}
		}
		for l.Len() != held {
			runtime.Gosched()
		}
		time.Sleep(10 * time.Millisecond) // let the loops settle their queues
		h2 := heap()
		perTx = float64(int64(h2)-int64(h1)) / held
		b.ReportMetric(float64(int64(h1)-int64(h0))/held, "msgB/tx")
		runtime.KeepAlive(reqs)
		runtime.KeepAlive(txs)
		l.Close()
	}
	b.ReportMetric(perTx, "B/tx")
}

// BenchmarkHeldServer holds 100,000 non-INVITE server transactions in
// Completed (Timer J, UDP), answered 200 by the handler, and reports heap
// bytes per transaction with the requests and responses excluded (the
// responses' size is measured apart and subtracted).
func BenchmarkHeldServer(b *testing.B) {
	tmpl := benchTemplate()
	var perTx float64
	for b.Loop() {
		s := &memSender{local: serverAddr, drop: true}
		h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			_ = w.Respond(sip.NewResponse(req, 200, ""))
		})
		l, err := transaction.New(s, transaction.Config{Handler: h, MaxTransactions: -1})
		if err != nil {
			b.Fatal(err)
		}
		reqs := make([]*sip.Request, held)
		for i := range reqs {
			reqs[i] = benchReq(tmpl, uint64(i), "UDP")
		}
		// The size of the responses the handler will build.
		h0 := heap()
		resps := make([]*sip.Response, held)
		for i, r := range reqs {
			resps[i] = sip.NewResponse(r, 200, "")
		}
		resBytes := float64(int64(heap())-int64(h0)) / held
		runtime.KeepAlive(resps)
		resps = nil
		h1 := heap()
		f := transport.Flow{Network: transport.UDP, Local: serverAddr, Remote: clientAddr}
		for _, r := range reqs {
			l.HandleMessage(transport.Incoming{Msg: r, Flow: f})
		}
		for s.sent.Load() != held {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		h2 := heap()
		if l.Len() != held {
			b.Fatalf("%d transactions held", l.Len())
		}
		perTx = float64(int64(h2)-int64(h1))/held - resBytes
		b.ReportMetric(resBytes, "resB/tx")
		runtime.KeepAlive(reqs)
		l.Close()
	}
	b.ReportMetric(perTx, "B/tx")
}

// BenchmarkThroughput runs non-INVITE transactions (request → 200) from a
// client Layer to a server Layer through an in-memory Sender over a
// reliable flow, from many goroutines; it reports transactions per second.
func BenchmarkThroughput(b *testing.B) {
	for _, network := range []transport.Network{transport.TCP, transport.UDP} {
		b.Run(string(network), func(b *testing.B) {
			cs := &memSender{local: clientAddr}
			ss := &memSender{local: serverAddr, peer: cs}
			cs.peer = ss
			h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
				_ = w.Respond(sip.NewResponse(req, 200, ""))
			})
			client, err := transaction.New(cs, transaction.Config{MaxTransactions: -1})
			if err != nil {
				b.Fatal(err)
			}
			server, err := transaction.New(ss, transaction.Config{Handler: h, MaxTransactions: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer server.Close()
			defer client.Close()
			tmpl := benchTemplate()
			target := transport.Target{Network: network, Addr: serverAddr}
			var seq atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					tx, err := client.Request(ctx, benchReq(tmpl, seq.Add(1), string(network)), target)
					if err != nil {
						b.Error(err)
						return
					}
					if r, err := tx.Final(ctx); err != nil || r.StatusCode != 200 {
						b.Error(r, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
		})
	}
}
