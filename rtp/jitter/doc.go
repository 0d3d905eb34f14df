// Package jitter is the playout buffer of a media session: Buffer reorders
// RTP packets, conceals losses and adapts its playout delay to the RFC 3550
// §6.4.1 interarrival jitter estimate. Names read jitter.New(jitter.Config{})
// and Buffer.Push / Buffer.Pop.
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
