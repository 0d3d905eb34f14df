package rtp

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// dtlsDatagram is one DTLS datagram read.
type dtlsDatagram struct {
	b    []byte
	from netip.AddrPort
}

// dtlsLink is the net.PacketConn pion/dtls runs over: reads come from the
// session's receive path, writes go out of its RTP socket to the peer's
// RTP address, or, for the RTCP association (rtcp set), out of its RTCP
// socket to the peer's RTCP address.
type dtlsLink struct {
	s         *Session
	rtcp      bool
	in        chan dtlsDatagram
	done      chan struct{}
	closeOnce sync.Once
	used      atomic.Bool   // a handshake took it
	got       atomic.Uint64 // datagrams queued: the peer answered

	mu            sync.Mutex
	readDeadline  time.Time
	deadlineAlarm chan struct{}
}

func newDTLSLink(s *Session, rtcp bool) *dtlsLink {
	return &dtlsLink{s: s, rtcp: rtcp, in: make(chan dtlsDatagram, MaxDTLSQueue), done: make(chan struct{}), deadlineAlarm: make(chan struct{})}
}

// push queues a copy of b; false when full or closed.
func (l *dtlsLink) push(b []byte, from netip.AddrPort) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.in <- dtlsDatagram{b: append([]byte(nil), b...), from: from}:
		l.got.Add(1)
		return true
	default:
		return false
	}
}

// ReadFrom implements net.PacketConn.
func (l *dtlsLink) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err, again := l.readOnce(p)
		if !again {
			return n, from, err
		}
	}
}

// readOnce waits for a datagram until the read deadline; again is true
// when the deadline changed meanwhile.
func (l *dtlsLink) readOnce(p []byte) (n int, from net.Addr, err error, again bool) {
	l.mu.Lock()
	dl, alarm := l.readDeadline, l.deadlineAlarm
	l.mu.Unlock()
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return 0, nil, errDTLSTimeout, false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-l.in:
		return copy(p, d.b), net.UDPAddrFromAddrPort(d.from), nil, false
	case <-l.done:
		return 0, nil, net.ErrClosed, false
	case <-timeout:
		return 0, nil, errDTLSTimeout, false
	case <-alarm:
		return 0, nil, nil, true
	}
}

// WriteTo implements net.PacketConn: the datagram goes to the session's
// current RTP (or RTCP) destination, where its media latched, whatever
// addr says.
func (l *dtlsLink) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-l.done:
		return 0, net.ErrClosed
	default:
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	dest := s.rtpDest
	if l.rtcp {
		dest = s.rtcpDest
	}
	if !dest.IsValid() {
		return 0, fmt.Errorf("rtp: DTLS: no remote address")
	}
	if err := s.socks.Send(p, dest, l.rtcp); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close implements net.PacketConn; it is idempotent.
func (l *dtlsLink) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// LocalAddr implements net.PacketConn.
func (l *dtlsLink) LocalAddr() net.Addr {
	return net.UDPAddrFromAddrPort(l.s.socks.LocalAddr(l.rtcp))
}

// SetDeadline implements net.PacketConn (reads only: writes do not block).
func (l *dtlsLink) SetDeadline(t time.Time) error { return l.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (l *dtlsLink) SetReadDeadline(t time.Time) error {
	l.mu.Lock()
	l.readDeadline = t
	close(l.deadlineAlarm)
	l.deadlineAlarm = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes do not block.
func (l *dtlsLink) SetWriteDeadline(time.Time) error { return nil }

// errDTLSTimeout is a read deadline's error (a net.Error with Timeout).
var errDTLSTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "rtp: DTLS read deadline" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
