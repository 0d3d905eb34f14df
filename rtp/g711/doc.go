// Package g711 is the G.711 codec at 8 kHz (RFC 3551 §4.5.14, ITU-T G.711):
// μ-law (PCMU) and A-law (PCMA) per sample (EncodeULawSample,
// DecodeALawSample, ...) and per frame (EncodeULaw, DecodeULaw and the
// A-law pair), Law to pick one from an audio.Codec or a payload type
// (LawFor, LawForPayloadType), and AppendPacket to build an RTP packet
// (RFC 3550 §5.1) from a frame of samples.
//
// Functions that produce bytes or samples append to a caller-supplied dst
// and return it; they allocate only when dst lacks capacity, so a caller
// that reuses its buffers encodes and decodes with no allocation. The
// functions keep no state and are safe for concurrent use.
package g711
