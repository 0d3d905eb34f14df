package audio

import "time"

// Telephony audio framing used throughout the package: G.711 at 8 kHz in
// 20 ms frames (RFC 3551 §4.5.14, §4.5: default packetization 20 ms).
const (
	// SampleRate is the narrowband telephony sample rate in Hz.
	SampleRate = 8000
	// FrameDuration is the default packetization interval (ptime).
	FrameDuration = 20 * time.Millisecond
	// FrameSamples is the number of samples in one frame at
	// SampleRate and FrameDuration.
	FrameSamples = 160
)
