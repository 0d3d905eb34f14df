// Package opus is the Opus audio codec (RFC 6716) for RTP (RFC 7587),
// through libopus.
//
// The codec itself is libopus, called through cgo, and is compiled in only
// with the build tag opus (go build -tags opus) and libopus installed
// (Debian: libopus-dev). Without the tag the package is pure Go: the fmtp
// parameters, the constants and the types are there, but NewEncoder and
// NewDecoder return an error wrapping ErrUnavailable, so a program built
// without Opus says why when a call would need it.
//
// # Sample format and RTP
//
// RFC 7587 names the payload format "opus/48000/2" in SDP whatever the
// audio: the RTP clock is always 48 kHz and the channel count always 2.
// This package codes mono 16-bit linear PCM at SampleRate (48 kHz), or at
// 8, 12, 16 or 24 kHz when asked (EncoderConfig.SampleRate,
// NewDecoderRate: libopus resamples internally, and a packet coded at one
// rate decodes at any other), in frames of 2.5 to 60 ms (20 ms,
// FrameSamples at 48 kHz, is what sessions send); a decoder returns mono
// too (a stereo stream is down-mixed by libopus). The RTP clock stays
// 48 kHz whatever the rate: a 20 ms packet advances the timestamp by 960.
//
// # Loss
//
// A Decoder conceals a lost packet with libopus' own packet loss
// concealment (Conceal) or, when the peer codes in-band forward error
// correction (useinbandfec=1) and the packet after the lost one arrived,
// recovers it from that packet's redundant copy (DecodeFEC). An Encoder
// with DTX (usedtx=1) codes silence as packets of at most two octets,
// which need not be sent (IsDTX).
package opus
