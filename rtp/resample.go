package rtp

import (
	"math"
	"time"
)

// Rate conversion between a call's audio and the host's, when the host
// asks for a fixed rate (SessionConfig.HostSampleRate) that the call's
// codec does not have: 8 kHz frames on a G.722 call, or 16 kHz frames on a
// G.711 one. Only the 2:1 ratio is needed: a half-band low-pass FIR (a
// windowed sinc cut at a quarter of the high rate) before decimating or
// after zero-stuffing, with its history kept across frames.

// halfbandTaps is the filter's length: 3.4 kHz pass band, stop band from
// 4.6 kHz at 16 kHz, about 50 dB down.
const halfbandTaps = 31

// halfband is the filter's coefficients in Q15, computed once.
var halfband = func() [halfbandTaps]int32 {
	var h [halfbandTaps]int32
	const m = halfbandTaps - 1
	var sum float64
	f := make([]float64, halfbandTaps)
	for n := range f {
		x := float64(n) - m/2
		sinc := 0.5
		if x != 0 {
			sinc = math.Sin(math.Pi*x/2) / (math.Pi * x)
		}
		w := 0.42 - 0.5*math.Cos(2*math.Pi*float64(n)/m) + 0.08*math.Cos(4*math.Pi*float64(n)/m) // Blackman
		f[n] = sinc * w
		sum += f[n]
	}
	for n := range f {
		h[n] = int32(math.Round(f[n] / sum * 32768)) // unity gain at DC
	}
	return h
}()

// rateConverter converts one direction's frames 2:1 down or 1:2 up.
type rateConverter struct {
	up   bool
	hist []int16 // the last halfbandTaps-1 high-rate samples
	buf  []int16 // high-rate scratch
}

func newRateConverter(up bool, maxHighSamples int) *rateConverter {
	return &rateConverter{up: up, hist: make([]int16, halfbandTaps-1), buf: make([]int16, 0, maxHighSamples+halfbandTaps)}
}

// convert appends src converted to dst and returns it.
func (c *rateConverter) convert(dst, src []int16) []int16 {
	x := append(c.buf[:0], c.hist...)
	if c.up {
		for _, v := range src {
			x = append(x, v, 0)
		}
	} else {
		x = append(x, src...)
	}
	c.buf = x
	high := len(x) - len(c.hist)
	step, gain := 2, int64(1)
	if c.up {
		step, gain = 1, 2 // zero-stuffing halves the level
	}
	for i := 0; i < high; i += step {
		var acc int64
		for k, h := range halfband {
			acc += int64(h) * int64(x[i+k])
		}
		v := acc * gain >> 15
		dst = append(dst, int16(min(max(v, math.MinInt16), math.MaxInt16)))
	}
	copy(c.hist, x[len(x)-len(c.hist):])
	return dst
}

// hostConv is a session's conversion between the host's rate and the
// codec's, guarded by Session.mu.
type hostConv struct {
	hostRate         int
	hostFrameSamples int
	toCall, toHost   *rateConverter // nil when the rates are equal
	txConv, rxConv   []int16
}

// setHostRateLocked sets the host's frames for ptime at hostRate over a
// codec at callRate.
func (s *Session) setHostRateLocked(hostRate, callRate int, ptime time.Duration, maxSamples int) {
	h := &s.hostConv
	h.hostFrameSamples = int(ptime * time.Duration(hostRate) / time.Second)
	if h.hostRate == hostRate && (h.toCall != nil) == (hostRate != callRate) {
		return // same conversion: keep the filters' history
	}
	h.hostRate = hostRate
	h.toCall, h.toHost = nil, nil
	if hostRate != callRate {
		h.toCall = newRateConverter(hostRate < callRate, maxSamples)
		h.toHost = newRateConverter(callRate < hostRate, maxSamples)
		h.txConv = make([]int16, 0, maxSamples)
		h.rxConv = make([]int16, 0, maxSamples)
	}
}

// toCallRateLocked converts a frame from the host to the codec's rate.
func (s *Session) toCallRateLocked(frame []int16) []int16 {
	h := &s.hostConv
	if h.toCall == nil {
		return frame
	}
	h.txConv = h.toCall.convert(h.txConv[:0], frame)
	return h.txConv
}

// toHostRateLocked converts a played-out frame to the host's rate.
func (s *Session) toHostRateLocked(frame []int16) []int16 {
	h := &s.hostConv
	if h.toHost == nil {
		return frame
	}
	h.rxConv = h.toHost.convert(h.rxConv[:0], frame)
	return h.rxConv
}
