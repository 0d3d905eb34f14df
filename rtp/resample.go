package rtp

import (
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// Rate conversion between a call's audio and the host's, when the host
// asks for a fixed rate (SessionConfig.HostSampleRate) that the call's
// codec does not have: 8 kHz frames on a G.722 call, or 16 kHz frames on a
// G.711 one, through audio.Resampler.

// hostConv is a session's conversion between the host's rate and the
// codec's, guarded by Session.mu.
type hostConv struct {
	hostRate         int
	hostFrameSamples int
	toCall, toHost   *audio.Resampler // nil when the rates are equal
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
		h.toCall = audio.NewResampler(hostRate < callRate, maxSamples)
		h.toHost = audio.NewResampler(callRate < hostRate, maxSamples)
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
	h.txConv = h.toCall.Convert(h.txConv[:0], frame)
	return h.txConv
}

// toHostRateLocked converts a played-out frame to the host's rate.
func (s *Session) toHostRateLocked(frame []int16) []int16 {
	h := &s.hostConv
	if h.toHost == nil {
		return frame
	}
	h.rxConv = h.toHost.Convert(h.rxConv[:0], frame)
	return h.rxConv
}
