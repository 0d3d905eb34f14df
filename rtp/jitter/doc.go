// Package jitter is the playout buffer of a media session: Buffer reorders
// RTP packets, conceals losses (waveform substitution after ITU-T G.711
// Appendix I) and adapts its playout delay to the RFC 3550 §6.4.1
// interarrival jitter estimate, growing on jitter and shrinking in pauses.
// Names read jitter.New(jitter.Config{}) and Buffer.Push / Buffer.Pop.
//
// Playout goes by time, not by packet: packets of any duration up to
// Config.MaxFrameSamples (10 to 120 ms, changing mid-stream) are decoded
// into a sample stream, and each Pop returns exactly one frame of
// Config.FrameDuration (RFC 3551 §4.2, RFC 4566 §6: decoding must not
// depend on a=ptime).
//
// Push copies the decoded payload into the buffer's preallocated slots, so
// the packet buffer may be reused as soon as Push returns; Pop appends a
// frame to a caller-supplied dst. In steady state neither allocates. The
// buffer reads no clock: Push and Pop take the time as an argument, so it
// is tested in virtual time. A Buffer is not safe for concurrent use.
//
// G.711 (payload types 0 and 8) is decoded by default (DecodeG711); other
// codecs plug in through Config.Decode.
package jitter
