package main

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a stand-in for a SIP server on loopback: it counts datagrams,
// and closes each TCP connection after its first maxRead bytes.
type server struct {
	udp      net.PacketConn
	tcp      net.Listener
	maxRead  int
	datagram atomic.Uint64
	cut      atomic.Uint64
	wg       sync.WaitGroup
}

func startServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	require.NoError(t, err)
	s := &server{udp: pc, tcp: ln, maxRead: 64 << 10}
	s.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			s.datagram.Add(1)
		}
	})
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				n, _ := io.CopyN(io.Discard, c, int64(s.maxRead))
				if n == int64(s.maxRead) {
					s.cut.Add(1)
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		pc.Close()
		s.wg.Wait()
	})
	return s
}

// TestRun: a short flood reaches the server over UDP and TCP, counts what
// it sent consistently, reconnects when the server cuts a connection, and
// sees the big body's connection cut long before 100 MB.
func TestRun(t *testing.T) {
	s := startServer(t)
	cfg := config{
		target: s.tcp.Addr().String(), corpus: "../../../sip/testdata/torture", seed: 3,
		duration: 500 * time.Millisecond, udpRate: 1000, tcpRate: 1000, conns: 4,
		slowloris: 2, slowEvery: 50 * time.Millisecond, bigBody: true,
		settle: 200 * time.Millisecond, dialTimout: 5 * time.Second,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sum, err := run(ctx, cfg)
	require.NoError(t, err)
	require.Positive(t, sum.UDPSent)
	require.LessOrEqual(t, sum.UDPMalformed, sum.UDPSent)
	require.Positive(t, sum.UDPMalformed, "most mutants do not parse")
	require.LessOrEqual(t, s.datagram.Load(), sum.UDPSent)
	require.Positive(t, sum.TCPSent)
	require.GreaterOrEqual(t, sum.TCPConns, uint64(cfg.conns))
	require.EqualValues(t, cfg.slowloris, sum.Slowloris)
	require.Positive(t, sum.SlowlorisBytes)
	require.True(t, sum.BigBodyClosed, "the server cut the 100 MB body")
	require.Less(t, sum.BigBodyBytes, uint64(100<<20))
	var kinds uint64
	for _, n := range sum.ByKind {
		kinds += n
	}
	require.GreaterOrEqual(t, kinds, sum.UDPSent+sum.TCPSent, "every mutant sent has its kind counted")
}

func TestHelpers(t *testing.T) {
	require.EqualValues(t, 2, count400([]byte("SIP/2.0 400 Bad Request\r\n\r\nSIP/2.0 400 x\r\n")))
	require.Zero(t, count400([]byte("SIP/2.0 200 OK\r\n")))
	require.True(t, isCRLFOnly([]byte("\r\n\r\n")))
	require.False(t, isCRLFOnly(nil))
	require.False(t, isCRLFOnly([]byte("\r\nx")))
}
