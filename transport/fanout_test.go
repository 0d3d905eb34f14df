package transport

import (
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

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

// fanoutReadBuffer is the receive buffer TestUDPFanoutKeepsCallOrder asks
// for: below a stock kernel's net.core.rmem_max (212,992 bytes), so every
// host grants it as asked.
const fanoutReadBuffer = 200 << 10

// fanoutWait bounds each wait of TestUDPFanoutKeepsCallOrder: the first
// message reaching the handler, then every message of the burst.
const fanoutWait = 10 * time.Second

// TestUDPFanoutKeepsCallOrder: datagrams read in batches are delivered by
// several goroutines, yet every Call-ID's messages arrive in the order
// they were sent, and none is lost.
//
// The burst piles up in the listener's socket while the handler holds the
// first message, so it is sized to what such a socket holds on this host:
// the socket asks for a buffer every kernel grants (fanoutReadBuffer), and
// how many datagrams that holds is measured on a probe socket (the kernel
// charges each datagram more than its payload), so that nothing depends
// on a raised net.core.rmem_max.
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
			const calls, run, maxPerCall = 16, 4, 40
			wire := func(target, callID string, seq uint32) []byte {
				req := options(t, target, 0)
				req.SetTopVia(sip.Via{Proto: "SIP/2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060,
					Params: sip.Params(";branch=" + sip.NewBranch())})
				req.SetCallID(callID)
				req.SetCSeq(sip.CSeq{Seq: seq, Method: sip.OPTIONS})
				return req.AppendTo(nil)
			}
			// Three quarters of what the socket holds, in whole runs per call.
			size := len(wire("127.0.0.1:65535", "call-"+strconv.Itoa(calls-1), maxPerCall))
			holds, rcvbuf := udpBurstCapacity(t, fanoutReadBuffer, size, 2*(calls*maxPerCall+1))
			perCall := min(maxPerCall, (holds*3/4-1)/calls/run*run)
			t.Logf("socket receive buffer %d bytes holds %d datagrams of %d bytes: %d messages per call", rcvbuf, holds, size, perCall)
			require.GreaterOrEqual(t, perCall, 2*run,
				"a UDP socket here holds only %d datagrams of %d bytes (SO_RCVBUF %d): too few for batches of several calls", holds, size, rcvbuf)

			g := &gate{first: make(chan struct{}), release: make(chan struct{}), seqs: map[string][]uint32{},
				all: make(chan struct{}), want: calls*perCall + 1}
			l := newServedLayer(t, Config{UDPWorkers: tt.workers, UDPReadBuffer: fanoutReadBuffer}, g)
			addr := listen(t, l, UDP, "127.0.0.1:0")
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
			require.NoError(t, err)
			defer c.Close()
			var releaseOnce sync.Once
			release := func() { releaseOnce.Do(func() { close(g.release) }) }
			t.Cleanup(release) // a failed wait must not leave the read loop held
			send := func(b []byte) {
				_, err := c.Write(b)
				require.NoError(t, err)
			}
			send(wire(addr.String(), "opener", 1))
			waitClosed(t, g.first, "the first message to reach the handler")
			// Runs of four messages per call, so that a batch holds several
			// messages of each of several calls.
			for r := range uint32(perCall / run) {
				for call := range calls {
					for j := range uint32(run) {
						send(wire(addr.String(), "call-"+strconv.Itoa(call), r*run+j+1))
					}
				}
			}
			release()
			select {
			case <-g.all:
			case <-time.After(fanoutWait):
				g.mu.Lock()
				defer g.mu.Unlock()
				t.Fatalf("%d of %d messages delivered after %s", g.n, g.want, fanoutWait)
			}
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

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(fanoutWait):
		t.Fatalf("no %s after %s", what, fanoutWait)
	}
}

// udpBurstCapacity measures how many datagrams of size bytes a loopback
// UDP socket asking for readBuf bytes of receive buffer holds unread: it
// sends most of them to a probe socket, then counts what can be read.
// Loopback delivery happens within the send, so what was dropped is gone
// when the sends return. It also returns the SO_RCVBUF the probe got (-1
// where it cannot be read).
func udpBurstCapacity(t *testing.T, readBuf, size, most int) (holds, rcvbuf int) {
	t.Helper()
	rc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer rc.Close()
	require.NoError(t, rc.SetReadBuffer(readBuf))
	rcvbuf = socketRcvBuf(t, rc)
	sc, err := net.DialUDP("udp", nil, rc.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer sc.Close()
	payload := make([]byte, size)
	for range most {
		_, err := sc.Write(payload)
		require.NoError(t, err)
	}
	buf := make([]byte, size+1)
	for holds < most {
		require.NoError(t, rc.SetReadDeadline(time.Now().Add(probeDrain)))
		if _, err := rc.Read(buf); err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			break
		}
		holds++
	}
	return holds, rcvbuf
}

// probeDrain is how long udpBurstCapacity waits for one more datagram
// before it counts the probe socket empty.
const probeDrain = 200 * time.Millisecond
