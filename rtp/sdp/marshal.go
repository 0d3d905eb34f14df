package sdp

import (
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Marshal returns the wire form of sd, with CRLF line ends (RFC 4566 §5),
// written by pion/sdp. Lines come in RFC 4566 order: v, o, s, c, t, then for
// each medium m, c (only where it differs from the session-level c=),
// a=rtpmap and a=fmtp per format, a=ptime, a=maxptime, a=rtcp, a=rtcp-mux,
// the other attributes, and the direction.
// It fails with ErrMalformed if a field would not survive the trip, for
// example a line break inside a codec name.
func (sd *SessionDescription) Marshal() ([]byte, error) {
	p, err := sd.toPion()
	if err != nil {
		return nil, err
	}
	return p.Marshal()
}

func sdpBadField(what, v string) error {
	return &Error{Reason: "cannot marshal " + what + " " + strconv.Quote(v)}
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
	if m.VoIPMetrics {
		add("rtcp-xr", "voip-metrics")
	}
	for _, a := range m.Attributes {
		if a.Key == "" || strings.ContainsAny(a.Key, ":\r\n") || strings.ContainsAny(a.Value, "\r\n") {
			return nil, sdpBadField("attribute", a.Key+":"+a.Value)
		}
		add(a.Key, a.Value)
	}
	if m.Direction > Inactive {
		return nil, sdpBadField("direction", m.Direction.String())
	}
	add(m.Direction.String(), "")
	return pm, nil
}
