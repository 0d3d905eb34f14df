package transport

import (
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/dialtone/dialtone/sip"
)

// stampReceived adds received= and rport= to the top Via of a request that
// arrived from src, as a server transport must (RFC 3261 §18.2.1, RFC 3581
// §4): received when the sent-by host is not the source address, and always
// when the Via carries rport, whose value becomes the source port. The
// message is left untouched (no allocation) when nothing changes.
func stampReceived(req *sip.Request, src netip.AddrPort) { stampReceivedInto(req, src, nil) }

// stampReceivedInto is stampReceived with room for the new Via value:
// spare capacity of the buffer the request was parsed from (the message
// owns it; nothing else writes there). A value that fits is written into
// it and costs no allocation.
func stampReceivedInto(req *sip.Request, src netip.AddrPort, room []byte) {
	v, err := req.TopVia()
	if err != nil {
		return
	}
	ip := src.Addr().Unmap()
	_, rport := v.RPort()
	needReceived := rport
	if !needReceived {
		host, ok := parseHostIP(v.Host)
		needReceived = !ok || host != ip
	}
	if !needReceived {
		return
	}
	// At most one allocation: the new value, written with its parameters
	// into a stack buffer (the address and port strings stay on the
	// stack), then copied into room when it fits.
	var ipb, portb [48]byte
	ipText := string(ip.WithZone("").AppendTo(ipb[:0]))
	params := v.Params
	v.Params = ""
	var buf [viaBuffer]byte
	b := v.AppendTo(buf[:0])
	if rport {
		b = params.AppendSet(b, "received", ipText, "rport", string(strconv.AppendUint(portb[:0], uint64(src.Port()), 10)))
	} else {
		b = params.AppendSet(b, "received", ipText)
	}
	if len(b) > 0 && len(b) <= cap(room) {
		own := append(room[:0], b...)
		req.SetTopViaValue(unsafe.String(&own[0], len(own)))
		return
	}
	req.SetTopViaValue(string(b))
}

// viaBuffer is the stack buffer a stamped Via value is written into; a
// longer one only costs the buffer growing on the heap.
const viaBuffer = 256

// parseHostIP parses a sent-by or maddr host that is an IP literal (IPv6 in
// brackets or not).
func parseHostIP(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// hostString writes an address as a sent-by host: IPv6 in brackets (RFC 3261
// §25.1, RFC 5118).
func hostString(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// defaultPort is the port a sent-by without one stands for.
func defaultPort(n Network) uint16 {
	if n.Secure() {
		return DefaultSIPSPort
	}
	return DefaultSIPPort
}

// stampVia fills the top Via of an outgoing request: transport and sent-by
// from the way it leaves, the caller's branch kept (a new one when there is
// none), and rport asked for (RFC 3581 §3). A request without Via gets one.
func stampVia(req *sip.Request, n Network, sentBy netip.AddrPort) {
	v, err := req.TopVia()
	if err != nil {
		v = sip.Via{}
	}
	var buf [viaBuffer]byte
	b := append(buf[:0], "SIP/2.0/"...)
	b = append(b, n.ViaTransport()...)
	b = append(b, ' ')
	b = appendHost(b, sentBy.Addr())
	if port := sentBy.Port(); port != 0 {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(port), 10)
	}
	params := v.Params
	if params.Has("received") {
		params = params.Del("received")
	}
	if v.Branch() == "" {
		b = append(b, ";branch="...)
		b = sip.AppendBranch(b)
		params = params.Del("branch") // an empty branch= is replaced
	}
	if _, ok := v.RPort(); ok {
		b = params.AppendSet(b)
	} else {
		b = params.AppendSet(b, "rport", "")
	}
	req.SetTopViaValue(string(b))
}

// appendHost appends an address as a sent-by host: IPv6 in brackets
// (RFC 3261 §25.1, RFC 5118).
func appendHost(dst []byte, a netip.Addr) []byte {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		dst = append(dst, '[')
		dst = a.AppendTo(dst)
		return append(dst, ']')
	}
	return a.AppendTo(dst)
}

// unreliableDest picks where a response to a request received over UDP
// goes (RFC 3261 §18.2.2 with RFC 3581 §4): maddr (port from sent-by or
// 5060), else received with rport, else received with the sent-by port,
// else the sent-by itself; src, the flow's remote address, stands in for a
// sent-by host that is a name (names are resolved by RFC 3263 §5, which the
// stamping of received makes unnecessary for requests this layer read).
func unreliableDest(v *sip.Via, src netip.AddrPort) netip.AddrPort {
	port := uint16(v.Port)
	if port == 0 {
		port = DefaultSIPPort
	}
	if m := v.Maddr(); m != "" {
		if a, ok := parseHostIP(m); ok {
			return netip.AddrPortFrom(a, port)
		}
	}
	if r := v.Received(); r != "" {
		if a, ok := parseHostIP(r); ok {
			if rp, ok := v.RPort(); ok && rp != 0 {
				return netip.AddrPortFrom(a, uint16(rp))
			}
			return netip.AddrPortFrom(a, port)
		}
	}
	if a, ok := parseHostIP(v.Host); ok {
		if rp, ok := v.RPort(); ok && rp != 0 {
			return netip.AddrPortFrom(a, uint16(rp))
		}
		return netip.AddrPortFrom(a, port)
	}
	if src.IsValid() {
		return src
	}
	return netip.AddrPort{}
}

// reliableDest is where a new connection for a response goes when the
// request's connection is gone (RFC 3261 §18.2.2): the received address (or
// the sent-by host, or the flow's remote address) with the sent-by port or
// the transport's default port.
func reliableDest(v *sip.Via, n Network, src netip.AddrPort) netip.AddrPort {
	port := uint16(v.Port)
	if port == 0 {
		port = defaultPort(n)
	}
	if r := v.Received(); r != "" {
		if a, ok := parseHostIP(r); ok {
			return netip.AddrPortFrom(a, port)
		}
	}
	if a, ok := parseHostIP(v.Host); ok {
		return netip.AddrPortFrom(a, port)
	}
	if src.IsValid() {
		return netip.AddrPortFrom(src.Addr(), port)
	}
	return netip.AddrPort{}
}
