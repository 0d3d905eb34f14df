// Package g722 is a G.722 wideband audio codec (ITU-T Recommendation G.722,
// "7 kHz audio-coding within 64 kbit/s") in pure Go.
//
// G.722 codes 16 kHz audio (50 to 7000 Hz) with sub-band ADPCM (SB-ADPCM):
// a 24-tap quadrature mirror filter (QMF) pair splits the signal into a lower
// band (0 to 4 kHz) and a higher band (4 to 8 kHz), each sampled at 8 kHz.
// The lower band is coded with a 6-bit adaptive quantizer, the higher band
// with a 2-bit one; each band has its own pole-zero adaptive predictor (two
// poles, six zeros) and a scale factor adapted in the logarithmic domain.
// One pair of input samples becomes one octet: the higher-band code in the
// two most significant bits, the lower-band code in the six others.
//
// The arithmetic follows the Recommendation's fixed-point description block
// by block (QUANTL, INVQAL, LOGSCL, SCALEL, the predictor blocks UPPOL1,
// UPPOL2, UPZERO, FILTEP, FILTEZ, PREDIC and their higher-band twins), with
// the saturations it specifies, so no input, however loud or random, can
// overflow the state. Checked against FFmpeg, an independent
// implementation whose decoder passes the ITU-T test sequences, the Decoder
// gives FFmpeg's output sample for sample in all three modes (on FFmpeg's
// bitstreams and on random octets), and the Encoder gives FFmpeg's
// bitstream octet for octet (TestFFmpegDecoderBitExact,
// TestFFmpegEncoderBitExact).
//
// # Sample format
//
// Audio is 16-bit linear PCM ([]int16) at SampleRate (16000 Hz), mono. The
// Recommendation defines 14-bit samples; the Encoder keeps all 16 bits of its
// input through the transmit QMF (whose output has the Recommendation's
// 15-bit sub-band range), and the Decoder returns the receive QMF's output
// scaled to 16 bits, the convention other 16-bit implementations use, so
// audio keeps its level through an encode/decode round trip. The two QMFs
// together delay the signal by Delay (22) samples.
//
// # Modes
//
// Mode 1 (64 kbit/s) uses all six lower-band bits. Modes 2 (56 kbit/s) and
// 3 (48 kbit/s) leave the one or two least significant bits of each octet to
// an auxiliary data channel; Decoder.SetMode makes the decoder ignore them.
// The Encoder always produces the full 64 kbit/s code, which a mode 2 or 3
// multiplexer can overwrite.
//
// # RTP: the clock rate quirk
//
// RFC 3551 §4.5.2 gives G.722 the static payload type 9 (PayloadType) and,
// for a historical error in RFC 1890 that was kept for compatibility, an RTP
// clock rate of 8000 Hz (ClockRate) although the audio is sampled at
// 16000 Hz (SampleRate). SDP says "a=rtpmap:9 G722/8000". The RTP timestamp
// therefore advances by one per octet of payload, that is by one per two
// samples: a 20 ms packet holds FrameSamples (320) samples in FrameBytes
// (160) octets and advances the timestamp by 160.
//
// # Use
//
// An Encoder or a Decoder holds the state of one direction of one stream
// and is not safe for concurrent use. Encode and Decode append to a caller's
// buffer and allocate nothing when it has room. Encode codes samples in pairs:
// an odd sample left at the end of a call is held (Buffered reports it) and
// coded with the first sample of the next call; Reset drops it.
package g722

const (
	// SampleRate is G.722's audio sampling rate in Hz.
	SampleRate = 16000
	// ClockRate is the RTP timestamp rate for G.722 that RFC 3551 §4.5.2
	// mandates (and SDP's rtpmap carries): 8000 Hz, half the sample rate.
	ClockRate = 8000
	// PayloadType is G.722's static RTP payload type (RFC 3551 table 4).
	PayloadType = 9
	// EncodingName is the encoding name in an SDP rtpmap attribute.
	EncodingName = "G722"
	// SamplesPerByte is the number of 16 kHz samples one octet codes.
	SamplesPerByte = 2
	// FrameSamples is the number of samples in a 20 ms frame.
	FrameSamples = SampleRate / 50
	// FrameBytes is the payload size of a 20 ms frame (and the RTP
	// timestamp increment of one 20 ms packet).
	FrameBytes = FrameSamples / SamplesPerByte
	// Delay is the delay in samples (at SampleRate) that the transmit and
	// receive QMFs add together: a sample given to Encode comes out of
	// Decode Delay samples later.
	Delay = 22
)
