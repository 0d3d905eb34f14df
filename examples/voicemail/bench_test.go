//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/wav"
)

// Settings of BenchmarkRecordings.
const (
	// recordingsNEnv is a comma-separated list of how many recordings run
	// at once; empty: recordingsN.
	recordingsNEnv = "VM_BENCH_N"
	// recordingLength is each message's length: the recordings end by
	// -max-message, so every WAV must hold exactly this much.
	recordingLength = 5 * time.Second
	// benchToneHz is the tone every caller speaks; a 100 ms window of a
	// WAV without it is a gap (a frame lost, late or not written).
	benchToneHz = 600
)

var recordingsN = []int{50, 100, 200, 400}

// BenchmarkRecordings runs N voicemail deposits at once on one core
// (GOMAXPROCS=1, one engine worker): N real RTP sessions over loopback,
// each fed a G.711 tone by one sender goroutine of this process (its cost
// counts against the same core), each recorded through the program's own
// path (server.record: decode, silence detection, WAV written to disk,
// then Store.Commit) until -max-message (recordingLength). It reports
// cpu-ms/rec-s (this process's CPU per second recorded), lost, late and
// concealed (packets per recording, from the sessions' statistics), overruns
// (received frames dropped because the recording did not read them in
// time), gaps (100 ms windows of the WAV files without the tone), bad-len
// (WAV files whose length is not recordingLength) and slow-ms (how much
// longer than recordingLength the slowest recording took). The largest N
// with all of them zero (slow-ms a few frames) is what one core records.
// A gap with nothing lost, late or overrun is the sender's: its ticker
// fell behind on the shared core, and the jitter buffer played silence.
//
//	taskset -c 0 go test -run '^$' -bench Recordings -benchtime 1x ./examples/voicemail/
//	VM_BENCH_N=300,500 taskset -c 0 go test -run '^$' -bench Recordings -benchtime 1x ./examples/voicemail/
func BenchmarkRecordings(b *testing.B) {
	ns := recordingsN
	if v := os.Getenv(recordingsNEnv); v != "" {
		ns = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("%s: %v", recordingsNEnv, err)
			}
			ns = append(ns, n)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, n := range ns {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for range b.N {
				benchRecordings(b, n)
			}
		})
	}
}

// recResult is one recording's outcome.
type recResult struct {
	why     string
	samples int
	took    time.Duration
	err     error
}

func benchRecordings(b *testing.B, n int) {
	loop := netip.MustParseAddr("127.0.0.1")
	e, err := rtp.NewEngine(rtp.EngineConfig{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	ports, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: 40000, Max: 49999})
	if err != nil {
		b.Fatal(err)
	}
	callers, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer callers.Close()
	_ = callers.SetReadBuffer(1 << 16) // what the sessions send back is not read
	from := callers.LocalAddr().(*net.UDPAddr).AddrPort()
	boxes := make([]string, n)
	for i := range boxes {
		boxes[i] = "box" + strconv.Itoa(i)
	}
	store, err := OpenStore(StoreConfig{Dir: b.TempDir(), Mailboxes: boxes})
	if err != nil {
		b.Fatal(err)
	}
	v := &server{store: store, level: DefaultSilenceLevel, silence: DefaultSilence, maxMsg: recordingLength,
		printf: func(string, ...any) {}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sessions := make([]*rtp.Session, 0, n)
	defer func() {
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	var dests []netip.AddrPort
	for range n {
		s, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loop, Ports: ports, RTCPMux: true, Engine: e, HostSampleRate: audio.SampleRate})
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
		if err := s.SetRemote(sdp.MediaParams{RemoteRTP: from, RemoteRTCP: from, RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}); err != nil {
			b.Fatal(err)
		}
		dests = append(dests, s.LocalAddr())
	}
	sent := make(chan struct{})
	go func() { defer close(sent); speak(ctx, callers, dests) }()
	defer func() { cancel(); <-sent }()
	// Warm-up: the jitter buffers fill while each session is read and
	// its audio dropped (as the greeting plays), so that no backlog is
	// left over; each recording then starts from the next frame.
	start := make(chan struct{})
	overruns0 := make([]uint64, n)
	results := make([]recResult, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Go(func() {
			drainCtx, stop := context.WithCancel(ctx)
			go func() { <-start; stop() }()
			for buf := make([]int16, 0, audio.FrameSamples); ; {
				if _, err := s.ReadFrame(drainCtx, buf[:0]); err != nil {
					break
				}
			}
			overruns0[i] = s.Stats().PlayoutOverruns
			begin := time.Now()
			id, path, err := store.Reserve(boxes[i], begin)
			if err != nil {
				results[i].err = err
				return
			}
			why, samples, _, err := v.record(ctx, s, path, nil)
			results[i] = recResult{why: why, samples: samples, took: time.Since(begin), err: err}
			if err == nil {
				err = store.Commit(boxes[i], Message{ID: id, Caller: "sip:bench@127.0.0.1", Time: begin, Seconds: float64(samples) / audio.SampleRate})
				results[i].err = err
			}
			ids[i] = id
		})
	}
	time.Sleep(time.Second)
	before := make([]rtp.Quality, n)
	for i, s := range sessions {
		before[i] = s.Quality()
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	close(start)
	wg.Wait()
	cpu := cpuTime() - cpu0
	b.StopTimer()

	var lost, late, concealed, overruns uint64
	var slowest time.Duration
	for i, s := range sessions {
		q := s.Quality()
		lost += q.PacketsLost - before[i].PacketsLost
		late += q.Late - before[i].Late
		concealed += q.Concealed - before[i].Concealed
		overruns += s.Stats().PlayoutOverruns - overruns0[i]
		r := results[i]
		if r.err != nil {
			b.Fatalf("recording %d: %v", i, r.err)
		}
		if r.why != "length limit" {
			b.Fatalf("recording %d ended by %s, not the length limit", i, r.why)
		}
		slowest = max(slowest, r.took)
	}
	want := int(recordingLength.Seconds() * audio.SampleRate)
	badLen, gaps := 0, 0
	for i := range sessions {
		pcm, err := readWAV(store.Path(boxes[i], ids[i]))
		if err != nil {
			b.Fatal(err)
		}
		if len(pcm) != want {
			badLen++
		}
		gaps += toneGaps(pcm)
	}
	recSeconds := recordingLength.Seconds() * float64(n)
	b.ReportMetric(float64(cpu.Microseconds())/1000/recSeconds, "cpu-ms/rec-s")
	b.ReportMetric(float64(lost)/float64(n), "lost/rec")
	b.ReportMetric(float64(late)/float64(n), "late/rec")
	b.ReportMetric(float64(concealed)/float64(n), "concealed/rec")
	b.ReportMetric(float64(overruns)/float64(n), "overruns/rec")
	b.ReportMetric(float64(gaps), "gaps")
	b.ReportMetric(float64(badLen), "bad-len")
	b.ReportMetric(float64(max(0, slowest-recordingLength).Milliseconds()), "slow-ms")
	b.ReportMetric(0, "ns/op")
}

// speak sends every destination one 20 ms PCMU frame of benchToneHz per
// period, each as a caller of its own (SSRC i+1), until ctx ends.
func speak(ctx context.Context, c *net.UDPConn, dests []netip.AddrPort) {
	tone := make([]int16, audio.FrameSamples)
	for i := range tone {
		tone[i] = int16(0.25 * math.MaxInt16 * math.Sin(2*math.Pi*benchToneHz*float64(i)/audio.SampleRate))
	}
	pkt := g711.EncodeULaw(make([]byte, 12, 12+audio.FrameSamples), tone)
	pkt[0], pkt[1] = 0x80, audio.PayloadTypePCMU // RTP version 2, no marker
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	for seq, ts := uint16(0), uint32(0); ; seq, ts = seq+1, ts+audio.FrameSamples {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		for i, d := range dests {
			binary.BigEndian.PutUint32(pkt[8:], uint32(i+1))
			_, _ = c.WriteToUDPAddrPort(pkt, d)
		}
	}
}

// readWAV reads a whole WAV file.
func readWAV(name string) ([]int16, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := wav.NewReader(f)
	if err != nil {
		return nil, err
	}
	var all []int16
	for {
		all, err = r.ReadFrame(all)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// toneGaps counts the 100 ms windows of pcm (after the first, which may
// start in the middle of a concealed frame) without the callers' tone.
func toneGaps(pcm []int16) int {
	const win = audio.SampleRate / 10
	gaps := 0
	for i := win; i+win <= len(pcm); i += win {
		if wav.ToneLevel(pcm[i:i+win], benchToneHz, audio.SampleRate) < 0.01 {
			gaps++
		}
	}
	return gaps
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
