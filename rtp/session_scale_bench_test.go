package rtp_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// echoWindow is how long each iteration of BenchmarkEchoSessions measures.
const echoWindow = 5 * time.Second

// benchMaxLostPercent is the share of RTP packets the media benchmarks may
// lose (RFC 3550's count, over the measured window) before they fail: a
// figure of CPU or lateness measured while packets were dropped is no
// figure at all.
const benchMaxLostPercent = 1.0

// lossCheck fails the benchmark when more than benchMaxLostPercent of the
// packets expected over the window were lost, and reports the share.
func lossCheck(b *testing.B, rx, lost uint64) {
	b.Helper()
	pct := 100 * float64(lost) / float64(max(rx+lost, 1))
	b.ReportMetric(pct, "lost-%")
	if pct > benchMaxLostPercent {
		b.Fatalf("%d of %d RTP packets lost (%.2f%%, limit %.1f%%): the machine did not keep up, the figures are void",
			lost, rx+lost, pct, benchMaxLostPercent)
	}
}

// BenchmarkEchoSessions runs N calls over loopback, each a caller session
// playing a tone and an echo session sending back what it hears (both ends
// in this process, 50 packets/s each way on each), and reports:
//
//   - cpu-ms/call-s: CPU time (user+system, getrusage) per call per second
//     of call, both ends together; 1000 calls on one core need ≤ 1;
//   - cores: CPU time over wall time for all calls;
//   - p99-late-ms, max-late-ms: how late the pacing senders sent frames
//     (all sessions, from the start of the calls);
//   - skipped/call-s: frame periods missed entirely, per call per second;
//   - lost-%: the share of RTP packets lost in the window, both ways; above
//     benchMaxLostPercent the benchmark fails.
//
// Run with -bench EchoSessions -cpu 1,2 to see one core and two.
func BenchmarkEchoSessions(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchEcho(b, n) })
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchEcho(b *testing.B, n int) {
	ports, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 21000, Max: 29999})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var callers, echoes []*rtp.Session
	defer func() {
		cancel()
		for _, s := range append(callers, echoes...) {
			_ = s.Close()
		}
	}()
	for range n {
		c, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loopback, Ports: ports, RTCPMux: true})
		require.NoError(b, err)
		callers = append(callers, c)
		e, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loopback, Ports: ports, RTCPMux: true})
		require.NoError(b, err)
		echoes = append(echoes, e)
		connect(b, c, e, true)
	}
	var wg sync.WaitGroup
	for i := range n {
		tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
		require.NoError(b, err)
		c, e := callers[i], echoes[i]
		wg.Go(func() { _ = c.Play(ctx, tone) })
		wg.Go(func() {
			buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
			for {
				f, err := e.ReadFrame(ctx, buf[:0])
				if err != nil {
					return
				}
				if e.WriteFrame(ctx, f) != nil {
					return
				}
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	time.Sleep(time.Second) // warm up: jitter buffers fill, echoes start

	received := func() (rx, lost uint64) {
		for _, s := range append(callers, echoes...) {
			st := s.Stats()
			rx += st.PacketsReceived
			lost += uint64(max(st.PacketsLost, 0))
		}
		return rx, lost
	}
	rx0, lost0 := received()
	var cpu, wall time.Duration
	b.ResetTimer()
	for range b.N {
		c0, t0 := cpuTime(), time.Now()
		time.Sleep(echoWindow) // the measurement: calls run meanwhile
		cpu += cpuTime() - c0
		wall += time.Since(t0)
	}
	b.StopTimer()
	rx1, lost1 := received()

	var late rtp.LatenessHistogram
	var skipped, echoed uint64
	for _, s := range append(callers, echoes...) {
		st := s.Stats()
		late.Merge(&st.SendLateness)
		skipped += st.FramesSkipped
	}
	for _, c := range callers {
		echoed += c.Stats().PacketsReceived
	}
	require.Positive(b, echoed)
	if testing.Verbose() {
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			b.Logf("q%v %v", q, late.Quantile(q))
		}
		b.Logf("count %d max %v skipped %d", late.Count(), late.Max(), skipped)
	}
	callSeconds := wall.Seconds() * float64(n)
	b.ReportMetric(float64(cpu.Milliseconds())/callSeconds, "cpu-ms/call-s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(late.Quantile(0.99))/1e6, "p99-late-ms")
	b.ReportMetric(float64(late.Max())/1e6, "max-late-ms")
	b.ReportMetric(float64(skipped)/callSeconds, "skipped/call-s")
	b.ReportMetric(0, "ns/op")
	lossCheck(b, rx1-rx0, lost1-lost0)
}
