package sip

import (
	"strconv"
	"strings"
)

// Transport names as written in Via (RFC 3261 §20.42, RFC 7118 §5.1).
const (
	TransportUDP  = "UDP"
	TransportTCP  = "TCP"
	TransportTLS  = "TLS"
	TransportSCTP = "SCTP"
	TransportWS   = "WS"
	TransportWSS  = "WSS"
)

// MagicCookie starts every RFC 3261 branch (§8.1.1.7).
const MagicCookie = "z9hG4bK"

// Via is one Via value (RFC 3261 §20.42).
type Via struct {
	// Proto is the protocol name and version, "SIP/2.0".
	Proto string
	// Transport is the transport in upper case: UDP, TCP, TLS, SCTP, WS,
	// WSS or another token.
	Transport string
	// Host is the sent-by host: a name, an IPv4 address or a bracketed
	// IPv6 reference.
	Host string
	// Port is the sent-by port, or 0 when absent.
	Port int
	// Params are the via-params: branch, received, rport, maddr, ttl…
	Params Params
}

// Branch returns the branch parameter, or "".
func (v *Via) Branch() string { return v.Params.Value("branch") }

// Received returns the received parameter, or "" (RFC 3261 §18.2.1).
func (v *Via) Received() string { return v.Params.Value("received") }

// RPort returns the rport parameter (RFC 3581): present reports whether the
// parameter is there at all, port is its value or 0 for a bare ";rport".
func (v *Via) RPort() (port int, present bool) {
	s, ok := v.Params.Get("rport")
	if !ok {
		return 0, false
	}
	n, valid := parseUint(s, 65535)
	if !valid {
		return 0, true
	}
	return int(n), true
}

// Maddr returns the maddr parameter, or "".
func (v *Via) Maddr() string { return v.Params.Value("maddr") }

// TTL returns the ttl parameter and whether it is present and valid (0..255).
func (v *Via) TTL() (int, bool) {
	n, ok := parseUint(v.Params.Value("ttl"), 255)
	return int(n), ok
}

// SentBy returns "host[:port]".
func (v *Via) SentBy() string {
	if v.Port == 0 {
		return v.Host
	}
	return v.Host + ":" + strconv.Itoa(v.Port)
}

// HasCookie reports whether the branch starts with the RFC 3261 magic cookie.
func (v *Via) HasCookie() bool { return strings.HasPrefix(v.Branch(), MagicCookie) }

// Reliable reports whether the Via's transport is connection-oriented.
func (v *Via) Reliable() bool { return v.Transport != TransportUDP }

// AppendTo appends the Via value's wire form.
func (v *Via) AppendTo(dst []byte) []byte {
	if v.Proto == "" {
		dst = append(dst, "SIP/2.0"...)
	} else {
		dst = append(dst, v.Proto...)
	}
	dst = append(dst, '/')
	dst = append(dst, v.Transport...)
	dst = append(dst, ' ')
	dst = append(dst, v.Host...)
	if v.Port != 0 {
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(v.Port), 10)
	}
	return append(dst, v.Params...)
}

// String returns the Via value's wire form.
func (v Via) String() string {
	var buf [128]byte
	return string(v.AppendTo(buf[:0]))
}

// ParseVia parses one Via value (not a comma-separated list).
func ParseVia(s string) (Via, error) {
	var v Via
	err := v.parse(s)
	return v, err
}

func (v *Via) parse(s string) error {
	var transport string
	upper := false // transport is one of the constants
	i := 0
	if len(s) > 8 && load64(s) == sipSlash2 {
		// The sent-protocol every message carries, "SIP/2.0/" without
		// spaces, and then mostly "UDP " (or TCP, TLS) in upper case:
		// word compares.
		v.Proto = "SIP/2.0"
		if len(s) > 12 {
			switch load32(s[8:]) {
			case udpSpace:
				transport = TransportUDP
			case tcpSpace:
				transport = TransportTCP
			case tlsSpace:
				transport = TransportTLS
			}
		}
		if upper = transport != ""; upper {
			i = skipLWS(s, 12)
		} else {
			transport, i = viaToken(s, 8)
		}
	} else {
		name, j := viaToken(s, 0)
		if name == "" || j >= len(s) || s[j] != '/' {
			return malformed("Via", -1, "bad sent-protocol")
		}
		version, j := viaToken(s, j+1)
		if version == "" || j >= len(s) || s[j] != '/' {
			return malformed("Via", -1, "bad sent-protocol")
		}
		if equalFold(name, "SIP") && version == "2.0" {
			v.Proto = "SIP/2.0"
		} else {
			v.Proto = name + "/" + version
		}
		transport, i = viaToken(s, j+1)
	}
	if transport == "" {
		return malformed("Via", -1, "bad transport")
	}
	if v.Transport = transport; !upper {
		v.Transport = upperTransport(transport)
	}
	// sent-by: host [ SWS ":" SWS port ], then params.
	start := i
	if start < len(s) && s[start] == '[' {
		end := strings.IndexByte(s[start:], ']')
		if end < 0 {
			return malformed("Via", -1, "unterminated IPv6 reference")
		}
		i = start + end + 1
	} else {
		i = span(s, i, clHost)
		if i < len(s) && s[i] != ':' && s[i] != ';' && !isLWS(s[i]) {
			return malformed("Via", -1, "bad sent-by host")
		}
	}
	host := s[start:i]
	port := 0
	j := skipLWS(s, i)
	if j < len(s) && s[j] == ':' {
		j = skipLWS(s, j+1)
		p, k, ok := portAt(s, j)
		if !ok {
			return malformed("Via", -1, "bad port")
		}
		port = p
		j = skipLWS(s, k)
	}
	if host == "" {
		return malformed("Via", -1, "missing sent-by")
	}
	if host[0] == '[' {
		if !validIPv6Ref(host) {
			return malformed("Via", -1, "bad IPv6 sent-by")
		}
	}
	v.Host, v.Port = host, port
	if j < len(s) {
		end, err := scanParams(s, j, false, "Via")
		if err != nil {
			return err
		}
		v.Params = Params(trimLWS(s[j:end]))
	}
	return nil
}

// udpSpace, tcpSpace and tlsSpace are the common transports followed by a
// space, as little-endian words (see load32).
var (
	udpSpace = load32("UDP ")
	tcpSpace = load32("TCP ")
	tlsSpace = load32("TLS ")
)

// viaToken skips LWS, reads a token, skips LWS, and returns the token and
// the index after the trailing LWS.
// sipSlash2 is "SIP/2.0/" as a little-endian word (see load64).
var sipSlash2 = load64("SIP/2.0/")

func viaToken(s string, i int) (string, int) {
	i = skipLWS(s, i)
	start := i
	for i < len(s) && isToken(s[i]) {
		i++
	}
	tok := s[start:i]
	return tok, skipLWS(s, i)
}

func upperTransport(t string) string {
	switch {
	case equalFold(t, TransportUDP):
		return TransportUDP
	case equalFold(t, TransportTCP):
		return TransportTCP
	case equalFold(t, TransportTLS):
		return TransportTLS
	case equalFold(t, TransportSCTP):
		return TransportSCTP
	case equalFold(t, TransportWS):
		return TransportWS
	case equalFold(t, TransportWSS):
		return TransportWSS
	}
	return strings.ToUpper(t)
}

// nextValue returns the list element of s starting at i: up to a comma that
// is outside quotes and angle brackets, trimmed, and the index after that
// comma (len(s) at the end).
func nextValue(s string, i int) (string, int) {
	if strings.IndexByte(s[i:], ',') < 0 {
		return trimLWS(s[i:]), len(s) // one element: nothing to split
	}
	start := i
	angle := false
	for i < len(s) {
		switch s[i] {
		case '"':
			i = skipQuoted(s, i)
			continue
		case '<':
			angle = true
		case '>':
			angle = false
		case ',':
			if !angle {
				return trimLWS(s[start:i]), i + 1
			}
		}
		i++
	}
	return trimLWS(s[start:]), len(s)
}

// SplitValues splits a header value on the commas that separate list
// elements: those outside quoted strings and angle brackets.
func SplitValues(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		var v string
		v, i = nextValue(s, i)
		out = append(out, v)
	}
	return out
}
