package opus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RTP payload format constants (RFC 7587 §7).
const (
	// EncodingName is the encoding name in a=rtpmap.
	EncodingName = "opus"
	// ClockRate is the RTP timestamp rate, always 48000 (RFC 7587 §4.1).
	ClockRate = 48000
	// SDPChannels is the channel count a=rtpmap always gives, 2
	// (RFC 7587 §7), whether the audio is mono or stereo.
	SDPChannels = 2
	// SampleRate is the rate of the audio an Encoder and a Decoder code
	// unless told another (EncoderConfig.SampleRate, NewDecoderRate), in
	// Hz: Opus' full band.
	SampleRate = 48000
	// FrameSamples is one 20 ms frame at SampleRate.
	FrameSamples = SampleRate / 50
	// MaxFrameSamples is the longest frame a packet may decode to at
	// SampleRate: 120 ms (RFC 6716 §3.2.5).
	MaxFrameSamples = SampleRate * 120 / 1000
	// DefaultBitrate is the encoder's target in bit/s when the peer sets
	// no maxaveragebitrate: 32 kbit/s, wideband-to-fullband speech.
	DefaultBitrate = 32000
	// MinBitrate and MaxBitrate bound maxaveragebitrate (RFC 7587 §6.1:
	// 6000 to 510000).
	MinBitrate = 6000
	MaxBitrate = 510000
)

// Errors.
var (
	// ErrUnavailable is returned by NewEncoder and NewDecoder in a build
	// without Opus.
	ErrUnavailable = errors.New("opus: Opus needs the build tag opus (go build -tags opus, go test -tags opus) and libopus (Debian libopus-dev)")
	// ErrCodec wraps an error libopus returned, or a frame size it cannot
	// code.
	ErrCodec = errors.New("opus: codec error")
	// ErrFmtp reports an a=fmtp parameter with an invalid value.
	ErrFmtp = errors.New("opus: invalid fmtp parameter")
)

// ValidSampleRate reports whether libopus codes audio at rate Hz: 8000,
// 12000, 16000, 24000 or 48000. Whatever the rate, the RTP clock of the
// stream stays ClockRate (RFC 7587 §4.1).
func ValidSampleRate(rate int) bool {
	switch rate {
	case 8000, 12000, 16000, 24000, SampleRate:
		return true
	}
	return false
}

// checkRate returns rate, or SampleRate for 0, or an error wrapping
// ErrCodec when libopus does not code at it.
func checkRate(rate int) (int, error) {
	if rate == 0 {
		return SampleRate, nil
	}
	if !ValidSampleRate(rate) {
		return 0, fmt.Errorf("%w: sample rate %d Hz: want 8000, 12000, 16000, 24000 or 48000", ErrCodec, rate)
	}
	return rate, nil
}

// EncoderConfig configures an Encoder. The zero value codes 48 kHz audio
// at DefaultBitrate without FEC or DTX.
type EncoderConfig struct {
	// Bitrate is the target average bit rate in bit/s, MinBitrate to
	// MaxBitrate; 0 means DefaultBitrate. Set it to the peer's
	// maxaveragebitrate when lower.
	Bitrate int
	// FEC codes in-band forward error correction (the peer said
	// useinbandfec=1), which lets the receiver rebuild a lost packet from
	// the one after it.
	FEC bool
	// PacketLossPercent is the loss rate the encoder expects, 0 to 100;
	// with FEC, libopus adds redundancy only when it is above 0. 0 with
	// FEC means DefaultFECLossPercent.
	PacketLossPercent int
	// DTX codes silence as packets of at most two octets, which the
	// sender need not send (the peer said usedtx=1).
	DTX bool
	// SampleRate is the rate of the frames Encode takes, in Hz: 8000,
	// 12000, 16000, 24000 or 48000 (ValidSampleRate); 0 means SampleRate.
	// libopus codes at most the band the rate carries (wideband at
	// 16 kHz); the packets are Opus packets like any other, which a
	// decoder at any rate plays.
	SampleRate int
}

// DefaultFECLossPercent is the expected loss an Encoder with FEC assumes
// when EncoderConfig.PacketLossPercent is 0.
const DefaultFECLossPercent = 10

func (c EncoderConfig) withDefaults() (EncoderConfig, error) {
	rate, err := checkRate(c.SampleRate)
	if err != nil {
		return c, err
	}
	c.SampleRate = rate
	if c.Bitrate == 0 {
		c.Bitrate = DefaultBitrate
	}
	if c.Bitrate < MinBitrate || c.Bitrate > MaxBitrate {
		return c, fmt.Errorf("%w: bitrate %d outside %d..%d", ErrCodec, c.Bitrate, MinBitrate, MaxBitrate)
	}
	if c.PacketLossPercent < 0 || c.PacketLossPercent > 100 {
		return c, fmt.Errorf("%w: packet loss %d%% outside 0..100", ErrCodec, c.PacketLossPercent)
	}
	if c.FEC && c.PacketLossPercent == 0 {
		c.PacketLossPercent = DefaultFECLossPercent
	}
	return c, nil
}

// IsDTX reports whether an encoded packet is a DTX one: at most two
// octets, which a sender with DTX does not send (libopus' rule).
func IsDTX(packet []byte) bool { return len(packet) <= 2 }

// Params are the RFC 7587 §6.1 a=fmtp parameters this package acts on.
// Unknown parameters are ignored, as RFC 7587 asks.
type Params struct {
	// MaxAverageBitrate is maxaveragebitrate, 0 when absent: the most the
	// receiver wants on average.
	MaxAverageBitrate int
	// UseInbandFEC is useinbandfec=1: the receiver can use in-band FEC,
	// so the sender should code it.
	UseInbandFEC bool
	// UseDTX is usedtx=1: the receiver wants DTX.
	UseDTX bool
	// Stereo is stereo=1: the receiver prefers stereo (this package sends
	// mono, which every receiver accepts).
	Stereo bool
	// MaxPlaybackRate is maxplaybackrate, 0 when absent.
	MaxPlaybackRate int
}

// ParseFmtp parses an a=fmtp parameter string such as
// "minptime=10;useinbandfec=1". A known parameter with a bad value gives
// an error wrapping ErrFmtp.
func ParseFmtp(s string) (Params, error) {
	var p Params
	for f := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "maxaveragebitrate", "maxplaybackrate":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return Params{}, fmt.Errorf("%w: %s=%q", ErrFmtp, k, v)
			}
			if k == "maxplaybackrate" {
				p.MaxPlaybackRate = n
			} else {
				p.MaxAverageBitrate = n
			}
		case "useinbandfec", "usedtx", "stereo":
			if v != "0" && v != "1" {
				return Params{}, fmt.Errorf("%w: %s=%q", ErrFmtp, k, v)
			}
			on := v == "1"
			switch k {
			case "useinbandfec":
				p.UseInbandFEC = on
			case "usedtx":
				p.UseDTX = on
			default:
				p.Stereo = on
			}
		}
	}
	return p, nil
}

// String formats p as an a=fmtp parameter string, parameters in a fixed
// order, absent ones left out.
func (p Params) String() string {
	var parts []string
	if p.MaxPlaybackRate > 0 {
		parts = append(parts, "maxplaybackrate="+strconv.Itoa(p.MaxPlaybackRate))
	}
	if p.MaxAverageBitrate > 0 {
		parts = append(parts, "maxaveragebitrate="+strconv.Itoa(p.MaxAverageBitrate))
	}
	if p.Stereo {
		parts = append(parts, "stereo=1")
	}
	if p.UseInbandFEC {
		parts = append(parts, "useinbandfec=1")
	}
	if p.UseDTX {
		parts = append(parts, "usedtx=1")
	}
	return strings.Join(parts, ";")
}

// EncoderConfig returns the configuration an Encoder sending to a peer
// that announced p uses: its maxaveragebitrate (clamped to the valid
// range) when lower than bitrate (0 means DefaultBitrate), FEC when it
// asked for useinbandfec=1, DTX when it asked for usedtx=1.
func (p Params) EncoderConfig(bitrate int) EncoderConfig {
	if bitrate == 0 {
		bitrate = DefaultBitrate
	}
	if p.MaxAverageBitrate > 0 && p.MaxAverageBitrate < bitrate {
		bitrate = max(p.MaxAverageBitrate, MinBitrate)
	}
	return EncoderConfig{Bitrate: min(bitrate, MaxBitrate), FEC: p.UseInbandFEC, DTX: p.UseDTX}
}
