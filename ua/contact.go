package ua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// This file builds the Contacts that reach us (RFC 3261 §8.1.1.8, §10.2.1;
// RFC 3581; RFC 5626): for the transport the request really leaves on,
// from the connection itself when no listener of that transport exists
// (a client-only UA over TCP or TLS), and with the public address learnt
// for the line (the registrar's received/rport over UDP, or STUN) in every
// Contact of the line, and so in the SDP built from it.

// lineFlow is what a line knows of the flow its registration rides and of
// the address the outside sees it at. It is guarded by Line.mu.
type lineFlow struct {
	// net is the network of the registration's next hop, known once the
	// first Contact is built.
	net transport.Network
	// flow is the flow the last REGISTER left on.
	flow transport.Flow
	// fromConn: the Contact is the local address of the connection (no
	// listener of net): it lives and dies with that connection.
	fromConn bool
	// public is the address the outside sees the line's SIP socket at
	// (invalid until learnt), mapped what STUN alone reported.
	public, mapped netip.AddrPort
	// outbound: the registrar applies RFC 5626 (Require: outbound).
	outbound bool
	// stale is a Contact to remove (expires 0) with the next REGISTER: the
	// one of a flow that died.
	stale *sip.Address
	// ka is the keepalive timer; ping the state of the UDP keepalive.
	ka   *clockTimer
	ping stunPing
}

// hop is the first hop of the line's requests: its outbound proxy, else
// its registrar (zero for a line with neither).
func (l *Line) hop() sip.URI {
	switch {
	case l.proxy != nil:
		return *l.proxy
	case l.registrar != nil:
		return *l.registrar
	}
	return sip.URI{}
}

// sendNetwork is the network the line's REGISTERs go over: the one its
// Contact was built for, else the configured one.
func (l *Line) sendNetwork() transport.Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nat.net != "" {
		return l.nat.net
	}
	return l.network
}

// buildContact builds the Contact to register, for the network the
// registrar's next hop resolves to: a listener's address when the UA has
// one of that network (its public mapping by STUN over UDP when the line
// has a STUN server), else, over a stream, the local address of the
// connection the registration then rides (RFC 5923 style: requests for us
// come back on it).
func (l *Line) buildContact(ctx context.Context) (sip.Address, error) {
	u := l.u
	hop := l.hop()
	targets, err := u.resolve(ctx, hop, l.network)
	if err != nil {
		return sip.Address{}, err
	}
	if len(targets) == 0 {
		return sip.Address{}, transport.ErrNoTargets
	}
	t := targets[0]
	n := t.Network
	var ct sip.Address
	fromConn := false
	if n.Reliable() && !u.tp.HasListener(n) {
		f, err := u.tp.Connect(ctx, t)
		if err != nil {
			return sip.Address{}, err
		}
		ct, err = u.contacts.at(l.user, f.Local, n)
		if err != nil {
			return sip.Address{}, err
		}
		fromConn = true
	} else {
		ct, err = u.contactFor(ctx, l.user, n, hop)
		if err != nil {
			return sip.Address{}, err
		}
		if n == transport.UDP && l.cfg.STUNServer != "" {
			if pub, ok := l.discover(ctx, t); ok {
				ct = withHostPort(ct, pub)
			}
		}
	}
	if hop.Scheme == "sips" || l.registrar.Scheme == "sips" {
		ct.URI.Scheme = "sips" // RFC 5630 §3.1.3: a sips AOR registers a sips Contact
	}
	l.mu.Lock()
	l.nat.net, l.nat.fromConn = n, fromConn
	l.mu.Unlock()
	return ct, nil
}

// withHostPort returns ct with its host and port replaced by ap.
func withHostPort(ct sip.Address, ap netip.AddrPort) sip.Address {
	out := ct
	host := ap.Addr().Unmap().String()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 reference (RFC 5118)
	}
	out.URI.Host, out.URI.Port = host, int(ap.Port())
	return out
}

// callContact returns the Contact for a call or request of the line over
// network n when the line has one of its own for n: LineConfig.Contact,
// or the registered Contact (a listener's, the public address, the
// connection's address) when it was built for n. With RFC 5626 outbound in use it carries "ob"
// (§4.3: in-dialog requests come back on the flow).
//
// hop, when not nil, is where the request goes first: a Contact that is a
// connection's address is only good for requests on that connection, to
// the line's own first hop.
func (l *Line) callContact(n transport.Network, hop *sip.URI) (sip.Address, bool) {
	if l == nil {
		return sip.Address{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Contact != "" {
		return l.contact, true
	}
	if !l.haveCt || l.nat.net == "" || (n != "" && n != l.nat.net) {
		return sip.Address{}, false
	}
	if own := l.hop(); l.nat.fromConn && hop != nil && (hop.Host != own.Host || hop.Port != own.Port) {
		return sip.Address{}, false
	}
	ct := l.contact
	if l.nat.outbound {
		ct.URI.Params = ct.URI.Params.Set("ob", "")
	}
	return ct, true
}

// PublicAddr returns the address the outside sees the line's SIP socket
// at, as learnt from the registrar (received/rport, RFC 3581) or STUN; ok
// is false until one is learnt.
func (l *Line) PublicAddr() (netip.AddrPort, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nat.public, l.nat.public.IsValid()
}

// Outbound reports whether the registrar applies RFC 5626 outbound to the
// line's registration (it answered with Require: outbound).
func (l *Line) Outbound() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nat.outbound
}

// contactVia builds the Contact of a request of line (nil: none) over
// network n toward hop: the line's own (callContact), else a listener's,
// else, over a stream without a listener, the local address of the
// connection to hop (which the request then rides).
func (u *UA) contactVia(ctx context.Context, line *Line, user string, n transport.Network, hop sip.URI) (sip.Address, error) {
	if ct, ok := line.callContact(n, &hop); ok {
		return ct, nil
	}
	ct, err := u.contactFor(ctx, user, n, hop)
	if err == nil || !errors.Is(err, ErrNoListener) || !n.Reliable() || n == "" {
		return ct, err
	}
	targets, rerr := u.resolve(ctx, hop, n)
	if rerr != nil {
		return sip.Address{}, rerr
	}
	if len(targets) == 0 {
		return sip.Address{}, transport.ErrNoTargets
	}
	f, cerr := u.tp.Connect(ctx, targets[0])
	if cerr != nil {
		return sip.Address{}, cerr
	}
	ct, err = u.contacts.at(user, f.Local, n)
	if err == nil && hop.Scheme == "sips" {
		ct.URI.Scheme = "sips"
	}
	return ct, err
}

// noteFlow records the flow a REGISTER of the line left on.
func (l *Line) noteFlow(f transport.Flow) {
	l.mu.Lock()
	l.nat.flow = f
	l.mu.Unlock()
}

// noteRegistered records what a registrar's 2xx tells about the flow: RFC
// 5626 outbound in use (Require: outbound).
func (l *Line) noteRegistered(res *sip.Response) {
	ob := res.HasToken("Require", "outbound")
	l.mu.Lock()
	l.nat.outbound = ob
	l.nat.stale = nil
	l.mu.Unlock()
}

// notePublic records the public address learnt for the line.
func (l *Line) notePublic(ap netip.AddrPort) {
	l.mu.Lock()
	l.nat.public = ap
	l.mu.Unlock()
}

// natApplies reports whether the registrar's received/rport may correct
// the Contact: over UDP only. On a connection rport is the client's
// ephemeral port, never a listening one (RFC 3581 §4 is for response
// routing), and the registration rides the connection instead.
func (l *Line) natApplies() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nat.flow.Network == transport.UDP && !l.nat.fromConn
}

// outboundParams adds the RFC 5626 §4.2 Contact parameters of the line's
// registration: +sip.instance and reg-id (one flow per line: reg-id 1).
func (l *Line) outboundParams(a sip.Address, regID string) sip.Address {
	a.Params = a.Params.Set("+sip.instance", `"<`+l.cfg.InstanceID+`>"`).Set("reg-id", regID)
	return a
}

// newInstanceID returns a random urn:uuid (RFC 4122 version 4), the
// +sip.instance of a line that has none configured.
func newInstanceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// contactAddrPort is the host and port of a Contact whose host is an IP
// address (invalid otherwise).
func contactAddrPort(ct sip.Address) netip.AddrPort {
	a, err := netip.ParseAddr(strings.Trim(ct.URI.Host, "[]"))
	if err != nil {
		return netip.AddrPort{}
	}
	port := ct.URI.Port
	if port == 0 {
		port = transport.DefaultSIPPort
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// checkSymmetric reports what the registrar's view of the line's UDP
// socket tells, with what STUN said: differ says the registrar saw another
// address than the Contact (which holds the STUN mapping when there is
// one). A NAT whose mapping toward the registrar differs from its mapping
// toward the STUN server is symmetric (EventNATDetected with
// ErrSymmetricNAT); any other NAT seen is reported with no error.
func (l *Line) checkSymmetric(seen sip.Address, differ bool) {
	l.mu.Lock()
	mapped := l.nat.mapped
	l.mu.Unlock()
	switch {
	case differ && mapped.IsValid():
		l.u.log.Warn("symmetric NAT: STUN's mapping is not the registrar's; relying on the registration flow and symmetric RTP",
			"stun", mapped.String(), "registrar", seen.URI.HostPort())
		l.u.emit(Event{Kind: EventNATDetected, Line: l, Err: ErrSymmetricNAT})
	case differ || mapped.IsValid():
		l.u.emit(Event{Kind: EventNATDetected, Line: l})
	}
}

// natContact returns ct with the host and port the registrar saw (the
// received and rport parameters of its top Via) when they differ.
func natContact(res *sip.Response, ct sip.Address) (sip.Address, bool) {
	v, err := res.TopVia()
	if err != nil {
		return ct, false
	}
	host := v.Received()
	port, _ := v.RPort()
	if host == "" && port == 0 {
		return ct, false
	}
	if host == "" {
		host = ct.URI.Host
	}
	if port == 0 {
		port = ct.URI.Port
	}
	if host == ct.URI.Host && port == ct.URI.Port {
		return ct, false
	}
	out := ct
	out.URI.Host = host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		out.URI.Host = "[" + host + "]" // IPv6 reference (RFC 5118)
	}
	out.URI.Port = port
	return out, true
}
