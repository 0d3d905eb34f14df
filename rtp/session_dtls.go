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

// DTLS-SRTP on the session's sockets (RFC 5763, RFC 5764): DTLS records
// (first byte 20-63, RFC 7983 §7) are told apart from RTP, RTCP and STUN
// as they are read and queued to a packet-connection adapter, dtlsLink,
// over which pion/dtls runs the handshake with the peer. With rtcp-mux (or
// a session without an RTCP socket) one association on the RTP socket keys
// SRTP and SRTCP. Without it, RFC 5764 §4.1 has a second association on
// the RTCP socket, with the same certificates, fingerprints and roles
// (a=setup applies to both components): the two run at once, the RTP
// one's exported keys key SRTP and the RTCP one's SRTCP
// (srtp.ContextConfig.RTCP), and the session is keyed when both are done.
// From PrepareDTLS on until keys are in place the session neither sends
// nor plays plain RTP or RTCP.

// DTLS settings of a session.
const (
	// DTLSHandshakeTimeout bounds a handshake (HandshakeDTLS) when the
	// caller's context has no earlier deadline; pion retransmits the
	// flights meanwhile (RFC 6347 §4.2.4).
	DTLSHandshakeTimeout = 10 * time.Second
	// MaxDTLSQueue bounds the DTLS datagrams read but not yet taken by
	// the handshake, per socket; more are dropped (and counted), as a
	// network would.
	MaxDTLSQueue = 64
)

// DTLSStats count a session's DTLS-SRTP associations.
type DTLSStats struct {
	// Handshakes counts associations that keyed SRTP: one per
	// HandshakeDTLS with rtcp-mux, two without (RTP and RTCP ports).
	// Failures counts associations that failed (not one stopped because
	// the other failed), among them FingerprintMismatches, a peer
	// certificate that did not match its a=fingerprint.
	Handshakes, Failures, FingerprintMismatches uint64
	// RTCPHandshakes and RTCPFailures are the part of Handshakes and
	// Failures on the RTCP port.
	RTCPHandshakes, RTCPFailures uint64
	// Received counts DTLS datagrams read on either socket; Dropped those
	// no handshake took: none in progress, or past MaxDTLSQueue.
	Received, Dropped uint64
	// LastHandshake is how long the last successful HandshakeDTLS took
	// (both associations without rtcp-mux).
	LastHandshake time.Duration
}

// isDTLS tells a DTLS record from STUN (0-3) and RTP/RTCP (128-191) by
// its first byte (RFC 7983 §7: 20-63).
func isDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// The components of a session's DTLS associations.
const (
	dtlsRTP  = 0
	dtlsRTCP = 1
)

// dtlsState is the session's DTLS side.
type dtlsState struct {
	links  [2]atomic.Pointer[dtlsLink] // per component, where its DTLS datagrams go; nil when none
	wanted atomic.Bool                 // media waits for DTLS-SRTP keys

	received, dropped atomic.Uint64

	mu    sync.Mutex // guards conns and stats
	conns [2]*piondtls.Conn
	stats DTLSStats
}

// PrepareDTLS makes the session wait for DTLS-SRTP keys: from now on it
// sends and plays no plain RTP or RTCP, and DTLS datagrams that arrive
// (on the RTP socket, and on the RTCP socket when there is one) are
// queued for the next HandshakeDTLS (the peer's ClientHello can come
// before our side learns its role from the answer). A session already
// keyed keeps its keys until the next handshake replaces them.
func (s *Session) PrepareDTLS() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	s.dtls.wanted.Store(true)
	for c := range s.dtls.links {
		if c == dtlsRTCP && s.rtcpOnRTP {
			break
		}
		if l := s.dtls.links[c].Load(); l == nil || l.used.Load() {
			s.dtls.links[c].Store(newDTLSLink(s, c == dtlsRTCP))
		}
	}
	return nil
}

// takeLinkLocked returns component c's link for a handshake: the one
// PrepareDTLS made, with what it queued, or a new one.
func (s *Session) takeLinkLocked(c int) *dtlsLink {
	l := s.dtls.links[c].Load()
	if l == nil || !l.used.CompareAndSwap(false, true) {
		l = newDTLSLink(s, c == dtlsRTCP)
		l.used.Store(true)
		s.dtls.links[c].Store(l)
	}
	return l
}

// HandshakeDTLS runs the DTLS-SRTP handshake with the peer at the
// session's remote RTP address (SetRemote, or where its media latched) on
// the RTP socket, as client or server after cfg.Client, and keys the
// session's SRTP with the result. Without rtcp-mux (the session has an
// RTCP socket and the peer did not take rtcp-mux) a second association
// with the same cfg runs at once on the RTCP socket with the peer's RTCP
// address, and its keys key SRTCP (RFC 5764 §4.1, §4.2); the session is
// keyed only when both are done, and either failing fails the whole. It
// blocks until then, ctx ends, DTLSHandshakeTimeout passes or the session
// closes. A peer whose certificate does not match cfg.Remote, on either
// port, gives an error wrapping srtp.ErrFingerprintMismatch; the session
// then stays without keys and sends and plays no media. Calling it again
// re-keys (a new association on a changed fingerprint or role).
func (s *Session) HandshakeDTLS(ctx context.Context, cfg srtp.DTLSConfig) error {
	if err := s.PrepareDTLS(); err != nil {
		return err
	}
	s.mu.Lock()
	links := []*dtlsLink{s.takeLinkLocked(dtlsRTP)}
	peers := []netip.AddrPort{s.rtpDest, s.rtcpDest}
	if !s.rtcpOnRTP && !s.remoteMux {
		links = append(links, s.takeLinkLocked(dtlsRTCP))
	}
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
	res := make([]*srtp.DTLSResult, len(links))
	errs := make([]error, len(links))
	var firstFail atomic.Int32 // the first association to fail; the other is stopped
	firstFail.Store(-1)
	run := func(c int) {
		res[c], errs[c] = srtp.Handshake(ctx, links[c], net.UDPAddrFromAddrPort(peers[c]), cfg)
		if errs[c] != nil && firstFail.CompareAndSwap(-1, int32(c)) {
			cancel()
		}
	}
	var wg sync.WaitGroup
	for c := 1; c < len(links); c++ {
		wg.Go(func() { run(c) }) // owned here: waited for below
	}
	run(dtlsRTP)
	wg.Wait()
	took := time.Since(start)

	if err := s.dtlsFailed(links, res, errs, int(firstFail.Load())); err != nil {
		return err
	}
	keys := res[dtlsRTP].Keys
	if len(res) > 1 {
		keys.RTCP = &srtp.KeyPair{Local: res[dtlsRTCP].Keys.Local, Remote: res[dtlsRTCP].Keys.Remote}
	}
	if err := s.SetSRTP(&keys); err != nil {
		for _, r := range res {
			_ = r.Conn.Close()
		}
		return err
	}
	s.dtls.mu.Lock()
	old := s.dtls.conns
	s.dtls.conns = [2]*piondtls.Conn{}
	for c, r := range res {
		s.dtls.conns[c] = r.Conn
	}
	s.dtls.stats.Handshakes += uint64(len(res))
	s.dtls.stats.RTCPHandshakes += uint64(len(res) - 1)
	s.dtls.stats.LastHandshake = took
	s.dtls.mu.Unlock()
	for _, c := range old {
		if c != nil {
			_ = c.Close()
		}
	}
	s.debug("dtls-srtp keyed", "suite", keys.Local.Suite.String(), "client", cfg.Client,
		"rtcp_association", len(res) > 1, "took", took) // never the keys
	if s.closedNow() {
		s.closeDTLS()
	}
	return nil
}

// dtlsFailed counts the associations of a HandshakeDTLS that failed
// (not one stopped because another, the first to fail, had) and, if any
// did, closes them all and returns the error: a fingerprint mismatch
// before any other, the RTCP port named.
func (s *Session) dtlsFailed(links []*dtlsLink, res []*srtp.DTLSResult, errs []error, firstFail int) error {
	if firstFail < 0 {
		return nil
	}
	var first error
	s.dtls.mu.Lock()
	for c, err := range errs {
		if err == nil {
			_ = res[c].Conn.Close()
			continue
		}
		if c == dtlsRTCP {
			err = fmt.Errorf("RTCP port: %w", err)
		}
		mismatch := errors.Is(err, srtp.ErrFingerprintMismatch)
		if first == nil || (mismatch && !errors.Is(first, srtp.ErrFingerprintMismatch)) {
			first = err
		}
		if c != firstFail && errors.Is(err, context.Canceled) {
			continue // stopped: the other association failed
		}
		s.dtls.stats.Failures++
		if c == dtlsRTCP {
			s.dtls.stats.RTCPFailures++
		}
		if mismatch {
			s.dtls.stats.FingerprintMismatches++
		}
	}
	s.dtls.mu.Unlock()
	for c, l := range links {
		_ = l.Close()
		s.dtls.links[c].CompareAndSwap(l, nil)
	}
	s.debug("dtls failed", "err", first.Error())
	return fmt.Errorf("rtp: %w", first)
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

// closeDTLS ends the DTLS associations and the links (Close).
func (s *Session) closeDTLS() {
	s.dtls.mu.Lock()
	conns := s.dtls.conns
	s.dtls.conns = [2]*piondtls.Conn{}
	s.dtls.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	for c := range s.dtls.links {
		if l := s.dtls.links[c].Swap(nil); l != nil {
			_ = l.Close()
		}
	}
}

// handleDTLS queues a DTLS datagram read on the RTP socket, or on the
// RTCP socket when rtcpSock is set, for the handshake in progress there,
// or drops it.
func (s *Session) handleDTLS(b []byte, from netip.AddrPort, rtcpSock bool) {
	s.dtls.received.Add(1)
	c := dtlsRTP
	if rtcpSock {
		c = dtlsRTCP
	}
	l := s.dtls.links[c].Load()
	if l == nil || !l.push(b, from) {
		s.dtls.dropped.Add(1)
	}
}

// waitingForKeys reports whether media must wait for DTLS-SRTP keys.
func (s *Session) waitingForKeys() bool { return s.dtls.wanted.Load() }

// EndDTLS ends DTLS-SRTP on the session: the association closes (with a
// close_notify), media stops waiting for keys, and SRTP goes off
// (SetSRTP(nil)); a re-INVITE to plain RTP does this.
func (s *Session) EndDTLS() error {
	s.closeDTLS()
	s.dtls.wanted.Store(false)
	return s.SetSRTP(nil)
}
