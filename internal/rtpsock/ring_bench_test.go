//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtpsock

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/sockaddr"
	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/internal/uring"
)

// countRx counts what it is handed.
type countRx struct{ n, errs int }

func (c *countRx) Datagram([]byte, netip.AddrPort, time.Time, bool) { c.n++ }
func (c *countRx) ReadError()                                       { c.errs++ }

// BenchmarkReceivePairs reads one datagram on each of 100 sockets, as an
// engine worker's wake-up does for the sessions due, with a recvmmsg per
// socket (Receive) or one ring round for all (RingReader); the time per
// op is per socket. The datagrams are sent with the timer stopped.
func BenchmarkReceivePairs(b *testing.B) {
	const n = 100
	lo := netip.MustParseAddr("127.0.0.1")
	ring, err := uring.New(RingSlots)
	testenv.Need(b, "io_uring", err)
	defer ring.Close()
	base := int(testenv.FreeUDPPorts(b, lo, n+1))
	var pairs []*Pair
	for i := range n + 1 {
		k, err := Bind(lo, base+i, true)
		require.NoError(b, err)
		defer k.Close()
		pairs = append(pairs, k)
	}
	from, pairs := pairs[n], pairs[:n]
	sends := make([]uring.Send, n)
	payload := make([]byte, 172)
	for i, k := range pairs {
		sends[i] = uring.Send{FD: from.rtp.fd, B: payload}
		sends[i].SALen = sockaddr.Put(&sends[i].SA, k.LocalAddr(false), false)
	}
	rx := &countRx{}
	run := func(b *testing.B, read func(now time.Time)) {
		rx.n = 0
		var cpu time.Duration // the process's, during the reads: a shared machine's other work does not count
		for b.Loop() {
			b.StopTimer()
			require.NoError(b, ring.SendAll(sends))
			c0 := processCPU(b)
			b.StartTimer()
			read(time.Now())
			b.StopTimer()
			cpu += processCPU(b) - c0
			b.StartTimer()
		}
		require.Equal(b, b.N*n, rx.n)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/socket")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/socket")
	}
	b.Run("recvmmsg", func(b *testing.B) {
		var sc Scratch
		run(b, func(now time.Time) {
			for _, k := range pairs {
				k.Receive(rx, &sc, now)
			}
		})
	})
	b.Run("ring", func(b *testing.B) {
		rr := NewRingReader(ring)
		run(b, func(now time.Time) {
			for _, k := range pairs {
				rr.Add(k, now)
			}
			require.NoError(b, rr.Read(now, func(int) Receiver { return rx }))
		})
	})
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
