package transport

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// The UDP receive benchmark sends from another process, so that what is
// measured is the layer's receive path on its own core and not a sender
// competing with it for the same one. The test binary re-executes itself
// as that sender (TestHelperBlaster), the usual helper-process pattern.

const (
	blastAddrEnv  = "DIALTONE_BLAST_ADDR"
	blastCountEnv = "DIALTONE_BLAST_COUNT"
	blastNetEnv   = "DIALTONE_BLAST_NET"
	blastBatch    = 64
)

// TestHelperBlaster is not a test: it is the sender process of
// BenchmarkUDPReceiveExternal and does nothing unless started by it.
func TestHelperBlaster(t *testing.T) {
	addr := os.Getenv(blastAddrEnv)
	if addr == "" {
		t.Skip("helper process for BenchmarkUDPReceiveExternal")
	}
	count, err := strconv.Atoi(os.Getenv(blastCountEnv))
	require.NoError(t, err)
	if os.Getenv(blastNetEnv) == "tcp" {
		blastTCP(t, addr, count)
		return
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	require.NoError(t, err)
	c, err := net.DialUDP("udp", nil, raddr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetWriteBuffer(4 << 20)
	msg := benchOptions(nil, c.LocalAddr().String(), 0)
	pc := ipv4.NewPacketConn(c)
	ms := make([]ipv4.Message, blastBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{msg}
	}
	for sent := 0; sent < count; {
		k := min(blastBatch, count-sent)
		n, err := pc.WriteBatch(ms[:k], 0)
		if err != nil {
			time.Sleep(time.Millisecond) // ENOBUFS under load: back off a little
			continue
		}
		sent += n
	}
}

// blastTCP writes count messages over one connection, many per write.
func blastTCP(t *testing.T, addr string, count int) {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	one := bytes.ReplaceAll(benchOptions(nil, c.LocalAddr().String(), 0), []byte("UDP"), []byte("TCP"))
	chunk := bytes.Repeat(one, blastBatch)
	for sent := 0; sent < count; {
		k := min(blastBatch, count-sent)
		_, err := c.Write(chunk[:k*len(one)])
		require.NoError(t, err)
		sent += k
	}
	// Wait for the receiver to close, so nothing is cut off.
	_, _ = c.Read(make([]byte, 1))
}

// stampHandler counts messages and remembers when the first and the last
// arrived.
type stampHandler struct {
	n           atomic.Int64
	first, last atomic.Int64
}

func (h *stampHandler) HandleMessage(in Incoming) {
	t := in.At.UnixNano()
	h.first.CompareAndSwap(0, t)
	h.last.Store(t)
	h.n.Add(1)
}
func (h *stampHandler) HandleFlowError(Flow, error) {}

// BenchmarkUDPReceiveExternal reports the rate at which the layer receives
// and parses small messages sent by another process as fast as it can
// (sendmmsg), measured from the first to the last message received; what
// share was lost to a full socket buffer; and how many messages one
// second of the receiving process's CPU handles.
func BenchmarkUDPReceiveExternal(b *testing.B) { benchExternal(b, UDP) }

// BenchmarkTCPReceiveExternal is the same over one TCP connection.
func BenchmarkTCPReceiveExternal(b *testing.B) { benchExternal(b, TCP) }

func benchExternal(b *testing.B, network Network) {
	h := &stampHandler{}
	l := newServedLayer(b, Config{}, h)
	a, err := l.Listen(b.Context(), network, "127.0.0.1:0")
	require.NoError(b, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBlaster$", "-test.count=1")
	cmd.Env = append(os.Environ(), blastAddrEnv+"="+a.String(), blastCountEnv+"="+strconv.Itoa(b.N), blastNetEnv+"="+string(network))
	cmd.Stderr = os.Stderr
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	require.NoError(b, cmd.Start())
	// Wait until everything arrived or nothing more arrives for 200 ms.
	for prev := int64(-1); ; {
		time.Sleep(200 * time.Millisecond)
		n := h.n.Load()
		if n == prev || n == int64(b.N) {
			break
		}
		prev = n
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	require.NoError(b, l.Close()) // lets a TCP sender finish
	require.NoError(b, cmd.Wait())
	n := h.n.Load()
	if n > 0 {
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/msg")
	}
	span := time.Duration(h.last.Load() - h.first.Load())
	if n > 1 && span > 0 {
		b.ReportMetric(float64(n-1)/span.Seconds(), "msgs/s")
	}
	b.ReportMetric(100*float64(int64(b.N)-n)/float64(b.N), "%lost")
	if cpu > 0 {
		// What one core of receive-side CPU handles, whatever else the
		// machine was doing: the layer's own capacity.
		b.ReportMetric(float64(n)/cpu.Seconds(), "msgs/cpu-s")
	}
}

// cpuTime returns the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
