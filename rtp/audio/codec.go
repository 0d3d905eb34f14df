package audio

// Codec describes one RTP payload format as SDP's a=rtpmap and a=fmtp lines
// name it (RFC 4566 §6, RFC 3551 §6).
type Codec struct {
	// Name is the encoding name as in a=rtpmap, e.g. "PCMU",
	// "telephone-event". Compared case-insensitively.
	Name string
	// PayloadType is the RTP payload type: static (0..95) or dynamic (96..127).
	PayloadType uint8
	// ClockRate is the RTP timestamp rate in Hz.
	ClockRate uint32
	// Channels is the number of audio channels; 0 means 1.
	Channels int
	// Fmtp is the a=fmtp parameter string, e.g. "0-15" for telephone-event.
	Fmtp string
}

// Static payload types and the default dynamic one this package uses (RFC 3551 §6).
const (
	PayloadTypePCMU = 0
	PayloadTypePCMA = 8
	// PayloadTypeG722 is G.722's static payload type (RFC 3551 §4.5.2).
	PayloadTypeG722 = 9
	// PayloadTypeOpus is the dynamic payload type Opus() uses.
	PayloadTypeOpus = 111
	// PayloadTypeTelephoneEvent is the default dynamic payload type for RFC 4733 events.
	PayloadTypeTelephoneEvent = 101
)

// PCMU is G.711 μ-law at 8 kHz (RFC 3551 §4.5.14).
func PCMU() Codec {
	return Codec{Name: "PCMU", PayloadType: PayloadTypePCMU, ClockRate: 8000, Channels: 1}
}

// PCMA is G.711 A-law at 8 kHz (RFC 3551 §4.5.14).
func PCMA() Codec {
	return Codec{Name: "PCMA", PayloadType: PayloadTypePCMA, ClockRate: 8000, Channels: 1}
}

// G722 is G.722 wideband audio (RFC 3551 §4.5.2): 16 kHz audio, but
// "G722/8000" in SDP and an 8 kHz RTP clock, for a historical error that
// RFC 3551 keeps for compatibility. Put it first in a codec list to prefer
// wideband audio.
func G722() Codec {
	return Codec{Name: "G722", PayloadType: PayloadTypeG722, ClockRate: 8000, Channels: 1}
}

// TelephoneEvent is RFC 4733 named telephone events 0-15 (DTMF) at 8 kHz.
func TelephoneEvent() Codec {
	return Codec{Name: "telephone-event", PayloadType: PayloadTypeTelephoneEvent, ClockRate: 8000, Channels: 1, Fmtp: "0-15"}
}

// Opus is Opus (RFC 7587): "opus/48000/2" in SDP whatever the audio, a
// 48 kHz RTP clock, mono 48 kHz audio to the host. Its fmtp asks the peer
// for in-band FEC (useinbandfec=1); a session codes FEC, DTX and the bit
// rate the peer's own fmtp asks for. Sending and receiving it needs a build
// with the tag opus (see rtp/opus).
func Opus() Codec {
	return Codec{Name: "opus", PayloadType: PayloadTypeOpus, ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}
}
