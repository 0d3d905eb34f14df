// Package audio is the vocabulary Dialtone's media packages share: the
// telephony sample rate and frame size (SampleRate, FrameDuration,
// FrameSamples: 8 kHz in 20 ms frames, RFC 3551 §4.5) and Codec, one RTP
// payload format as SDP's a=rtpmap and a=fmtp lines name it, with the
// static payload types this stack uses (PCMU, PCMA, TelephoneEvent).
//
// Audio is 16-bit linear PCM ([]int16). Every frame source (wav.Reader,
// wav.ToneGenerator, wav.SilenceSource) has the method
//
//	ReadFrame(dst []int16) ([]int16, error)
//
// The package imports nothing of the project, so that rtp/g711, rtp/dtmf,
// rtp/jitter, rtp/wav, rtp/sdp and rtp itself can all depend on it without
// a cycle.
package audio
