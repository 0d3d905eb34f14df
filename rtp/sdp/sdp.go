package sdp

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/dialtone/dialtone/rtp/audio"
)

// Errors returned when an SDP body cannot be used. Every parse failure is an
// *Error, which matches ErrMalformed with errors.Is and unwraps to its
// cause (pion/sdp's own error, or ErrTooLarge).
var (
	// ErrMalformed reports an SDP body that is not valid RFC 4566 SDP, or
	// that uses a feature this package does not support (for example a host
	// name instead of an IP address in c=). A UA answers such an offer with
	// 400 or 488.
	ErrMalformed = errors.New("sdp: malformed SDP")
	// ErrTooLarge reports an SDP body beyond one of the Limits.
	ErrTooLarge = errors.New("sdp: SDP exceeds limits")
)

// Error describes why an SDP body was rejected. It matches ErrMalformed
// under errors.Is and unwraps to Err.
type Error struct {
	// Reason says what was wrong, for logs.
	Reason string
	// Err is the cause: ErrTooLarge, pion/sdp's parse error, or nil.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "sdp: malformed SDP: " + e.Reason + ": " + e.Err.Error()
	}
	return "sdp: malformed SDP: " + e.Reason
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformed.
func (e *Error) Is(target error) bool { return target == ErrMalformed }

// Default values of Limits.
const (
	// DefaultMaxBytes bounds an SDP body. An audio offer is well under
	// 2 KiB; this leaves room for many streams and attributes.
	DefaultMaxBytes = 32 << 10
	// DefaultMaxMedia bounds the number of m= sections.
	DefaultMaxMedia = 16
	// DefaultMaxFormats bounds the formats on one m= line; RTP has at
	// most 128 payload types (RFC 3551 §6).
	DefaultMaxFormats = 128
)

// Limits bounds the work done on one remote SDP body. A zero field means
// its default (DefaultMaxBytes, DefaultMaxMedia, DefaultMaxFormats).
type Limits struct {
	// MaxBytes is the largest SDP body accepted.
	MaxBytes int
	// MaxMedia is the largest number of m= sections accepted.
	MaxMedia int
	// MaxFormats is the largest number of formats on one m= line.
	MaxFormats int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxMedia <= 0 {
		l.MaxMedia = DefaultMaxMedia
	}
	if l.MaxFormats <= 0 {
		l.MaxFormats = DefaultMaxFormats
	}
	return l
}

// Origin is the o= line (RFC 4566 §5.2).
type Origin struct {
	// Username is the user's login on the originating host, "-" if none.
	Username string
	// SessionID is the numeric session id; it stays the same for a session.
	SessionID uint64
	// SessionVersion increases each time the description changes
	// (RFC 3264 §8).
	SessionVersion uint64
	// AddressType is "IP4" or "IP6"; empty means derived from Address.
	AddressType string
	// Address is the originating host: an IP address or a domain name.
	Address string
}

// Attribute is an a= line this package does not interpret, kept as it came
// (RFC 4566 §5.13). Value is empty for property attributes.
type Attribute struct {
	Key   string
	Value string
}

// SessionDescription is the part of an SDP body (RFC 4566 §5) that audio
// offer/answer needs. Lines it does not model (i=, u=, e=, p=, b=, r=, z=,
// k= and session-level attributes other than the direction) are dropped when
// parsing. The zero value is not a valid description; build one with NewOffer
// or Answer, or parse one with Parse.
type SessionDescription struct {
	// Origin is the o= line.
	Origin Origin
	// SessionName is the s= line; "-" if empty.
	SessionName string
	// Connection is the session-level c= address, the default for media
	// sections without their own c= (RFC 4566 §5.7). Invalid if absent.
	Connection netip.Addr
	// Media are the m= sections in order (RFC 3264 §5: the order and the
	// number of m= lines is what pairs an answer with its offer).
	Media []MediaDescription
}

// MediaDescription is one m= section (RFC 4566 §5.14) with the attributes
// offer/answer needs.
type MediaDescription struct {
	// Type is the media type: "audio", "video", "image", …
	Type string
	// Port is the transport port; 0 means the stream is disabled or
	// rejected (RFC 3264 §5.1, §6).
	Port uint16
	// Proto is the transport protocol, e.g. "RTP/AVP".
	Proto string
	// Formats are the RTP payload formats of the m= line in order, named
	// by a=rtpmap and a=fmtp; a static payload type without a=rtpmap is
	// named from RFC 3551 §6. A dynamic payload type without a=rtpmap has an
	// empty Name. Only set for RTP protocols.
	Formats []audio.Codec
	// RawFormats are the m= formats of a protocol that is not RTP (for
	// example "t38" for udptl), kept as they came.
	RawFormats []string
	// Connection is the address of this stream: the media-level c= if
	// present, otherwise the session-level one. 0.0.0.0 (RFC 3264 §8.4)
	// means "do not send to me".
	Connection netip.Addr
	// RTCPPort is the a=rtcp port (RFC 3605), 0 if absent (then RTCP uses
	// Port+1, RFC 3550 §11).
	RTCPPort uint16
	// RTCPAddr is the optional address of a=rtcp; invalid if absent.
	RTCPAddr netip.Addr
	// RTCPMux is true with a=rtcp-mux (RFC 5761 §5.1.1).
	RTCPMux bool
	// VoIPMetrics is true with a=rtcp-xr listing voip-metrics (RFC 3611
	// §5.1): RTCP XR VoIP Metrics report blocks are used.
	VoIPMetrics bool
	// Direction is the stream's direction, the session-level one when the
	// section names none, sendrecv when neither does (RFC 3264 §5.1).
	Direction Direction
	// Ptime is a=ptime in milliseconds (RFC 4566 §6), 0 if absent.
	Ptime int
	// MaxPtime is a=maxptime in milliseconds (RFC 4566 §6), 0 if absent.
	MaxPtime int
	// Attributes are the other a= lines of the section, in order.
	Attributes []Attribute
}

// IsRTP reports whether the section's protocol is an RTP profile
// (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, …).
func (m *MediaDescription) IsRTP() bool { return isRTPProto(m.Proto) }

func isRTPProto(p string) bool {
	return strings.Contains(strings.ToUpper(p), "RTP/")
}

// Clone returns a deep copy of sd.
func (sd *SessionDescription) Clone() *SessionDescription {
	c := *sd
	c.Media = slices.Clone(sd.Media)
	for i := range c.Media {
		c.Media[i].Formats = slices.Clone(c.Media[i].Formats)
		c.Media[i].RawFormats = slices.Clone(c.Media[i].RawFormats)
		c.Media[i].Attributes = slices.Clone(c.Media[i].Attributes)
	}
	return &c
}
