//go:build linux

package mix_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/mix"
	"github.com/dialtone/dialtone/rtp/sdp"
)

// Settings of BenchmarkRoomLateness, from the environment.
const (
	// roomNEnv is a comma-separated list of room sizes; empty: roomSizes.
	roomNEnv = "MIX_BENCH_N"
	// roomWindow is how long each room is measured, after a second of
	// warm-up.
	roomWindow = 5 * time.Second
)

var roomSizes = []int{25, 50, 100, 200, 400}

// BenchmarkRoomLateness runs one conference room of N real sessions over
// loopback on one engine worker with GOMAXPROCS=1 (one core): every party
// sends a G.711 stream at the room (from one goroutine of this process,
// whose cost counts against the same core) and the room's sessions send
// the mix back. It reports p99-late-ms and max-late-ms (how late the
// room's sessions sent their frames, merged over the window), cpu-ms/party-s
// (this process's CPU time per party per second) and underruns/party-s
// (frames the mixer found missing). The largest room with p99-late-ms ≤ 5
// is the room one core holds:
//
//	taskset -c 0 go test -run '^$' -bench RoomLateness -benchtime 1x ./rtp/mix/
func BenchmarkRoomLateness(b *testing.B) {
	ns := roomSizes
	if v := os.Getenv(roomNEnv); v != "" {
		ns = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("%s: %v", roomNEnv, err)
			}
			ns = append(ns, n)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, n := range ns {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchRoom(b, n) })
	}
}

func benchRoom(b *testing.B, n int) {
	loop := netip.MustParseAddr("127.0.0.1")
	e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	ports, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 30000, Max: 39999})
	if err != nil {
		b.Fatal(err)
	}
	blaster, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer blaster.Close()
	_ = blaster.SetReadBuffer(1 << 16)
	from := blaster.LocalAddr().(*net.UDPAddr).AddrPort()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := mix.New(mix.Config{MaxParties: n})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var sessions []*rtp.Session
	defer func() {
		m.Close()
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	var dests []netip.AddrPort
	for range n {
		s, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loop, Ports: ports, RTCPMux: true, Engine: e})
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
		if err := s.SetRemote(sdp.MediaParams{RemoteRTP: from, RemoteRTCP: from, RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Join(s); err != nil {
			b.Fatal(err)
		}
		dests = append(dests, s.LocalAddr())
	}
	if err := m.Start(e); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); blast(ctx, blaster, dests) }()
	defer func() { cancel(); <-done }()

	time.Sleep(time.Second) // warm-up: jitter buffers fill
	late0 := lateness(sessions)
	st0 := m.Stats()
	cpu0 := cpuTime()
	t0 := time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(roomWindow)
	}
	b.StopTimer()
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	late1 := lateness(sessions)
	st1 := m.Stats()
	var late rtp.LatenessHistogram
	for i := range late1 {
		d := late1[i].Since(&late0[i])
		late.Merge(&d)
	}
	partySeconds := wall.Seconds() * float64(n)
	b.ReportMetric(float64(late.Quantile(0.99))/1e6, "p99-late-ms")
	b.ReportMetric(float64(late.Max())/1e6, "max-late-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/partySeconds, "cpu-ms/party-s")
	b.ReportMetric(float64(st1.Underruns-st0.Underruns)/partySeconds, "underruns/party-s")
	b.ReportMetric(float64(st1.Ticks-st0.Ticks)/wall.Seconds(), "ticks/s")
	b.ReportMetric(0, "ns/op")
}

func lateness(ss []*rtp.Session) []rtp.LatenessHistogram {
	out := make([]rtp.LatenessHistogram, len(ss))
	for i, s := range ss {
		out[i] = s.Stats().SendLateness
	}
	return out
}

// blast sends every destination one 20 ms PCMU frame of a tone per period,
// each as its own party (SSRC), until ctx ends.
func blast(ctx context.Context, c *net.UDPConn, dests []netip.AddrPort) {
	tone := make([]int16, audio.FrameSamples)
	for i := range tone {
		tone[i] = int16(0.2 * math.MaxInt16 * math.Sin(2*math.Pi*600*float64(i)/audio.SampleRate))
	}
	payload := g711.EncodeULaw(nil, tone)
	tk := time.NewTicker(audio.FrameDuration)
	defer tk.Stop()
	var seq uint16
	var ts uint32
	buf := make([]byte, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for i, d := range dests {
			h := pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(i + 1)}
			hb, err := h.MarshalTo(buf[:cap(buf)])
			if err != nil {
				return
			}
			pkt := append(buf[:hb], payload...)
			_, _ = c.WriteToUDPAddrPort(pkt, d)
		}
		seq++
		ts += audio.FrameSamples
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
