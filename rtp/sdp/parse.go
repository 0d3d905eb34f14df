package sdp

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone/rtp/audio"

	psdp "github.com/pion/sdp/v3"
)

// Parse parses an SDP body with the default Limits. See Limits.Parse.
func Parse(b []byte) (*SessionDescription, error) {
	return Limits{}.Parse(b)
}

// Parse parses an SDP body (RFC 4566) into a SessionDescription. It is
// lenient with what SIP phones send: LF or CR line ends, trailing
// whitespace, session-level lines out of RFC 4566 order, media-level c= after
// a= lines, a missing s= or t= line, and media types or protocols that
// pion/sdp does not know (m=image … udptl t38). Media sections stay in order.
// Errors are *Error; Parse never panics.
func (l Limits) Parse(b []byte) (sd *SessionDescription, err error) {
	l = l.withDefaults()
	if len(b) > l.MaxBytes {
		return nil, &Error{Reason: fmt.Sprintf("%d bytes, limit %d", len(b), l.MaxBytes), Err: ErrTooLarge}
	}
	text, overrides, err := normalizeSDP(b, l)
	if err != nil {
		return nil, err
	}
	var p psdp.SessionDescription
	if err := unmarshalPion(&p, text); err != nil {
		return nil, &Error{Reason: "pion/sdp", Err: err}
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
func normalizeSDP(b []byte, l Limits) (string, []mediaOverride, error) {
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
			return "", nil, &Error{Reason: fmt.Sprintf("line %d is not type=value", lineNo)}
		}
		typ := line[0]
		switch typ {
		case 'v', 'o', 's', 'c', 't', 'a', 'm':
		case 'i', 'u', 'e', 'p', 'b', 'r', 'z', 'k':
			continue // not modelled; pion/sdp is strict about their syntax
		default:
			// RFC 4566 §5: a parser must ignore a description with an
			// unknown type letter.
			return "", nil, &Error{Reason: fmt.Sprintf("line %d has unknown type %q", lineNo, typ)}
		}
		if typ == 'm' {
			if len(media) == l.MaxMedia {
				return "", nil, &Error{Reason: fmt.Sprintf("more than %d media sections", l.MaxMedia), Err: ErrTooLarge}
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
			return "", nil, &Error{Reason: fmt.Sprintf("line %d: %q line inside a media section", lineNo, typ)}
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
func normalizeMediaLine(line string, l Limits) (string, mediaOverride, error) {
	f := strings.Fields(line[2:])
	if len(f) < 3 {
		return "", mediaOverride{}, &Error{Reason: "m= line needs media, port and proto: " + strconv.Quote(line)}
	}
	if len(f)-3 > l.MaxFormats {
		return "", mediaOverride{}, &Error{Reason: fmt.Sprintf("more than %d formats on an m= line", l.MaxFormats), Err: ErrTooLarge}
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
		return netip.Addr{}, &Error{Reason: "c= address is not an IP address: " + strconv.Quote(s)}
	}
	return a, nil
}

func fromPion(p *psdp.SessionDescription, overrides []mediaOverride) (*SessionDescription, error) {
	sd := &SessionDescription{
		Origin: Origin{
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
	sessionDir := SendRecv
	for _, a := range p.Attributes {
		if d, ok := parseMediaDirection(a.Key); ok {
			sessionDir = d
			break
		}
	}
	if len(p.MediaDescriptions) != len(overrides) {
		return nil, &Error{Reason: "media section count changed while parsing"}
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

func mediaFromPion(pm *psdp.MediaDescription, ov mediaOverride, sessConn netip.Addr, sessionDir Direction) (MediaDescription, error) {
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
			return m, &Error{Reason: "RTP payload type out of range: " + strconv.Quote(f)}
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
		case "rtcp-xr":
			m.VoIPMetrics = m.VoIPMetrics || slices.Contains(strings.Fields(a.Value), "voip-metrics")
		default:
			if d, ok := parseMediaDirection(key); ok {
				if !dirSet {
					m.Direction, dirSet = d, true
				}
				continue
			}
			m.Attributes = append(m.Attributes, Attribute{Key: k, Value: a.Value})
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
