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
// (a=setup applies to both components), run at the same time: the RTP
// one's exported keys key SRTP as soon as it ends, and the RTCP one's key
// SRTCP when it ends (srtp.Context.SetRTCPKeys); RTCP is neither sent nor
// taken until then. From PrepareDTLS on until keys are in place the
// session neither sends nor plays plain RTP or RTCP.
//
// A failure of the RTCP association fails the whole, as one of the RTP
// association does (baresip does the same; a wrong fingerprint is one on
// either port): the media keys are dropped. Only a peer that never answers
// on the RTCP port (it runs no second association though rtcp-mux was not
// agreed, as a session bound for rtcp-mux only does) leaves the call with
// SRTP and RTCP off, counted in DTLSStats.RTCPUnanswered (pjsip, too,
// keeps the media of a call whose RTCP association did not end).

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
	// Handshakes counts associations that keyed SRTP or SRTCP: one per
	// HandshakeDTLS with rtcp-mux, two without (RTP and RTCP ports).
	// Failures counts HandshakeDTLS calls that failed, one each whichever
	// port failed (the RTP port when both did), among them
	// FingerprintMismatches, a peer certificate that did not match its
	// a=fingerprint.
	Handshakes, Failures, FingerprintMismatches uint64
	// RTCPHandshakes is the part of Handshakes on the RTCP port, and
	// RTCPFailures the part of Failures; RTCPUnanswered counts RTCP associations
	// the peer never answered (no datagram within the handshake's time),
	// which leave the call with SRTP and without RTCP.
	RTCPHandshakes, RTCPFailures, RTCPUnanswered uint64
	// Received counts DTLS datagrams read on either socket; Dropped those
	// no handshake took: none in progress, or past MaxDTLSQueue.
	Received, Dropped uint64
	// LastHandshake is how long the last successful HandshakeDTLS took
	// to key SRTP (the RTP port's association).
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
	links       [2]atomic.Pointer[dtlsLink] // per component, where its DTLS datagrams go; nil when none
	wanted      atomic.Bool                 // media waits for DTLS-SRTP keys
	rtcpPending atomic.Bool                 // SRTP is keyed, SRTCP waits for the RTCP association

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
// with the same cfg runs at the same time on the RTCP socket with the
// peer's RTCP address, and its keys key SRTCP (RFC 5764 §4.1, §4.2): SRTP
// is keyed when the first ends, SRTCP when the second does, and no RTCP
// goes out or is taken in between. It returns when both have ended, ctx
// ends, DTLSHandshakeTimeout passes or the session closes.
//
// A peer whose certificate does not match cfg.Remote, on either port,
// gives an error wrapping srtp.ErrFingerprintMismatch (the RTCP port's
// errors say so); any failure leaves the session without keys, sending and
// playing no media. The one exception is an RTCP association the peer
// never answers: the call keeps SRTP without RTCP (DTLSStats.
// RTCPUnanswered). Calling it again re-keys (a new association on a
// changed fingerprint or role).
func (s *Session) HandshakeDTLS(ctx context.Context, cfg srtp.DTLSConfig) error {
	if err := s.PrepareDTLS(); err != nil {
		return err
	}
	s.mu.Lock()
	rtpLink, rtcpLink := s.takeLinkLocked(dtlsRTP), (*dtlsLink)(nil)
	if !s.rtcpOnRTP && !s.remoteMux {
		rtcpLink = s.takeLinkLocked(dtlsRTCP)
	}
	rtpPeer, rtcpPeer := s.rtpDest, s.rtcpDest
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
	var rtcpRes *srtp.DTLSResult
	var rtcpErr error
	rtcpDone := make(chan struct{})
	if rtcpLink != nil {
		go func() { // owned here: every return below waits for rtcpDone
			defer close(rtcpDone)
			rtcpRes, rtcpErr = srtp.Handshake(ctx, rtcpLink, net.UDPAddrFromAddrPort(rtcpPeer), cfg)
			if rtcpErr != nil && !unanswered(rtcpErr, rtcpLink) {
				cancel() // the RTP association is stopped: the whole fails
			}
		}()
	} else {
		close(rtcpDone)
	}
	res, err := srtp.Handshake(ctx, rtpLink, net.UDPAddrFromAddrPort(rtpPeer), cfg)
	if err != nil {
		cancel()
		<-rtcpDone
		return s.dtlsFailed(err, rtcpErr, rtcpRes, rtpLink, rtcpLink)
	}
	took := time.Since(start)
	// No RTCP under the RTP keys while the RTCP association runs.
	s.dtls.rtcpPending.Store(rtcpLink != nil)
	if err := s.SetSRTP(&res.Keys); err != nil {
		_ = res.Conn.Close()
		cancel()
		<-rtcpDone
		if rtcpRes != nil {
			_ = rtcpRes.Conn.Close()
		}
		return err
	}
	keyed := s.sec.Load()
	s.keyedDTLS(dtlsRTP, res.Conn, took)
	s.debug("dtls-srtp keyed", "suite", res.Keys.Local.Suite.String(), "client", cfg.Client, "took", took) // never the keys
	<-rtcpDone
	if rtcpLink != nil {
		if err := s.rtcpAssociationEnded(ctx, keyed, rtcpRes, rtcpErr, rtcpLink); err != nil {
			return err
		}
	}
	if s.closedNow() {
		s.closeDTLS()
	}
	return nil
}

// unanswered reports an RTCP association that timed out without a word
// from the peer.
func unanswered(err error, l *dtlsLink) bool {
	return errors.Is(err, context.DeadlineExceeded) && l.got.Load() == 0
}

// keyedDTLS records component c's association, which keyed the session.
func (s *Session) keyedDTLS(c int, conn *piondtls.Conn, took time.Duration) {
	s.dtls.mu.Lock()
	old := s.dtls.conns[c]
	s.dtls.conns[c] = conn
	s.dtls.stats.Handshakes++
	if c == dtlsRTCP {
		s.dtls.stats.RTCPHandshakes++
	} else {
		s.dtls.stats.LastHandshake = took
		if !s.dtls.rtcpPending.Load() && s.dtls.conns[dtlsRTCP] != nil {
			// A re-key with rtcp-mux: an earlier RTCP association ends.
			_ = s.dtls.conns[dtlsRTCP].Close()
			s.dtls.conns[dtlsRTCP] = nil
		}
	}
	s.dtls.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// rtcpAssociationEnded keys SRTCP of keyed, the context the RTP
// association keyed, with the RTCP association's result, or handles its
// failure: unanswered, RTCP stays off; canceled from outside (a re-key,
// Close), an error; any other failure drops the media keys.
func (s *Session) rtcpAssociationEnded(ctx context.Context, keyed *srtp.Context, res *srtp.DTLSResult, err error, l *dtlsLink) error {
	if err == nil {
		c := s.sec.Load()
		if c != keyed || ctx.Err() != nil {
			_ = res.Conn.Close()
			return fmt.Errorf("rtp: SRTP re-keyed or turned off during the RTCP port's DTLS handshake")
		}
		if kerr := c.SetRTCPKeys(srtp.KeyPair{Local: res.Keys.Local, Remote: res.Keys.Remote}); kerr != nil {
			_ = res.Conn.Close()
			return fmt.Errorf("rtp: RTCP port: %w", kerr)
		}
		s.dtls.rtcpPending.Store(false)
		s.keyedDTLS(dtlsRTCP, res.Conn, 0)
		s.debug("dtls-srtcp keyed", "suite", res.Keys.Local.Suite.String()) // never the keys
		return nil
	}
	_ = l.Close()
	s.dtls.links[dtlsRTCP].CompareAndSwap(l, nil)
	if unanswered(err, l) {
		s.dtls.mu.Lock()
		s.dtls.stats.RTCPUnanswered++
		s.dtls.mu.Unlock()
		s.debug("dtls: no association on the RTCP port; RTCP off")
		return nil
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("rtp: RTCP port: %w", err) // re-key or Close: the next handshake keys
	}
	s.countDTLSFailure(dtlsRTCP, err)
	// The whole fails: no media without its keys.
	s.dtls.rtcpPending.Store(false)
	s.closeDTLSConns()
	_ = s.SetSRTP(nil)
	s.debug("dtls failed on the RTCP port", "err", err.Error())
	return fmt.Errorf("rtp: RTCP port: %w", err)
}

// dtlsFailed handles a failed RTP association: both are closed, and one
// failure is counted and returned: the RTCP association's when it failed
// and stopped the RTP one, the RTP one's otherwise.
func (s *Session) dtlsFailed(rtpErr, rtcpErr error, rtcpRes *srtp.DTLSResult, links ...*dtlsLink) error {
	if rtcpRes != nil {
		_ = rtcpRes.Conn.Close()
	}
	err, port := rtpErr, dtlsRTP
	if rtcpErr != nil && errors.Is(rtpErr, context.Canceled) &&
		!errors.Is(rtcpErr, context.Canceled) && !unanswered(rtcpErr, links[dtlsRTCP]) {
		err, port = fmt.Errorf("RTCP port: %w", rtcpErr), dtlsRTCP
	}
	s.countDTLSFailure(port, err)
	for c, l := range links {
		if l != nil {
			_ = l.Close()
			s.dtls.links[c].CompareAndSwap(l, nil)
		}
	}
	s.debug("dtls failed", "err", err.Error())
	return fmt.Errorf("rtp: %w", err)
}

// countDTLSFailure counts a failed association of component c.
func (s *Session) countDTLSFailure(c int, err error) {
	s.dtls.mu.Lock()
	defer s.dtls.mu.Unlock()
	s.dtls.stats.Failures++
	if c == dtlsRTCP {
		s.dtls.stats.RTCPFailures++
	}
	if errors.Is(err, srtp.ErrFingerprintMismatch) {
		s.dtls.stats.FingerprintMismatches++
	}
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
	s.closeDTLSConns()
	for c := range s.dtls.links {
		if l := s.dtls.links[c].Swap(nil); l != nil {
			_ = l.Close()
		}
	}
}

// closeDTLSConns ends the DTLS associations (with a close_notify each).
func (s *Session) closeDTLSConns() {
	s.dtls.mu.Lock()
	conns := s.dtls.conns
	s.dtls.conns = [2]*piondtls.Conn{}
	s.dtls.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
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

// EndDTLS ends DTLS-SRTP on the session: the associations close (with a
// close_notify), media stops waiting for keys, and SRTP goes off
// (SetSRTP(nil)); a re-INVITE to plain RTP does this.
func (s *Session) EndDTLS() error {
	s.closeDTLS()
	s.dtls.wanted.Store(false)
	s.dtls.rtcpPending.Store(false)
	return s.SetSRTP(nil)
}
