package rtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	piondtls "github.com/pion/dtls/v3"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// DTLS-SRTP on the session's RTP socket (RFC 5763, RFC 5764): DTLS records
// (first byte 20-63, RFC 7983 §7) are told apart from RTP, RTCP and STUN
// as they are read and queued to a packet-connection adapter, dtlsLink,
// over which pion/dtls runs the handshake with the peer; its datagrams go
// out of the RTP socket to the peer's current RTP address. The exported
// keys key the session's SRTP (SetSRTP). From PrepareDTLS on until keys
// are in place the session neither sends nor plays plain RTP.

// DTLS settings of a session.
const (
	// DTLSHandshakeTimeout bounds a handshake (HandshakeDTLS) when the
	// caller's context has no earlier deadline; pion retransmits the
	// flights meanwhile (RFC 6347 §4.2.4).
	DTLSHandshakeTimeout = 10 * time.Second
	// MaxDTLSQueue bounds the DTLS datagrams read but not yet taken by
	// the handshake; more are dropped (and counted), as a network would.
	MaxDTLSQueue = 64
)

// DTLSStats count a session's DTLS-SRTP handshakes.
type DTLSStats struct {
	// Handshakes counts handshakes that keyed SRTP; Failures those that
	// did not, among them FingerprintMismatches, a peer certificate that
	// did not match its a=fingerprint.
	Handshakes, Failures, FingerprintMismatches uint64
	// Received counts DTLS datagrams read; Dropped those no handshake
	// took: none in progress, past MaxDTLSQueue, or read on a separate
	// RTCP socket (the second association RFC 5764 §4.1 has there without
	// rtcp-mux is not run; offer rtcp-mux for DTLS-SRTP peers).
	Received, Dropped uint64
	// LastHandshake is how long the last successful handshake took.
	LastHandshake time.Duration
}

// isDTLS tells a DTLS record from STUN (0-3) and RTP/RTCP (128-191) by
// its first byte (RFC 7983 §7: 20-63).
func isDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// dtlsState is the session's DTLS side.
type dtlsState struct {
	link   atomic.Pointer[dtlsLink] // where DTLS datagrams go, nil when none
	wanted atomic.Bool              // media waits for DTLS-SRTP keys

	received, dropped atomic.Uint64

	mu    sync.Mutex // guards conn and stats
	conn  *piondtls.Conn
	stats DTLSStats
}

// PrepareDTLS makes the session wait for DTLS-SRTP keys: from now on it
// sends and plays no plain RTP, and DTLS datagrams that arrive are queued
// for the next HandshakeDTLS (the peer's ClientHello can come before our
// side learns its role from the answer). A session already keyed keeps
// its keys until the next handshake replaces them.
func (s *Session) PrepareDTLS() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	s.dtls.wanted.Store(true)
	if l := s.dtls.link.Load(); l == nil || l.used.Load() {
		s.dtls.link.Store(newDTLSLink(s))
	}
	return nil
}

// HandshakeDTLS runs the DTLS-SRTP handshake with the peer at the
// session's remote RTP address (SetRemote, or where its media latched) on
// the RTP socket, as client or server after cfg.Client, and keys the
// session's SRTP with the result. It blocks until the handshake ends, ctx
// ends, DTLSHandshakeTimeout passes or the session closes. A peer whose
// certificate does not match cfg.Remote gives an error wrapping
// srtp.ErrFingerprintMismatch; the session then stays without keys and
// sends and plays no media. Calling it again re-keys (RFC 5763 §6.6?: a new
// association on a changed fingerprint or role).
func (s *Session) HandshakeDTLS(ctx context.Context, cfg srtp.DTLSConfig) error {
	if err := s.PrepareDTLS(); err != nil {
		return err
	}
	s.mu.Lock()
	link := s.dtls.link.Load()
	if link == nil || !link.used.CompareAndSwap(false, true) {
		link = newDTLSLink(s)
		link.used.Store(true)
		s.dtls.link.Store(link)
	}
	peer := s.rtpDest
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, DTLSHandshakeTimeout)
	defer cancel()
	// The session's Close ends the handshake too; the goroutine ends
	// with ctx, which the deferred cancel ends at the latest.
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	start := time.Now()
	res, err := srtp.Handshake(ctx, link, net.UDPAddrFromAddrPort(peer), cfg)
	took := time.Since(start)
	if err != nil {
		_ = link.Close()
		s.dtls.link.CompareAndSwap(link, nil)
		s.dtls.mu.Lock()
		s.dtls.stats.Failures++
		if errors.Is(err, srtp.ErrFingerprintMismatch) {
			s.dtls.stats.FingerprintMismatches++
		}
		s.dtls.mu.Unlock()
		s.debug("dtls failed", "err", err.Error())
		return fmt.Errorf("rtp: %w", err)
	}
	if err := s.SetSRTP(&res.Keys); err != nil {
		_ = res.Conn.Close()
		return err
	}
	s.dtls.mu.Lock()
	old := s.dtls.conn
	s.dtls.conn = res.Conn
	s.dtls.stats.Handshakes++
	s.dtls.stats.LastHandshake = took
	s.dtls.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	s.debug("dtls-srtp keyed", "suite", res.Keys.Local.Suite.String(), "client", cfg.Client, "took", took) // never the keys
	if s.closedNow() {
		s.closeDTLS()
	}
	return nil
}

// DTLSStats returns the session's DTLS counters.
func (s *Session) DTLSStats() DTLSStats {
	s.dtls.mu.Lock()
	defer s.dtls.mu.Unlock()
	st := s.dtls.stats
	st.Received = s.dtls.received.Load()
	st.Dropped = s.dtls.dropped.Load()
	return st
}

func (s *Session) closedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeDTLS ends the DTLS association and the link (Close).
func (s *Session) closeDTLS() {
	s.dtls.mu.Lock()
	c := s.dtls.conn
	s.dtls.conn = nil
	s.dtls.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	if l := s.dtls.link.Swap(nil); l != nil {
		_ = l.Close()
	}
}

// handleDTLS queues a DTLS datagram read on the RTP socket for the
// handshake in progress, or drops it.
func (s *Session) handleDTLS(b []byte, from netip.AddrPort, rtcpSock bool) {
	s.dtls.received.Add(1)
	l := s.dtls.link.Load()
	if rtcpSock || l == nil || !l.push(b, from) {
		s.dtls.dropped.Add(1)
	}
}

// waitingForKeys reports whether media must wait for DTLS-SRTP keys.
func (s *Session) waitingForKeys() bool { return s.dtls.wanted.Load() }

// dtlsDatagram is one DTLS datagram read.
type dtlsDatagram struct {
	b    []byte
	from netip.AddrPort
}

// dtlsLink is the net.PacketConn pion/dtls runs over: reads come from the
// session's receive path, writes go out of its RTP socket to the peer.
type dtlsLink struct {
	s         *Session
	in        chan dtlsDatagram
	done      chan struct{}
	closeOnce sync.Once
	used      atomic.Bool // a handshake took it

	mu            sync.Mutex
	readDeadline  time.Time
	deadlineAlarm chan struct{}
}

func newDTLSLink(s *Session) *dtlsLink {
	return &dtlsLink{s: s, in: make(chan dtlsDatagram, MaxDTLSQueue), done: make(chan struct{}), deadlineAlarm: make(chan struct{})}
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
// current RTP destination (where its media latched), whatever addr says.
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
	if !s.rtpDest.IsValid() {
		return 0, fmt.Errorf("rtp: DTLS: no remote address")
	}
	if err := s.socks.Send(p, s.rtpDest, false); err != nil {
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
func (l *dtlsLink) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(l.s.LocalAddr()) }

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

// EndDTLS ends DTLS-SRTP on the session: the association closes (with a
// close_notify), media stops waiting for keys, and SRTP goes off
// (SetSRTP(nil)); a re-INVITE to plain RTP does this.
func (s *Session) EndDTLS() error {
	s.closeDTLS()
	s.dtls.wanted.Store(false)
	return s.SetSRTP(nil)
}
