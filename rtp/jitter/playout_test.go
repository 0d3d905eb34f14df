package jitter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// arrivalPattern describes a synthetic stream: packets of the given
// durations in turn (ms), sent on a clock drift faster than ours, each
// delayed by a uniform random 0..jitter, with every reorderEvery-th packet
// swapped with its successor and a fraction loss of them lost.
type arrivalPattern struct {
	sizes        []int
	jitter       time.Duration
	loss         float64
	reorderEvery int
	drift        float64
	// whole sends each packet once its audio is complete, as real
	// senders do, rather than when it begins.
	whole bool
}

// patternPkt is one packet of a synthetic stream.
type patternPkt struct {
	h       pionrtp.Header
	payload []byte
	arrival time.Time
	lost    bool
}

// patternSignal is the sender's audio: two tones and some noise, so that
// no stretch of it repeats, G.711 μ-law encoded and decoded back, so that a
// lossless playout reproduces it exactly.
func patternSignal(samples int) []int16 {
	sig := make([]int16, samples)
	rng := rand.New(rand.NewPCG(11, 13))
	for i := range sig {
		x := float64(i) / audio.SampleRate
		sig[i] = int16(6000*math.Sin(2*math.Pi*440*x) + 3000*math.Sin(2*math.Pi*1250*x) + float64(rng.IntN(2001)-1000))
	}
	return g711.ULaw.Decode(nil, g711.ULaw.Encode(nil, sig))
}

// build cuts sig into packets and gives each its arrival time.
func (p arrivalPattern) build(sig []int16, seed uint64) []patternPkt {
	rng := rand.New(rand.NewPCG(seed, 7))
	var pkts []patternPkt
	off := 0
	for i := 0; off < len(sig); i++ {
		n := min(p.sizes[i%len(p.sizes)]*audio.SampleRate/1000, len(sig)-off)
		at := off
		if p.whole {
			at += n
		}
		send := time.Duration(float64(at) / audio.SampleRate * float64(time.Second) / (1 + p.drift))
		delay := time.Duration(rng.Int64N(int64(p.jitter) + 1))
		pkts = append(pkts, patternPkt{
			h:       pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(1000 + i), Timestamp: uint32(5000 + off), SSRC: 42},
			payload: g711.ULaw.Encode(nil, sig[off:off+n]),
			arrival: jbT0.Add(send + delay),
			lost:    i > 0 && rng.Float64() < p.loss,
		})
		off += n
	}
	if p.reorderEvery > 0 {
		for i := p.reorderEvery; i+1 < len(pkts); i += p.reorderEvery {
			pkts[i].arrival, pkts[i+1].arrival = pkts[i+1].arrival, pkts[i].arrival
		}
	}
	slices.SortStableFunc(pkts, func(a, b patternPkt) int { return a.arrival.Compare(b.arrival) })
	return pkts
}

// playoutResult is what a buffer played out of a synthetic stream.
type playoutResult struct {
	out            []int16 // the frames from the first played one to the last
	played         []int16 // the same without the Empty ones
	emptyInside    int     // Empty frames between the first and last played
	lastEmpty      int     // pops from the first played to the last Empty
	concealedPops  int
	lastConcealed  int   // pops from the first played to the last Concealed
	concealedAt    []int // the Concealed frames' indexes in out
	stats          Stats
	firstPlayedPop int
}

// playPattern pushes pkts into a fresh buffer at their arrival times and
// pops every 20 ms until the stream has played out.
func playPattern(t *testing.T, cfg Config, pkts []patternPkt) playoutResult {
	t.Helper()
	b, err := New(cfg)
	require.NoError(t, err)
	end := pkts[len(pkts)-1].arrival.Add(time.Second)
	var r playoutResult
	var frames [][]int16
	var sts []Status
	var fillIn []bool // a pop that started with no audio pending and played no packet
	i := 0
	for now := jbT0; now.Before(end); now = now.Add(b.frame) {
		for ; i < len(pkts) && !pkts[i].arrival.After(now); i++ {
			if !pkts[i].lost {
				require.NoError(t, b.Push(&pkts[i].h, pkts[i].payload, pkts[i].arrival))
			}
		}
		pendAudio, played := len(b.pend) > 0 && !b.pendConcealed, b.stats.Played
		f, st := b.Pop(now, nil)
		if st != Empty {
			require.Len(t, f, b.frameSamples, "every frame is the frame size")
		}
		frames = append(frames, f)
		sts = append(sts, st)
		fillIn = append(fillIn, st == Concealed && !pendAudio && b.stats.Played == played)
	}
	// The stream runs from the first frame played to the last one not a
	// pure fill-in: those that follow its end (the buffer ran dry and
	// conceals while it waits, in case the next packet is only late) are
	// not part of it.
	first, last := -1, -1
	for k, st := range sts {
		if st != Empty {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	for last > first && fillIn[last] {
		last--
	}
	require.GreaterOrEqual(t, first, 0, "nothing played")
	r.firstPlayedPop = first
	for k := first; k <= last; k++ {
		switch sts[k] {
		case Empty:
			r.emptyInside++
			r.lastEmpty = k - first
			r.out = append(r.out, make([]int16, b.frameSamples)...)
			continue
		case Concealed:
			r.concealedPops++
			r.concealedAt = append(r.concealedAt, k-first)
			if k < last { // the last may end the stream's audio with a fill-in
				r.lastConcealed = k - first
			}
			r.out = append(r.out, frames[k]...)
		default:
			r.out = append(r.out, frames[k]...)
		}
		r.played = append(r.played, frames[k]...)
	}
	r.stats = b.Stats()
	return r
}

// Lossless streams of any packet size, changing sizes, jitter within the
// playout delay and reordering: the buffer plays out exactly the sender's
// audio, every frame the frame size, no silence inserted, nothing
// concealed, and the playout lasts the sender's duration within one frame.
func TestPlayoutByTimeLossless(t *testing.T) {
	const seconds = 6
	sig := patternSignal(seconds * audio.SampleRate)
	tests := []struct {
		name  string
		frame time.Duration
		p     arrivalPattern
	}{
		{"20ms packets", 0, arrivalPattern{sizes: []int{20}}},
		{"30ms packets", 0, arrivalPattern{sizes: []int{30}}},
		{"60ms packets", 0, arrivalPattern{sizes: []int{60}}},
		{"10ms packets", 0, arrivalPattern{sizes: []int{10}}},
		{"120ms packets", 0, arrivalPattern{sizes: []int{120}}},
		{"changing sizes", 0, arrivalPattern{sizes: []int{20, 30, 60, 10, 40, 20, 120}}},
		{"changing sizes sent whole", 0, arrivalPattern{sizes: []int{20, 30, 60, 10, 40}, whole: true}},
		{"changing sizes sent whole with jitter", 0, arrivalPattern{sizes: []int{20, 30, 60, 10, 40}, whole: true, jitter: 30 * time.Millisecond}},
		{"60ms sent whole with jitter", 0, arrivalPattern{sizes: []int{60}, whole: true, jitter: 40 * time.Millisecond}},
		{"20ms sent whole with jitter", 0, arrivalPattern{sizes: []int{20}, whole: true, jitter: 40 * time.Millisecond}},
		{"changing sizes sent whole with more jitter", 0, arrivalPattern{sizes: []int{20, 30, 60, 10, 40}, whole: true, jitter: 60 * time.Millisecond}},
		{"changing sizes sent whole with 80ms jitter", 0, arrivalPattern{sizes: []int{20, 30, 60, 10, 40}, whole: true, jitter: 80 * time.Millisecond}},
		{"30ms packets 20ms jitter", 0, arrivalPattern{sizes: []int{30}, jitter: 20 * time.Millisecond}},
		{"20ms packets jitter reordered", 0, arrivalPattern{sizes: []int{20}, jitter: 30 * time.Millisecond, reorderEvery: 9}},
		{"60ms packets into 30ms frames", 30 * time.Millisecond, arrivalPattern{sizes: []int{60}, jitter: 10 * time.Millisecond}},
		{"20ms packets into 10ms frames", 10 * time.Millisecond, arrivalPattern{sizes: []int{20}}},
		{"changing sizes into 40ms frames", 40 * time.Millisecond, arrivalPattern{sizes: []int{30, 10, 60, 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{FrameDuration: tt.frame}
			r := playPattern(t, cfg, tt.p.build(sig, 1))
			frame := int(max(tt.frame, audio.FrameDuration) * audio.SampleRate / time.Second)
			if tt.frame != 0 {
				frame = int(tt.frame * audio.SampleRate / time.Second)
			}
			// Packets sent whole and of changing size arrive further
			// apart than the buffer first expects: it may run dry while it
			// learns, in the first second, and fill in (conceal, or
			// silence once it gives up waiting); never after.
			adapt := tt.p.whole && (len(tt.p.sizes) > 1 || tt.p.jitter > 0)
			if adapt {
				second := int(time.Second / max(tt.frame, audio.FrameDuration))
				require.Less(t, r.lastEmpty, second, "silence inserted after the first second")
				require.Less(t, r.lastConcealed, second, "concealed after the first second")
			} else {
				require.Zero(t, r.emptyInside, "silence inserted")
				require.Zero(t, r.concealedPops, "concealed without loss")
			}
			require.Zero(t, r.stats.Lost)
			require.Zero(t, r.stats.Discarded, "nothing discarded")
			if adapt {
				// Frames completed with silence while the buffer learnt
				// shift what follows: from the third second on, the
				// sender's audio, sample for sample, to its end.
				tail := sig[2*audio.SampleRate:]
				k := indexSamples(r.played, tail[:audio.FrameSamples])
				require.GreaterOrEqual(t, k, 0, "the third second is played")
				require.GreaterOrEqual(t, len(r.played)-k, len(tail))
				require.Equal(t, tail, r.played[k:k+len(tail)], "the sender's audio, sample for sample")
				require.Less(t, max(r.lastEmpty, r.lastConcealed)*frame, k, "no silence or fill-in in the part compared")
				return
			}
			require.InDelta(t, len(sig), len(r.played), float64(frame), "playout length = sender's duration within one frame")
			n := min(len(sig), len(r.played))
			require.Equal(t, sig[:n], r.played[:n], "the sender's audio, sample for sample")
		})
	}
}

// Jitter up to 80 ms, 5 % loss, reordering and a 0.1 % faster sender: every
// frame is the frame size, the adaptive delay keeps the playout length
// within the sender's duration plus the jitter and the drift, and
// concealment stays close to the lossless signal.
func TestPlayoutByTimeImpaired(t *testing.T) {
	const seconds = 10
	sig := patternSignal(seconds * audio.SampleRate)
	tests := []struct {
		name string
		p    arrivalPattern
	}{
		{"20ms jitter 40ms", arrivalPattern{sizes: []int{20}, jitter: 40 * time.Millisecond}},
		{"30ms jitter 80ms", arrivalPattern{sizes: []int{30}, jitter: 80 * time.Millisecond}},
		{"60ms jitter 80ms", arrivalPattern{sizes: []int{60}, jitter: 80 * time.Millisecond}},
		{"20ms loss 5%", arrivalPattern{sizes: []int{20}, loss: 0.05}},
		{"30ms loss 5% jitter 20ms reordered", arrivalPattern{sizes: []int{30}, loss: 0.05, jitter: 20 * time.Millisecond, reorderEvery: 11}},
		{"changing sizes drift 0.1%", arrivalPattern{sizes: []int{20, 30, 60}, drift: 0.001}},
		{"20ms drift 0.1% jitter 30ms", arrivalPattern{sizes: []int{20}, drift: 0.001, jitter: 30 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := playPattern(t, Config{}, tt.p.build(sig, 2))
			t.Logf("out %d samples for %d sent, empty inside %d, concealed pops %d, stats %+v", len(r.out), len(sig), r.emptyInside, r.concealedPops, r.stats)
			slack := float64(audio.FrameSamples) + float64(tt.p.jitter+DefaultMinDepth)*audio.SampleRate/float64(time.Second) +
				tt.p.drift*float64(len(sig))
			require.InDelta(t, len(sig), len(r.out), slack, "playout length")
			if tt.p.loss == 0 && tt.p.jitter == 0 {
				require.Zero(t, r.emptyInside, "silence inserted without loss or jitter")
			}
		})
	}
}

// indexSamples returns the first index of sub in s, or -1.
func indexSamples(s, sub []int16) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// snr returns the signal-to-noise ratio of got against ref, in dB, over
// their common length.
func snr(ref, got []int16) float64 {
	var sig, noise float64
	for i := range min(len(ref), len(got)) {
		s, d := float64(ref[i]), float64(got[i])-float64(ref[i])
		sig += s * s
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// voicedSignal is a vowel-like test signal: a 125 Hz pitch with its
// harmonics, slowly changing in level, G.711 μ-law coded.
func voicedSignal(samples int) []int16 {
	sig := make([]int16, samples)
	for i := range sig {
		x := float64(i) / audio.SampleRate
		v := 0.0
		for k, a := range []float64{1, 0.6, 0.45, 0.3, 0.2} {
			v += a * math.Sin(2*math.Pi*125*float64(k+1)*x+float64(k))
		}
		sig[i] = int16(4000 * v * (0.8 + 0.2*math.Sin(2*math.Pi*0.7*x)))
	}
	return g711.ULaw.Decode(nil, g711.ULaw.Encode(nil, sig))
}

// Concealment of 5 % random loss (single packets and bursts), measured by
// SNR against the lossless signal, for a voiced signal: the waveform
// substitution beats silence (by about 18 dB for 10 and 20 ms packets, 5 dB
// for 60 ms ones, mostly faded out). Only streams whose losses leave the
// playout aligned with the sender are compared: a loss that empties the
// buffer restarts playout, which shifts it.
func TestPlayoutConcealmentSNR(t *testing.T) {
	sig := voicedSignal(20 * audio.SampleRate)
	for _, tt := range []struct{ size, frame int }{{10, 20}, {20, 20}, {60, 20}} {
		t.Run(fmt.Sprintf("%dms packets %dms frames", tt.size, tt.frame), func(t *testing.T) {
			p := arrivalPattern{sizes: []int{tt.size}, loss: 0.05}
			pkts := p.build(sig, 3)
			frame := time.Duration(tt.frame) * time.Millisecond
			conceal := playPattern(t, Config{FrameDuration: frame}, pkts)
			silent := playPattern(t, Config{FrameDuration: frame, ConcealFrames: -1}, pkts)
			require.Positive(t, conceal.stats.Lost, "the pattern lost packets")
			require.Equal(t, len(silent.out), len(conceal.out))
			sc, ss := snr(sig, conceal.out), snr(sig, silent.out)
			t.Logf("%d lost: SNR concealed %.1f dB, silence %.1f dB; %+v", conceal.stats.Lost, sc, ss, conceal.stats)
			require.Greater(t, sc, ss+3, "concealment beats silence by 3 dB")
		})
	}
}

// A packet being played out over several frames keeps its samples while
// a later packet lands in the slot it came from (the slot's memory and the
// pending samples' are traded, never shared).
func TestJitterPendingSurvivesSlotReuse(t *testing.T) {
	fill := func(dst []int16, _ uint8, payload []byte) ([]int16, error) {
		for range len(payload) {
			dst = append(dst, int16(payload[0]))
		}
		return dst, nil
	}
	jb, err := New(Config{Decode: fill})
	require.NoError(t, err)
	const samples = 3 * audio.FrameSamples // a 60 ms packet
	h := pionrtp.Header{SSRC: 1, SequenceNumber: 100, Timestamp: 8000}
	require.NoError(t, jb.Push(&h, slices.Repeat([]byte{7}, samples), jbT0))
	now := jbT0.Add(60 * time.Millisecond)
	f, st := jb.Pop(now, nil)
	require.Equal(t, Played, st)
	require.Equal(t, slices.Repeat([]int16{7}, audio.FrameSamples), f)

	// The farthest packet the buffer holds goes into the same slot.
	h.SequenceNumber += DefaultCapacity
	h.Timestamp += DefaultCapacity * samples
	require.NoError(t, jb.Push(&h, slices.Repeat([]byte{9}, samples), now))
	for range 2 {
		now = now.Add(audio.FrameDuration)
		f, st = jb.Pop(now, f[:0])
		require.Equal(t, Played, st)
		require.Equal(t, slices.Repeat([]int16{7}, audio.FrameSamples), f, "the rest of the first packet")
	}
}
