package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/dialtone/dialtone/sip"
)

// udpSock is one UDP listener. Its read loop owns the read buffers; writes
// come from any goroutine (datagram writes do not interleave).
type udpSock struct {
	pc    net.PacketConn
	local netip.AddrPort
	raw   *rawSender // nil: send through pc
	eq    *errQueue  // nil: ICMP errors are not read (recverr_linux.go)
}

type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// batchReader is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

func (l *Layer) listenUDP(ctx context.Context, addr string) (net.Addr, error) {
	pc, err := l.cfg.Net.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		if l.cfg.UDPReadBuffer > 0 {
			_ = uc.SetReadBuffer(l.cfg.UDPReadBuffer)
		}
		if l.cfg.UDPWriteBuffer > 0 {
			_ = uc.SetWriteBuffer(l.cfg.UDPWriteBuffer)
		}
	}
	s := &udpSock{pc: pc, local: addrPortOf(pc.LocalAddr())}
	if uc, ok := pc.(*net.UDPConn); ok {
		s.raw = newRawSender(uc, s.local)
		s.eq = enableRecvErr(uc)
	}
	if !l.track(func() { l.udp = append(l.udp, s) }) {
		_ = pc.Close()
		return nil, ErrClosed
	}
	go l.udpLoop(s)
	return pc.LocalAddr(), nil
}

// udpLoop reads datagrams until the socket closes: in batches (recvmmsg)
// on an operating-system socket, one by one otherwise.
func (l *Layer) udpLoop(s *udpSock) {
	defer l.wg.Done()
	if uc, ok := s.pc.(*net.UDPConn); ok {
		if r, ok := newMmsgReader(uc, udpBatch, maxDatagram, s.eq); ok && l.udpMmsgLoop(s, r) {
			return
		}
		// The loops below do not read the error queue: let the kernel
		// drop ICMP errors again instead of queuing them.
		s.eq.disable()
		var br batchReader
		if s.local.Addr().Is4() {
			br = ipv4.NewPacketConn(uc)
		} else {
			br = ipv6.NewPacketConn(uc)
		}
		if l.udpBatchLoop(s, br) {
			return
		}
	}
	buf := make([]byte, maxDatagram)
	apr, _ := s.pc.(addrPortReader)
	for {
		var (
			n   int
			src netip.AddrPort
			err error
		)
		if apr != nil {
			n, src, err = apr.ReadFromUDPAddrPort(buf)
			src = unmapAP(src)
		} else {
			var a net.Addr
			n, a, err = s.pc.ReadFrom(buf)
			src = addrPortOf(a)
		}
		if err != nil {
			if l.readFailed(s, err) {
				return
			}
			continue
		}
		l.datagram(s, buf[:n], src, time.Now())
	}
}

// udpMmsgLoop reads with recvmmsg(2) into buffers it owns; it returns
// false at once if that is not supported, true when the socket is closed.
func (l *Layer) udpMmsgLoop(s *udpSock, r *mmsgReader) bool {
	fo := newFanout(l, l.cfg.UDPWorkers-1)
	defer fo.stop()
	first := true
	for {
		n, err := r.read()
		if err != nil {
			if first && !isClosedErr(err) {
				return false
			}
			if l.readFailed(s, err) {
				return true
			}
			continue
		}
		first = false
		if n == 0 {
			l.portUnreachable(s, r.unreachable())
			continue
		}
		now := time.Now()
		if fo == nil || n < udpFanoutMin {
			for i := range n {
				b, src := r.datagram(i)
				l.datagram(s, b, src, now)
			}
			continue
		}
		for i := range n {
			b, src := r.datagram(i)
			if m, f, ok := l.parseDatagram(s, b, src, now); ok {
				fo.add(m, f)
			}
		}
		fo.deliver(now)
	}
}

// udpBatchLoop reads with ReadBatch; it returns false at once if batches
// are not supported, true when the socket is closed.
func (l *Layer) udpBatchLoop(s *udpSock, br batchReader) bool {
	ms := make([]ipv4.Message, udpBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	first := true
	for {
		n, err := br.ReadBatch(ms, 0)
		if err != nil {
			if first && !isClosedErr(err) && !errors.Is(err, net.ErrClosed) {
				var op *net.OpError
				if !errors.As(err, &op) || !op.Timeout() {
					return false
				}
			}
			if l.readFailed(s, err) {
				return true
			}
			continue
		}
		first = false
		now := time.Now()
		for i := range n {
			m := &ms[i]
			var src netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				src = unmapAP(ua.AddrPort())
			}
			l.datagram(s, m.Buffers[0][:m.N], src, now)
		}
	}
}

// readFailed decides whether a read error ends the loop.
func (l *Layer) readFailed(s *udpSock, err error) bool {
	if isClosedErr(err) || l.ctx.Err() != nil {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	// ICMP-caused errors (ECONNREFUSED) and the like are transient on UDP.
	l.debug("udp read error", Flow{Network: UDP, Local: s.local}, err)
	select {
	case <-l.ctx.Done():
		return true
	case <-time.After(time.Millisecond):
		return false
	}
}

// datagram handles one received datagram; b is only valid during the call.
func (l *Layer) datagram(s *udpSock, b []byte, src netip.AddrPort, at time.Time) {
	if m, f, ok := l.parseDatagram(s, b, src, at); ok {
		l.deliver(m, f, at, nil)
	}
}

// parseDatagram parses a datagram read into a reused buffer; a malformed
// one is counted and answered 400 where possible, a keepalive ignored.
func (l *Layer) parseDatagram(s *udpSock, b []byte, src netip.AddrPort, at time.Time) (sip.Message, Flow, bool) {
	if isCRLFOnly(b) {
		return nil, Flow{}, false // NAT keepalive; nothing to answer on UDP
	}
	if l.cfg.OnSTUN != nil && isSTUN(b) {
		l.cfg.OnSTUN(stunFlow(s, src), bytes.Clone(b))
		return nil, Flow{}, false
	}
	f := Flow{Network: UDP, Local: s.local, Remote: src}
	l.trace(In, f, b, at)
	// The message keeps its bytes (sip.Parse aliases its input); b is the
	// read loop's buffer, reused for the next datagram. A request's copy
	// has room after it for its top Via stamped with received and rport
	// (RFC 3261 §18.2.1, RFC 3581 §4): one allocation for both.
	var owned, room []byte
	if isResponse(b) {
		owned = bytes.Clone(b)
	} else {
		owned = make([]byte, len(b), len(b)+viaRoom)
		copy(owned, b)
		owned, room = owned[:len(b):len(b)], owned[len(b):len(b)]
	}
	m, err := sip.ParseWith(owned, l.cfg.Limits)
	if err != nil {
		l.st.malformedDatagrams.Add(1)
		l.warn("malformed datagram", f, err)
		if res := badRequest(b, parseReason(err)); res != nil {
			if l.writeUDP(s, res, src, f) == nil {
				l.st.badRequestsSent.Add(1)
			}
		}
		return nil, Flow{}, false
	}
	if req, ok := m.(*sip.Request); ok {
		stampReceivedInto(req, src, room)
	}
	return m, f, true
}

// viaRoom is the room a received request's copy keeps after its bytes for
// the stamped top Via (the Via, received= with an IPv6 address, rport=);
// a longer Via costs an allocation of its own.
const viaRoom = 160

// isResponse reports whether a datagram starts as a status line does.
func isResponse(b []byte) bool { return len(b) >= 4 && string(b[:4]) == "SIP/" }

// maxICMPResends bounds how many times writeUDP sends a datagram again
// after sendto returned an ICMP error meant for an earlier one.
const maxICMPResends = 3

func (l *Layer) writeUDP(s *udpSock, b []byte, dst netip.AddrPort, f Flow) error {
	if leavesLoopback(s.local, dst) {
		// Linux refuses it (EINVAL), other systems may not: never try.
		l.st.writeErrors.Add(1)
		return &SourceError{Network: UDP, Local: s.local, Addr: dst}
	}
	err := s.send(b, dst)
	for i := 0; err != nil && i < maxICMPResends; i++ {
		maybe, surely := icmpSendError(err)
		if !maybe || s.eq == nil {
			break
		}
		// The socket's pending ICMP error came back instead of this send:
		// the datagram did not leave. Report what the error queue holds
		// and send again.
		dsts, read := s.eq.drain()
		l.portUnreachable(s, dsts)
		if !read && !surely {
			break // the send's own error (no route, …)
		}
		err = s.send(b, dst)
	}
	if err != nil {
		l.st.writeErrors.Add(1)
		if isClosedErr(err) && l.ctx.Err() != nil {
			return ErrClosed
		}
		if localDrop(err) {
			l.st.datagramsDropped.Add(1)
			return fmt.Errorf("%w: %w", ErrDatagramDropped, err)
		}
		return sendError(UDP, s.local, dst, err)
	}
	l.st.messagesOut.Add(1)
	l.trace(Out, f, b, time.Now())
	return nil
}

// send writes one datagram, through a raw sendto when possible.
func (s *udpSock) send(b []byte, dst netip.AddrPort) error {
	if s.raw != nil {
		if sent, err := s.raw.send(b, dst); sent {
			return err
		}
	}
	return s.write(b, dst)
}

// portUnreachable reports destinations that answered ICMP port
// unreachable to the handler, as errors of their flows from s.
func (l *Layer) portUnreachable(s *udpSock, dsts []netip.AddrPort) {
	for _, dst := range dsts {
		l.st.portUnreachable.Add(1)
		f := Flow{Network: UDP, Local: s.local, Remote: dst}
		err := &UnreachableError{Network: UDP, Addr: dst, Err: ErrPortUnreachable}
		l.debug("ICMP port unreachable", f, err)
		if h := l.h; h != nil {
			h.HandleFlowError(f, err)
		}
	}
}

// write sends b through the net package.
func (s *udpSock) write(b []byte, dst netip.AddrPort) error {
	if w, ok := s.pc.(addrPortWriter); ok {
		if s.local.Addr().Is6() && dst.Addr().Is4() {
			dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
		}
		_, err := w.WriteToUDPAddrPort(b, dst)
		return err
	}
	_, err := s.pc.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	return err
}

// udpFor picks the socket to send to dst from: one of dst's family, bound
// to a loopback address when dst is loopback (and not otherwise) or to a
// wildcard address; failing that any socket of the family.
func (l *Layer) udpFor(dst netip.AddrPort) *udpSock {
	l.mu.Lock()
	defer l.mu.Unlock()
	var fallback *udpSock
	for _, s := range l.udp {
		a := s.local.Addr()
		if a.Is4() != dst.Addr().Is4() {
			if a.Is6() && a.IsUnspecified() && fallback == nil {
				fallback = s // dual-stack wildcard
			}
			continue
		}
		if a.IsUnspecified() || a.IsLoopback() == dst.Addr().IsLoopback() {
			return s
		}
		if fallback == nil || fallback.local.Addr().Is4() != dst.Addr().Is4() {
			fallback = s
		}
	}
	return fallback
}

// udpByLocal finds the socket bound to local (the one a request arrived
// on, so that the response leaves from it, RFC 3581 §4), or picks one for
// dst.
func (l *Layer) udpByLocal(local, dst netip.AddrPort) *udpSock {
	l.mu.Lock()
	for _, s := range l.udp {
		if s.local == local {
			l.mu.Unlock()
			return s
		}
	}
	l.mu.Unlock()
	return l.udpFor(dst)
}

// udpSentBy is the sent-by for a request leaving s for dst: the bound
// address, or for a wildcard socket the local address the system would
// use towards dst.
func (l *Layer) udpSentBy(s *udpSock, dst netip.AddrPort) netip.AddrPort {
	if !s.local.Addr().IsUnspecified() {
		return s.local
	}
	l.mu.Lock()
	a, ok := l.routes[dst.Addr()]
	l.mu.Unlock()
	if !ok {
		a = l.localAddrFor(dst)
		l.mu.Lock()
		if len(l.routes) >= maxRoutes {
			clear(l.routes)
		}
		l.routes[dst.Addr()] = a
		l.mu.Unlock()
	}
	return netip.AddrPortFrom(a, s.local.Port())
}

// localAddrFor asks the network which local address it would send to dst
// from, by connecting a UDP socket (which sends nothing).
func (l *Layer) localAddrFor(dst netip.AddrPort) netip.Addr {
	ctx, cancel := context.WithTimeout(l.ctx, time.Second)
	defer cancel()
	c, err := l.cfg.Net.DialContext(ctx, "udp", dst.String())
	if err != nil {
		if dst.Addr().Is4() {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return netip.IPv6Loopback()
	}
	defer c.Close()
	return addrPortOf(c.LocalAddr()).Addr()
}

func isCRLFOnly(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func parseReason(err error) string {
	var pe *sip.ParseError
	if errors.As(err, &pe) {
		if pe.Reason != "" {
			return pe.Part + ": " + pe.Reason
		}
		return pe.Part
	}
	return ""
}
