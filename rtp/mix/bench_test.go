package mix_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/mix"
)

// benchParty gives a fixed frame and copies what it is sent, as a
// session's queues would, without locks or tone generation.
type benchParty struct {
	rate  int
	frame []int16
	sink  []int16
}

func newBenchParty(rate int) *benchParty {
	p := &benchParty{rate: rate, frame: make([]int16, rate/50), sink: make([]int16, rate/50)}
	for i := range p.frame {
		p.frame[i] = int16(i * 97)
	}
	return p
}

func (p *benchParty) SampleRate() int { return p.rate }

func (p *benchParty) PollFrame(dst []int16) ([]int16, int, error) {
	return append(dst, p.frame...), 1, nil
}

func (p *benchParty) PushFrame(s []int16) (bool, error) {
	copy(p.sink, s)
	return false, nil
}

// BenchmarkMix measures one mixing period of rooms of 3, 10 and 50
// parties: all narrowband (8 kHz), and mixed (every other party wideband,
// so the room mixes at 16 kHz and converts half the parties both ways).
// ns/party-s is the mixing cost per party per second of audio (50 periods).
func BenchmarkMix(b *testing.B) {
	for _, kind := range []string{"narrowband", "mixed"} {
		for _, n := range []int{3, 10, 50} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				m, err := mix.New(mix.Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				for i := range n {
					rate := 8000
					if kind == "mixed" && i%2 == 1 {
						rate = 16000
					}
					if _, err := m.Join(newBenchParty(rate)); err != nil {
						b.Fatal(err)
					}
				}
				m.Tick() // the resamplers' allocation
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					m.Tick()
				}
				perTick := time.Since(start) / time.Duration(b.N)
				perSecond := perTick * time.Duration(time.Second/mix.Period)
				b.ReportMetric(float64(perSecond.Nanoseconds())/float64(n), "ns/party-s")
				b.ReportMetric(100*float64(perSecond)/float64(time.Second), "%core")
			})
		}
	}
}
