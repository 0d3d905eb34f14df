package transport

import (
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// gate is a Handler that holds the first message until released, so that
// what follows piles up in the socket and is read in large batches, and
// records the CSeq numbers each Call-ID arrives with.
type gate struct {
	first   chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	seqs    map[string][]uint32
	all     chan struct{}
	want    int
	n       int
}

func (g *gate) HandleMessage(in Incoming) {
	g.once.Do(func() {
		close(g.first)
		<-g.release
	})
	cs, _ := in.Msg.CSeq()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seqs[in.Msg.CallID()] = append(g.seqs[in.Msg.CallID()], cs.Seq)
	g.n++
	if g.n == g.want {
		close(g.all)
	}
}

func (g *gate) HandleFlowError(Flow, error) {}

// TestUDPFanoutKeepsCallOrder: datagrams read in batches are delivered by
// several goroutines, yet every Call-ID's messages arrive in the order
// they were sent, and none is lost.
func TestUDPFanoutKeepsCallOrder(t *testing.T) {
	tests := []struct {
		name    string
		workers int
	}{
		{"read loop only", 1},
		{"four workers", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const calls, perCall = 16, 40
			g := &gate{first: make(chan struct{}), release: make(chan struct{}), seqs: map[string][]uint32{},
				all: make(chan struct{}), want: calls*perCall + 1}
			l := newServedLayer(t, Config{UDPWorkers: tt.workers}, g)
			addr := listen(t, l, UDP, "127.0.0.1:0")
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
			require.NoError(t, err)
			defer c.Close()
			send := func(callID string, seq uint32) {
				req := options(t, addr.String(), 0)
				req.SetTopVia(sip.Via{Proto: "SIP/2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060,
					Params: sip.Params(";branch=" + sip.NewBranch())})
				req.SetCallID(callID)
				req.SetCSeq(sip.CSeq{Seq: seq, Method: sip.OPTIONS})
				_, err := c.Write(req.AppendTo(nil))
				require.NoError(t, err)
			}
			send("opener", 1)
			<-g.first
			// Runs of four messages per call, so that a batch holds several
			// messages of each of several calls.
			for run := range uint32(perCall / 4) {
				for call := range calls {
					for j := range uint32(4) {
						send("call-"+strconv.Itoa(call), run*4+j+1)
					}
				}
			}
			close(g.release)
			<-g.all
			g.mu.Lock()
			defer g.mu.Unlock()
			for call := range calls {
				got := g.seqs["call-"+strconv.Itoa(call)]
				require.Len(t, got, perCall)
				for i, s := range got {
					require.Equal(t, uint32(i+1), s, "call %d out of order", call)
				}
			}
		})
	}
}
