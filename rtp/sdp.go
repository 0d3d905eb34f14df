package rtp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/rtp/audio"

	psdp "github.com/pion/sdp/v3"
)

// Errors returned when an SDP body cannot be used. Every parse failure is an
// *SDPError, which matches ErrSDPMalformed with errors.Is and unwraps to its
// cause (pion/sdp's own error, or ErrSDPTooLarge).
var (
	// ErrSDPMalformed reports an SDP body that is not valid RFC 4566 SDP, or
	// that uses a feature this package does not support (for example a host
	// name instead of an IP address in c=). A UA answers such an offer with
	// 400 or 488.
	ErrSDPMalformed = errors.New("rtp: malformed SDP")
	// ErrSDPTooLarge reports an SDP body beyond one of the SDPLimits.
	ErrSDPTooLarge = errors.New("rtp: SDP exceeds limits")
)

// SDPError describes why an SDP body was rejected. It matches ErrSDPMalformed
// under errors.Is and unwraps to Err.
type SDPError struct {
	// Reason says what was wrong, for logs.
	Reason string
	// Err is the cause: ErrSDPTooLarge, pion/sdp's parse error, or nil.
	Err error
}

func (e *SDPError) Error() string {
	if e.Err != nil {
		return "rtp: malformed SDP: " + e.Reason + ": " + e.Err.Error()
	}
	return "rtp: malformed SDP: " + e.Reason
}

// Unwrap returns the cause.
func (e *SDPError) Unwrap() error { return e.Err }

// Is reports whether target is ErrSDPMalformed.
func (e *SDPError) Is(target error) bool { return target == ErrSDPMalformed }

// Default values of SDPLimits.
const (
	// DefaultSDPMaxBytes bounds an SDP body. An audio offer is well under
	// 2 KiB; this leaves room for many streams and attributes.
	DefaultSDPMaxBytes = 32 << 10
	// DefaultSDPMaxMedia bounds the number of m= sections.
	DefaultSDPMaxMedia = 16
	// DefaultSDPMaxFormats bounds the formats on one m= line; RTP has at
	// most 128 payload types (RFC 3551 §6).
	DefaultSDPMaxFormats = 128
)

// SDPLimits bounds the work done on one remote SDP body. A zero field means
// its default (DefaultSDPMaxBytes, DefaultSDPMaxMedia, DefaultSDPMaxFormats).
type SDPLimits struct {
	// MaxBytes is the largest SDP body accepted.
	MaxBytes int
	// MaxMedia is the largest number of m= sections accepted.
	MaxMedia int
	// MaxFormats is the largest number of formats on one m= line.
	MaxFormats int
}

func (l SDPLimits) withDefaults() SDPLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultSDPMaxBytes
	}
	if l.MaxMedia <= 0 {
		l.MaxMedia = DefaultSDPMaxMedia
	}
	if l.MaxFormats <= 0 {
		l.MaxFormats = DefaultSDPMaxFormats
	}
	return l
}

// MediaDirection is a stream's direction attribute, from the point of view of
// the side that wrote the SDP (RFC 4566 §6, RFC 3264 §5.1). The zero value is
// MediaSendRecv, the default when an SDP names no direction.
type MediaDirection uint8

// Direction attributes (RFC 4566 §6).
const (
	// MediaSendRecv: a=sendrecv, send and receive.
	MediaSendRecv MediaDirection = iota
	// MediaSendOnly: a=sendonly, send only (the usual "hold", RFC 3264 §8.4).
	MediaSendOnly
	// MediaRecvOnly: a=recvonly, receive only.
	MediaRecvOnly
	// MediaInactive: a=inactive, neither send nor receive.
	MediaInactive
)

// String returns the attribute name: "sendrecv", "sendonly", "recvonly" or
// "inactive".
func (d MediaDirection) String() string {
	switch d {
	case MediaSendRecv:
		return "sendrecv"
	case MediaSendOnly:
		return "sendonly"
	case MediaRecvOnly:
		return "recvonly"
	case MediaInactive:
		return "inactive"
	}
	return "MediaDirection(" + strconv.Itoa(int(d)) + ")"
}

// Sends reports whether the side with direction d sends media.
func (d MediaDirection) Sends() bool { return d == MediaSendRecv || d == MediaSendOnly }

// Receives reports whether the side with direction d receives media.
func (d MediaDirection) Receives() bool { return d == MediaSendRecv || d == MediaRecvOnly }

// Reverse returns d as seen by the peer: what one side sends the other
// receives (sendonly ↔ recvonly; sendrecv and inactive stay).
func (d MediaDirection) Reverse() MediaDirection {
	return mediaDirectionOf(d.Receives(), d.Sends())
}

// Intersect returns the direction allowed by both d and o: it sends only if
// both send and receives only if both receive.
func (d MediaDirection) Intersect(o MediaDirection) MediaDirection {
	return mediaDirectionOf(d.Sends() && o.Sends(), d.Receives() && o.Receives())
}

func mediaDirectionOf(send, recv bool) MediaDirection {
	switch {
	case send && recv:
		return MediaSendRecv
	case send:
		return MediaSendOnly
	case recv:
		return MediaRecvOnly
	}
	return MediaInactive
}

// parseMediaDirection recognizes a direction attribute name.
func parseMediaDirection(key string) (MediaDirection, bool) {
	switch strings.ToLower(key) {
	case "sendrecv":
		return MediaSendRecv, true
	case "sendonly":
		return MediaSendOnly, true
	case "recvonly":
		return MediaRecvOnly, true
	case "inactive":
		return MediaInactive, true
	}
	return 0, false
}

// SDPOrigin is the o= line (RFC 4566 §5.2).
type SDPOrigin struct {
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

// SDPAttribute is an a= line this package does not interpret, kept as it came
// (RFC 4566 §5.13). Value is empty for property attributes.
type SDPAttribute struct {
	Key   string
	Value string
}

// SessionDescription is the part of an SDP body (RFC 4566 §5) that audio
// offer/answer needs. Lines it does not model (i=, u=, e=, p=, b=, r=, z=,
// k= and session-level attributes other than the direction) are dropped when
// parsing. The zero value is not a valid description; build one with NewOffer
// or Answer, or parse one with ParseSDP.
type SessionDescription struct {
	// Origin is the o= line.
	Origin SDPOrigin
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
	// Direction is the stream's direction, the session-level one when the
	// section names none, sendrecv when neither does (RFC 3264 §5.1).
	Direction MediaDirection
	// Ptime is a=ptime in milliseconds (RFC 4566 §6), 0 if absent.
	Ptime int
	// MaxPtime is a=maxptime in milliseconds (RFC 4566 §6), 0 if absent.
	MaxPtime int
	// Attributes are the other a= lines of the section, in order.
	Attributes []SDPAttribute
}

// IsRTP reports whether the section's protocol is an RTP profile
// (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, …).
func (m *MediaDescription) IsRTP() bool { return isRTPProto(m.Proto) }

func isRTPProto(p string) bool {
	return strings.Contains(strings.ToUpper(p), "RTP/")
}

// ParseSDP parses an SDP body with the default SDPLimits. See SDPLimits.Parse.
func ParseSDP(b []byte) (*SessionDescription, error) {
	return SDPLimits{}.Parse(b)
}

// Parse parses an SDP body (RFC 4566) into a SessionDescription. It is
// lenient with what SIP phones send: LF or CR line ends, trailing
// whitespace, session-level lines out of RFC 4566 order, media-level c= after
// a= lines, a missing s= or t= line, and media types or protocols that
// pion/sdp does not know (m=image … udptl t38). Media sections stay in order.
// Errors are *SDPError; Parse never panics.
func (l SDPLimits) Parse(b []byte) (sd *SessionDescription, err error) {
	l = l.withDefaults()
	if len(b) > l.MaxBytes {
		return nil, &SDPError{Reason: fmt.Sprintf("%d bytes, limit %d", len(b), l.MaxBytes), Err: ErrSDPTooLarge}
	}
	text, overrides, err := normalizeSDP(b, l)
	if err != nil {
		return nil, err
	}
	var p psdp.SessionDescription
	if err := unmarshalPion(&p, text); err != nil {
		return nil, &SDPError{Reason: "pion/sdp", Err: err}
	}
	return fromPion(&p, overrides)
}

// unmarshalPion runs pion/sdp's parser. pion/sdp is third-party code fed with
// network input; a panic inside it is turned into an error rather than
// taking the process down.
func unmarshalPion(p *psdp.SessionDescription, text string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser panic: %v", r)
		}
	}()
	return p.UnmarshalString(text)
}

// mediaOverride records an m= line whose media type or protocol had to be
// replaced for pion/sdp, which accepts only the IANA values it knows.
type mediaOverride struct {
	media, proto string
}

// pion/sdp's accepted m= media types and protocol parts (v3.0.20).
func pionKnowsMedia(s string) bool {
	switch s {
	case "audio", "video", "text", "application", "message":
		return true
	}
	return false
}

func pionKnowsProto(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		switch part {
		case "UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF",
			"TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC":
		default:
			return false
		}
	}
	return true
}

// sdpLine is one "x=value" line of the input.
type sdpLine struct {
	typ  byte
	text string // the whole line, "x=value", trailing whitespace removed
}

// normalizeSDP rewrites b into the shape pion/sdp's state machine accepts:
// CRLF line ends; session-level lines sorted into RFC 4566 order
// (v o s c t a); media-level lines sorted (m c a); lines this package does not
// model dropped; a missing s= or t= added. Lines keep their relative order
// within one type, so attributes and media sections stay in order.
func normalizeSDP(b []byte, l SDPLimits) (string, []mediaOverride, error) {
	var session []sdpLine
	var media [][]sdpLine
	var overrides []mediaOverride
	lineNo := 0
	for rest := string(b); rest != ""; {
		var line string
		if i := strings.IndexAny(rest, "\r\n"); i >= 0 {
			line = rest[:i]
			if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
				i++
			}
			rest = rest[i+1:]
		} else {
			line, rest = rest, ""
		}
		lineNo++
		line = strings.TrimRight(line, " \t")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return "", nil, &SDPError{Reason: fmt.Sprintf("line %d is not type=value", lineNo)}
		}
		typ := line[0]
		switch typ {
		case 'v', 'o', 's', 'c', 't', 'a', 'm':
		case 'i', 'u', 'e', 'p', 'b', 'r', 'z', 'k':
			continue // not modelled; pion/sdp is strict about their syntax
		default:
			// RFC 4566 §5: a parser must ignore a description with an
			// unknown type letter.
			return "", nil, &SDPError{Reason: fmt.Sprintf("line %d has unknown type %q", lineNo, typ)}
		}
		if typ == 'm' {
			if len(media) == l.MaxMedia {
				return "", nil, &SDPError{Reason: fmt.Sprintf("more than %d media sections", l.MaxMedia), Err: ErrSDPTooLarge}
			}
			m, ov, err := normalizeMediaLine(line, l)
			if err != nil {
				return "", nil, err
			}
			media = append(media, []sdpLine{{typ: 'm', text: m}})
			overrides = append(overrides, ov)
			continue
		}
		if len(media) == 0 {
			session = append(session, sdpLine{typ: typ, text: line})
			continue
		}
		switch typ {
		case 'c', 'a':
			cur := &media[len(media)-1]
			*cur = append(*cur, sdpLine{typ: typ, text: line})
		default:
			return "", nil, &SDPError{Reason: fmt.Sprintf("line %d: %q line inside a media section", lineNo, typ)}
		}
	}

	session = normalizeSessionLines(session)
	var sb strings.Builder
	sb.Grow(len(b) + 32)
	for _, ln := range session {
		sb.WriteString(ln.text)
		sb.WriteString("\r\n")
	}
	for _, sec := range media {
		// m first (already), then the first c=, then a= lines.
		sb.WriteString(sec[0].text)
		sb.WriteString("\r\n")
		for _, ln := range sec[1:] {
			if ln.typ == 'c' {
				sb.WriteString(ln.text)
				sb.WriteString("\r\n")
				break
			}
		}
		for _, ln := range sec[1:] {
			if ln.typ == 'a' {
				sb.WriteString(ln.text)
				sb.WriteString("\r\n")
			}
		}
	}
	return sb.String(), overrides, nil
}

// normalizeSessionLines keeps the first v=, o=, s= and c=, every t= and a=,
// adds a missing v=, s= or t=, and sorts them into RFC 4566 order.
func normalizeSessionLines(in []sdpLine) []sdpLine {
	rank := func(t byte) int { return strings.IndexByte("voscta", t) }
	var seen [6]bool
	out := make([]sdpLine, 0, len(in)+3)
	for _, ln := range in {
		r := rank(ln.typ)
		if ln.typ != 't' && ln.typ != 'a' && seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, ln)
	}
	if !seen[0] {
		out = append(out, sdpLine{typ: 'v', text: "v=0"})
	}
	if !seen[2] {
		out = append(out, sdpLine{typ: 's', text: "s=-"})
	}
	if !seen[4] {
		out = append(out, sdpLine{typ: 't', text: "t=0 0"})
	}
	slices.SortStableFunc(out, func(a, b sdpLine) int { return rank(a.typ) - rank(b.typ) })
	return out
}

// normalizeMediaLine checks an m= line against the limits and replaces a
// media type or protocol pion/sdp would reject with ones it accepts; the
// originals are restored from the returned override after parsing.
func normalizeMediaLine(line string, l SDPLimits) (string, mediaOverride, error) {
	f := strings.Fields(line[2:])
	if len(f) < 3 {
		return "", mediaOverride{}, &SDPError{Reason: "m= line needs media, port and proto: " + strconv.Quote(line)}
	}
	if len(f)-3 > l.MaxFormats {
		return "", mediaOverride{}, &SDPError{Reason: fmt.Sprintf("more than %d formats on an m= line", l.MaxFormats), Err: ErrSDPTooLarge}
	}
	ov := mediaOverride{media: f[0], proto: f[2]}
	if !pionKnowsMedia(f[0]) {
		f[0] = "application"
	}
	if !pionKnowsProto(f[2]) {
		f[2] = "UDP"
	}
	return "m=" + strings.Join(f, " "), ov, nil
}

// parseSDPAddr parses a c= address. A multicast TTL or count suffix
// ("/127") is dropped. Host names are not supported.
func parseSDPAddr(ci *psdp.ConnectionInformation) (netip.Addr, error) {
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, nil
	}
	s := ci.Address.Address
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, &SDPError{Reason: "c= address is not an IP address: " + strconv.Quote(s)}
	}
	return a, nil
}

func fromPion(p *psdp.SessionDescription, overrides []mediaOverride) (*SessionDescription, error) {
	sd := &SessionDescription{
		Origin: SDPOrigin{
			Username:       p.Origin.Username,
			SessionID:      p.Origin.SessionID,
			SessionVersion: p.Origin.SessionVersion,
			AddressType:    p.Origin.AddressType,
			Address:        p.Origin.UnicastAddress,
		},
		SessionName: string(p.SessionName),
	}
	if sd.Origin.Username == "" {
		sd.Origin.Username = "-"
	}
	if sd.SessionName == "" {
		sd.SessionName = "-"
	}
	var err error
	if sd.Connection, err = parseSDPAddr(p.ConnectionInformation); err != nil {
		return nil, err
	}
	sessionDir := MediaSendRecv
	for _, a := range p.Attributes {
		if d, ok := parseMediaDirection(a.Key); ok {
			sessionDir = d
			break
		}
	}
	if len(p.MediaDescriptions) != len(overrides) {
		return nil, &SDPError{Reason: "media section count changed while parsing"}
	}
	for i, pm := range p.MediaDescriptions {
		m, err := mediaFromPion(pm, overrides[i], sd.Connection, sessionDir)
		if err != nil {
			return nil, err
		}
		sd.Media = append(sd.Media, m)
	}
	return sd, nil
}

func mediaFromPion(pm *psdp.MediaDescription, ov mediaOverride, sessConn netip.Addr, sessionDir MediaDirection) (MediaDescription, error) {
	m := MediaDescription{
		Type:       ov.media,
		Port:       uint16(pm.MediaName.Port.Value), // pion checks 0..65535
		Proto:      ov.proto,
		Connection: sessConn,
		Direction:  sessionDir,
	}
	if pm.ConnectionInformation != nil {
		a, err := parseSDPAddr(pm.ConnectionInformation)
		if err != nil {
			return m, err
		}
		if a.IsValid() {
			m.Connection = a
		}
	}
	rtp := m.IsRTP()
	if !rtp {
		m.RawFormats = slices.Clone(pm.MediaName.Formats)
	}
	for _, f := range pm.MediaName.Formats {
		if !rtp {
			break
		}
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return m, &SDPError{Reason: "RTP payload type out of range: " + strconv.Quote(f)}
		}
		c, _ := sdpStaticCodec(uint8(pt))
		c.PayloadType = uint8(pt)
		m.Formats = append(m.Formats, c)
	}
	named := make(map[uint8]bool)
	fmtpSet := make(map[uint8]bool)
	dirSet := false
	for _, a := range pm.Attributes {
		k := strings.TrimRight(a.Key, " \t") // "a=name :" has no value
		if k == "" || k[0] == ':' {
			continue // "a=" or "a=:x": no attribute name
		}
		key := strings.ToLower(k)
		switch key {
		case "rtpmap":
			c, ok := parseRtpmap(a.Value)
			if !ok || named[c.PayloadType] {
				continue
			}
			named[c.PayloadType] = true
			for i := range m.Formats {
				if m.Formats[i].PayloadType == c.PayloadType {
					c.Fmtp = m.Formats[i].Fmtp
					m.Formats[i] = c
				}
			}
		case "fmtp":
			pt, params, ok := parseFmtp(a.Value)
			if !ok || fmtpSet[pt] {
				continue
			}
			fmtpSet[pt] = true
			for i := range m.Formats {
				if m.Formats[i].PayloadType == pt {
					m.Formats[i].Fmtp = params
				}
			}
		case "ptime", "maxptime":
			v, err := strconv.Atoi(strings.TrimSpace(a.Value))
			if err != nil || v <= 0 {
				continue
			}
			if key == "ptime" && m.Ptime == 0 {
				m.Ptime = v
			} else if key == "maxptime" && m.MaxPtime == 0 {
				m.MaxPtime = v
			}
		case "rtcp":
			if m.RTCPPort == 0 {
				m.RTCPPort, m.RTCPAddr = parseRTCPAttr(a.Value)
			}
		case "rtcp-mux":
			m.RTCPMux = true
		default:
			if d, ok := parseMediaDirection(key); ok {
				if !dirSet {
					m.Direction, dirSet = d, true
				}
				continue
			}
			m.Attributes = append(m.Attributes, SDPAttribute{Key: k, Value: a.Value})
		}
	}
	return m, nil
}

// parseRtpmap parses "<pt> <name>/<rate>[/<channels>]" (RFC 4566 §6).
func parseRtpmap(v string) (audio.Codec, bool) {
	ptStr, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return audio.Codec{}, false
	}
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return audio.Codec{}, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return audio.Codec{}, false
	}
	parts[0] = strings.TrimSpace(parts[0])
	if parts[0] == "" {
		return audio.Codec{}, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return audio.Codec{}, false
	}
	c := audio.Codec{Name: parts[0], PayloadType: uint8(pt), ClockRate: uint32(rate), Channels: 1}
	if len(parts) == 3 {
		ch, err := strconv.Atoi(parts[2])
		if err != nil || ch < 1 || ch > 255 {
			return audio.Codec{}, false
		}
		c.Channels = ch
	}
	return c, true
}

// parseFmtp parses "<pt> <parameters>" (RFC 4566 §6).
func parseFmtp(v string) (uint8, string, bool) {
	ptStr, params, _ := strings.Cut(strings.TrimSpace(v), " ")
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return 0, "", false
	}
	return uint8(pt), strings.TrimSpace(params), true
}

// parseRTCPAttr parses "<port> [IN IP4|IP6 <addr>]" (RFC 3605 §2.1). A
// malformed attribute yields port 0 and is ignored.
func parseRTCPAttr(v string) (uint16, netip.Addr) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, netip.Addr{}
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return 0, netip.Addr{}
	}
	var addr netip.Addr
	if len(f) >= 4 && f[1] == "IN" {
		addr, _ = netip.ParseAddr(f[3])
	}
	return uint16(port), addr
}

// sdpStaticCodec returns the audio codec RFC 3551 §6 (Table 4) assigns to a
// static payload type, with ok false for payload types it leaves unassigned
// or assigns to video.
func sdpStaticCodec(pt uint8) (c audio.Codec, ok bool) {
	c = audio.Codec{PayloadType: pt, ClockRate: 8000, Channels: 1}
	switch pt {
	case 0:
		c.Name = "PCMU"
	case 3:
		c.Name = "GSM"
	case 4:
		c.Name = "G723"
	case 5:
		c.Name = "DVI4"
	case 6:
		c.Name, c.ClockRate = "DVI4", 16000
	case 7:
		c.Name = "LPC"
	case 8:
		c.Name = "PCMA"
	case 9:
		c.Name = "G722" // RTP clock 8000 despite 16 kHz sampling (RFC 3551 §4.5.2)
	case 10:
		c.Name, c.ClockRate, c.Channels = "L16", 44100, 2
	case 11:
		c.Name, c.ClockRate = "L16", 44100
	case 12:
		c.Name = "QCELP"
	case 13:
		c.Name = "CN"
	case 14:
		c.Name, c.ClockRate = "MPA", 90000
	case 15:
		c.Name = "G728"
	case 16:
		c.Name, c.ClockRate = "DVI4", 11025
	case 17:
		c.Name, c.ClockRate = "DVI4", 22050
	case 18:
		c.Name = "G729"
	default:
		return audio.Codec{PayloadType: pt}, false
	}
	return c, true
}

// Marshal returns the wire form of sd, with CRLF line ends (RFC 4566 §5),
// written by pion/sdp. Lines come in RFC 4566 order: v, o, s, c, t, then for
// each medium m, c (only where it differs from the session-level c=),
// a=rtpmap and a=fmtp per format, a=ptime, a=maxptime, a=rtcp, a=rtcp-mux,
// the other attributes, and the direction.
// It fails with ErrSDPMalformed if a field would not survive the trip, for
// example a line break inside a codec name.
func (sd *SessionDescription) Marshal() ([]byte, error) {
	p, err := sd.toPion()
	if err != nil {
		return nil, err
	}
	return p.Marshal()
}

func sdpBadField(what, v string) error {
	return &SDPError{Reason: "cannot marshal " + what + " " + strconv.Quote(v)}
}

func isSDPToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n")
}

func sdpAddrType(a netip.Addr) string {
	if a.Is6() {
		return "IP6"
	}
	return "IP4"
}

func sdpConn(a netip.Addr) *psdp.ConnectionInformation {
	return &psdp.ConnectionInformation{
		NetworkType: "IN",
		AddressType: sdpAddrType(a),
		Address:     &psdp.Address{Address: a.String()},
	}
}

func (sd *SessionDescription) toPion() (*psdp.SessionDescription, error) {
	o := sd.Origin
	if o.Username == "" {
		o.Username = "-"
	}
	if o.Address == "" {
		if sd.Connection.IsValid() {
			o.Address = sd.Connection.String()
		} else {
			o.Address = "0.0.0.0"
		}
	}
	if o.AddressType == "" {
		o.AddressType = "IP4"
		if a, err := netip.ParseAddr(o.Address); err == nil {
			o.AddressType = sdpAddrType(a)
		}
	}
	if !isSDPToken(o.Username) {
		return nil, sdpBadField("o= username", o.Username)
	}
	if !isSDPToken(o.Address) {
		return nil, sdpBadField("o= address", o.Address)
	}
	if o.AddressType != "IP4" && o.AddressType != "IP6" {
		return nil, sdpBadField("o= address type", o.AddressType)
	}
	name := sd.SessionName
	if name == "" {
		name = "-"
	}
	if strings.ContainsAny(name, "\r\n") {
		return nil, sdpBadField("s=", name)
	}
	p := &psdp.SessionDescription{
		Origin: psdp.Origin{
			Username:       o.Username,
			SessionID:      o.SessionID,
			SessionVersion: o.SessionVersion,
			NetworkType:    "IN",
			AddressType:    o.AddressType,
			UnicastAddress: o.Address,
		},
		SessionName:      psdp.SessionName(name),
		TimeDescriptions: []psdp.TimeDescription{{}},
	}
	if sd.Connection.IsValid() {
		p.ConnectionInformation = sdpConn(sd.Connection)
	}
	for i := range sd.Media {
		pm, err := sd.Media[i].toPion(sd.Connection)
		if err != nil {
			return nil, err
		}
		p.MediaDescriptions = append(p.MediaDescriptions, pm)
	}
	return p, nil
}

func (m *MediaDescription) toPion(sessConn netip.Addr) (*psdp.MediaDescription, error) {
	if !isSDPToken(m.Type) {
		return nil, sdpBadField("media type", m.Type)
	}
	if !isSDPToken(m.Proto) {
		return nil, sdpBadField("media proto", m.Proto)
	}
	pm := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:  m.Type,
			Port:   psdp.RangedPort{Value: int(m.Port)},
			Protos: strings.Split(m.Proto, "/"),
		},
	}
	if m.Connection.IsValid() && m.Connection != sessConn {
		pm.ConnectionInformation = sdpConn(m.Connection)
	}
	add := func(k, v string) { pm.Attributes = append(pm.Attributes, psdp.Attribute{Key: k, Value: v}) }
	for _, c := range m.Formats {
		if c.PayloadType > 127 {
			return nil, sdpBadField("payload type", strconv.Itoa(int(c.PayloadType)))
		}
		pt := strconv.Itoa(int(c.PayloadType))
		pm.MediaName.Formats = append(pm.MediaName.Formats, pt)
		if c.Name != "" {
			if strings.ContainsAny(c.Name, "/\r\n") || strings.TrimSpace(c.Name) != c.Name {
				return nil, sdpBadField("codec name", c.Name)
			}
			v := pt + " " + c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
			if c.Channels > 1 {
				v += "/" + strconv.Itoa(c.Channels)
			}
			add("rtpmap", v)
		}
		if c.Fmtp != "" {
			if strings.ContainsAny(c.Fmtp, "\r\n") || strings.TrimSpace(c.Fmtp) != c.Fmtp {
				return nil, sdpBadField("fmtp", c.Fmtp)
			}
			add("fmtp", pt+" "+c.Fmtp)
		}
	}
	if len(m.Formats) == 0 {
		for _, f := range m.RawFormats {
			if !isSDPToken(f) {
				return nil, sdpBadField("format", f)
			}
			pm.MediaName.Formats = append(pm.MediaName.Formats, f)
		}
	}
	if m.Ptime > 0 {
		add("ptime", strconv.Itoa(m.Ptime))
	}
	if m.MaxPtime > 0 {
		add("maxptime", strconv.Itoa(m.MaxPtime))
	}
	if m.RTCPPort != 0 {
		v := strconv.Itoa(int(m.RTCPPort))
		if m.RTCPAddr.IsValid() {
			v += " IN " + sdpAddrType(m.RTCPAddr) + " " + m.RTCPAddr.String()
		}
		add("rtcp", v)
	}
	if m.RTCPMux {
		add("rtcp-mux", "")
	}
	for _, a := range m.Attributes {
		if a.Key == "" || strings.ContainsAny(a.Key, ":\r\n") || strings.ContainsAny(a.Value, "\r\n") {
			return nil, sdpBadField("attribute", a.Key+":"+a.Value)
		}
		add(a.Key, a.Value)
	}
	if m.Direction > MediaInactive {
		return nil, sdpBadField("direction", m.Direction.String())
	}
	add(m.Direction.String(), "")
	return pm, nil
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
