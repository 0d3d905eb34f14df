package rtp

import (
	"math"
	"time"

	pionrtp "github.com/pion/rtp"
)

// cnFullScale is 0 dBov in 16-bit linear samples: the overload point of
// the system, which RFC 3389 §3 measures noise levels against (a full-scale
// square wave, whose RMS is its amplitude).
const cnFullScale = 32767

// cnMaxLevel is the weakest noise level RFC 3389 §3 carries: −127 dBov.
const cnMaxLevel = 127

// comfortNoiseRMS returns the RMS, in 16-bit linear samples, of noise at
// level −level dBov.
func comfortNoiseRMS(level uint8) float64 {
	return cnFullScale * math.Pow(10, -float64(min(level, cnMaxLevel))/20)
}

// noiseGen makes the comfort noise played while the peer sends RFC 3389
// packets: white noise at the packet's level. Spectral information
// (reflection coefficients) is not used: the noise is white, which RFC 3389
// §3 allows a receiver to do.
type noiseGen struct {
	state uint32 // xorshift32, never 0
	amp   float64
}

// setLevel sets the noise level to −level dBov: uniform noise in
// [−a, a] has an RMS of a/√3.
func (g *noiseGen) setLevel(level uint8) {
	g.amp = comfortNoiseRMS(level) * math.Sqrt(3)
	if g.state == 0 {
		g.state = 0x9e3779b9
	}
}

// fill writes noise into dst.
func (g *noiseGen) fill(dst []int16) {
	for i := range dst {
		x := g.state
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		g.state = x
		u := float64(x)/float64(math.MaxUint32)*2 - 1 // [−1, 1]
		dst[i] = int16(max(min(math.Round(u*g.amp), math.MaxInt16), math.MinInt16))
	}
}

// cnState is what the receive side knows of the peer's comfort noise,
// guarded by Session.mu.
type cnState struct {
	packets uint64
	// active: a CN packet came, so an empty playout buffer plays noise
	// instead of silence; ending: audio came after it, so the next frame
	// played from the buffer ends the noise.
	active, ending bool
	gen            noiseGen
}

// handleComfortNoiseLocked takes an RFC 3389 packet with header h and
// payload: its first octet is the noise level in −dBov (RFC 3389 §3),
// whose most significant bit is reserved (0) and ignored; an empty payload
// keeps the previous level. Its sequence number carries no audio, so the
// jitter buffer passes over it rather than counting it lost.
func (s *Session) handleComfortNoiseLocked(h *pionrtp.Header, payload []byte, now time.Time) {
	c := &s.rx.cn
	c.packets++
	if len(payload) > 0 {
		c.gen.setLevel(payload[0] & 0x7f)
	} else if !c.active {
		c.gen.setLevel(cnMaxLevel)
	}
	c.active, c.ending = true, false
	h.Timestamp = s.codec.jitterTS(h.Timestamp)
	s.jb.Skip(h, now)
}

// audioArrivedLocked notes that an audio packet arrived: comfort noise
// lasts until it plays.
func (s *Session) audioArrivedLocked() {
	if s.rx.cn.active {
		s.rx.cn.ending = true
	}
}

// emptyFrameLocked returns what plays when the jitter buffer has no audio:
// comfort noise after the peer's CN packet, else silence, at the host's
// rate.
func (s *Session) emptyFrameLocked() []int16 {
	if !s.rx.cn.active {
		return s.rx.silence[:s.hostFrameSamples]
	}
	f := s.rx.pcm[:s.hostFrameSamples]
	s.rx.cn.gen.fill(f)
	return f
}

// audioPlayedLocked notes that the buffer played audio: after the audio
// that followed a CN packet, the comfort noise is over.
func (s *Session) audioPlayedLocked() {
	if s.rx.cn.ending {
		s.rx.cn.active, s.rx.cn.ending = false, false
	}
}
