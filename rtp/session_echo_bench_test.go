//go:build unix

package rtp

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// processCPU returns the CPU time (user and system) the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSessionEchoPath: one 20 ms frame of an echo call, per op,
// without sockets: a received packet through handleRTP, the session's
// engine turn (wake: the tick that encodes and packetizes the frame the
// host wrote and plays out one, the signals to the host), ReadFrame, and
// the frame written back with WriteFrame. With N sessions taken in turn,
// each op finds its session's memory as cold as an engine worker does
// with N calls. cpu-ns/frame is the process' CPU time per op (getrusage),
// which, unlike ns/op, does not count the time other programs had the
// core.
func BenchmarkSessionEchoPath(b *testing.B) {
	for _, n := range []int{1, 2000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			ctx := context.Background()
			hs := make([]*pathHarness, n)
			for i := range hs {
				hs[i] = newPathHarness(b)
				hs[i].pace = pacer{start: hs[i].now, period: audio.FrameDuration}
			}
			echo := func(h *pathHarness) {
				h.receive(ctx)
				if err := h.s.WriteFrame(ctx, h.out); err != nil {
					panic(err)
				}
			}
			for range 200 {
				for _, h := range hs {
					echo(h)
				}
			}
			b.ReportAllocs()
			i, c0 := 0, processCPU()
			for b.Loop() {
				echo(hs[i])
				if i++; i == n {
					i = 0
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/frame")
		})
	}
}
