package rtp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// dtlsPeer is one side's certificate and fingerprint.
type dtlsPeer struct {
	cert tls.Certificate
	fp   srtp.Fingerprint
}

func newDTLSPeer(t *testing.T) dtlsPeer {
	t.Helper()
	c, fp, err := srtp.NewCertificate()
	require.NoError(t, err)
	return dtlsPeer{cert: c, fp: fp}
}

// handshakeBoth runs a's side as client and b's as server at once and
// returns their errors.
func handshakeBoth(ctx context.Context, a, b *rtp.Session, ca, cb srtp.DTLSConfig) (errA, errB error) {
	done := make(chan error, 1)
	go func() { done <- b.HandshakeDTLS(ctx, cb) }()
	errA = a.HandshakeDTLS(ctx, ca)
	return errA, <-done
}

// Two sessions key SRTP with a DTLS-SRTP handshake (for each profile
// use_srtp can choose), with rtcp-mux (one association on the RTP port)
// and without (a second one on the RTCP port keys SRTCP, RFC 5764 §4.1);
// the tone crosses both ways and RTCP reports go round (an RTT measured);
// on the wire every RTP packet carries an SRTP tag and every RTCP packet
// is SRTCP with its E flag set, on the RTCP port without rtcp-mux; the
// handshakes are counted and timed.
func TestSessionDTLS(t *testing.T) {
	for _, mux := range []bool{false, true} {
		for _, suite := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AEAD_AES_128_GCM} {
			t.Run(fmt.Sprintf("mux=%v/%s", mux, suite), func(t *testing.T) {
				ctx := testCtx(t)
				ports := testPorts(t)
				wire := &packetLog{}
				cfg := rtp.SessionConfig{Ports: ports, RTCPInterval: 100e6, RTCPMux: mux}
				b := newTestSession(t, cfg)
				cfg.Tracer = wire
				a := newTestSession(t, cfg)
				// Keys pending before the remote is set, as the ua does:
				// otherwise a tick between the two sends plain RTP.
				require.NoError(t, a.PrepareDTLS())
				require.NoError(t, b.PrepareDTLS())
				connect(t, a, b, mux)
				if !mux {
					require.NotEqual(t, a.LocalAddr(), a.LocalRTCPAddr(), "an RTCP socket of its own")
				}
				pa, pb := newDTLSPeer(t), newDTLSPeer(t)

				errA, errB := handshakeBoth(ctx, a, b,
					srtp.DTLSConfig{Certificate: pa.cert, Remote: pb.fp, Client: true, Suites: []srtp.Suite{suite}},
					srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp, Suites: srtp.DefaultDTLSSuites()})
				require.NoError(t, errA)
				require.NoError(t, errB)
				require.True(t, a.SRTPEnabled())
				require.True(t, b.SRTPEnabled())
				require.Equal(t, suite, a.SRTPSuite(), "the suite both offered")
				require.Equal(t, suite, b.SRTPSuite())
				associations, onRTCP := uint64(1), uint64(0)
				if !mux {
					associations, onRTCP = 2, 1
				}
				for _, s := range []*rtp.Session{a, b} {
					st := s.Stats().DTLS
					require.Equal(t, associations, st.Handshakes)
					require.Equal(t, onRTCP, st.RTCPHandshakes)
					require.Zero(t, st.Failures)
					require.Zero(t, st.Dropped, "every DTLS datagram went to its association")
					require.Positive(t, st.LastHandshake)
				}
				t.Logf("DTLS-SRTP handshake on loopback (%s, rtcp-mux %v): client %v, server %v",
					suite, mux, a.Stats().DTLS.LastHandshake, b.Stats().DTLS.LastHandshake)

				stopA := playTone(t, ctx, a)
				stopB := playTone(t, ctx, b)
				require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 25), 25, "a to b through DTLS-SRTP")
				require.GreaterOrEqual(t, heardTone(t, ctx, a, 150, 25), 25, "b to a through DTLS-SRTP")
				waitFor(ctx, t, a, "an RTT from SRTCP reports", func() bool { return a.Stats().RTCP.RTT > 0 })
				waitFor(ctx, t, b, "an RTT from SRTCP reports", func() bool { return b.Stats().RTCP.RTT > 0 })
				stopA()
				stopB()
				for _, s := range []*rtp.Session{a, b} {
					st := s.Stats().SRTP
					require.Positive(t, st.RTP.Unprotected)
					require.Positive(t, st.RTCP.Unprotected, "SRTCP opened with the keys of its association")
					require.Zero(t, st.RTP.AuthFailed+st.RTCP.AuthFailed)
				}
				t.Logf("RTT a %v, b %v", a.Stats().RTCP.RTT, b.Stats().RTCP.RTT)

				rtcpPort := a.LocalAddr().Port()
				if !mux {
					rtcpPort = a.LocalRTCPAddr().Port()
				}
				srtcp := 0
				for _, p := range wire.snapshot() {
					if !p.Sent {
						continue
					}
					if !p.RTCP {
						require.Contains(t, []int{10, 16}, len(p.Data)-12-160, "every RTP packet sent carries an SRTP tag")
						continue
					}
					require.Equal(t, rtcpPort, p.Local.Port(), "RTCP on the RTCP port")
					index := len(p.Data) - 4 // RFC 7714 §9.1: E flag and index last
					if !suite.AEAD() {
						index -= suite.RTCPTagLen() // RFC 3711 §3.4: before the tag
					}
					require.NotZero(t, p.Data[index]&0x80, "SRTCP E flag: the report is encrypted")
					require.NotContains(t, string(p.Data), a.Stats().CNAME, "no plain SDES")
					srtcp++
				}
				require.Positive(t, srtcp)
			})
		}
	}
}

// A certificate that does not match the a=fingerprint refuses the media:
// the handshake fails with ErrFingerprintMismatch, counted, and the
// session neither sends nor plays plain RTP after.
func TestSessionDTLSWrongFingerprint(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)
	pa, pb, other := newDTLSPeer(t), newDTLSPeer(t), newDTLSPeer(t)

	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errA, errB := handshakeBoth(hctx, a, b,
		srtp.DTLSConfig{Certificate: pa.cert, Remote: other.fp, Client: true},
		srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp})
	require.ErrorIs(t, errA, srtp.ErrFingerprintMismatch)
	require.ErrorIs(t, errA, srtp.ErrDTLS)
	require.Error(t, errB, "the server learns of the failure (alert) or times out")
	require.Equal(t, uint64(1), a.Stats().DTLS.FingerprintMismatches)
	require.Equal(t, uint64(1), a.Stats().DTLS.Failures)
	require.False(t, a.SRTPEnabled())

	// The server side checks too: a client with the wrong certificate.
	c := newTestSession(t, rtp.SessionConfig{Ports: ports})
	d := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, c, d, false)
	hctx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	_, errD := handshakeBoth(hctx2, c, d,
		srtp.DTLSConfig{Certificate: other.cert, Remote: pb.fp, Client: true},
		srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp})
	require.ErrorIs(t, errD, srtp.ErrFingerprintMismatch)
	require.Equal(t, uint64(1), d.Stats().DTLS.FingerprintMismatches)

	// No plain media either way while the keys are missing.
	stop := playTone(t, ctx, a)
	elapse(ctx, t, b, 20)
	stop()
	require.Zero(t, b.Stats().PacketsReceived, "a sent no plain RTP")
}

// Without rtcp-mux the RTCP port's association checks the fingerprint
// too: a peer whose RTP association presents the announced certificate and
// whose RTCP one another fails the handshake as a wrong fingerprint on the
// RTP port does (ErrFingerprintMismatch, counted on the RTCP port); the
// session drops the keys the RTP association may have set meanwhile and
// sends nothing after, and no RTCP at all.
func TestSessionDTLSRTCPWrongFingerprint(t *testing.T) {
	ctx := testCtx(t)
	wire := &packetLog{}
	a := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t), Tracer: wire, RTCPInterval: 100e6})
	require.NoError(t, a.PrepareDTLS())
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	peerRTP, peerRTCP := listen(), listen()
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	require.NoError(t, a.SetRemote(sdp.MediaParams{RemoteRTP: addr(peerRTP), RemoteRTCP: addr(peerRTCP),
		Codec: audio.PCMU(), Direction: sdp.SendRecv}))
	pa, pb, other := newDTLSPeer(t), newDTLSPeer(t), newDTLSPeer(t)

	peerCtx, stopPeer := context.WithCancel(ctx)
	defer stopPeer()
	var wg sync.WaitGroup
	peer := func(conn *net.UDPConn, to netip.AddrPort, cert tls.Certificate) {
		wg.Go(func() {
			res, err := srtp.Handshake(peerCtx, conn, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, to.Port())),
				srtp.DTLSConfig{Certificate: cert, Remote: pa.fp})
			if err == nil {
				<-peerCtx.Done() // the association stands until the test is done with it
				_ = res.Conn.Close()
			}
		})
	}
	peer(peerRTP, a.LocalAddr(), pb.cert)
	peer(peerRTCP, a.LocalRTCPAddr(), other.cert)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := a.HandshakeDTLS(hctx, srtp.DTLSConfig{Certificate: pa.cert, Remote: pb.fp, Client: true})
	stopPeer()
	wg.Wait()
	require.ErrorIs(t, err, srtp.ErrFingerprintMismatch)
	require.ErrorContains(t, err, "RTCP port")
	st := a.Stats().DTLS
	require.Equal(t, uint64(1), st.RTCPFailures)
	require.Equal(t, uint64(1), st.Failures, "the RTP association, stopped, is not a failure of its own")
	require.Equal(t, uint64(1), st.FingerprintMismatches)
	require.LessOrEqual(t, st.Handshakes, uint64(1), "the RTP association may have ended first")
	require.Zero(t, st.RTCPHandshakes)
	require.False(t, a.SRTPEnabled(), "its keys are dropped")

	// A packet the media worker protected before the keys were dropped may
	// still be on its way out (the session sends silence meanwhile): let
	// the worker tick before counting.
	elapse(ctx, t, a, 1)
	before := len(wire.snapshot())
	stop := playTone(t, ctx, a)
	elapse(ctx, t, a, 20)
	stop()
	for i, p := range wire.snapshot() {
		if !p.Sent {
			continue
		}
		require.Less(t, i, before, "nothing went out after the failure: %d octets, RTCP %v", len(p.Data), p.RTCP)
		require.False(t, p.RTCP, "no RTCP without its association")
		require.Equal(t, 10, len(p.Data)-12-160, "RTP sent while the RTP keys stood was SRTP")
	}
}

// A peer that runs no association on the RTCP port though rtcp-mux was
// not agreed (here a session bound for rtcp-mux only, which has no RTCP
// socket) leaves the call with SRTP and without RTCP: the tone crosses
// both ways, the unanswered association is counted, and no RTCP goes out
// under the RTP association's keys.
func TestSessionDTLSRTCPUnanswered(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	wire := &packetLog{}
	a := newTestSession(t, rtp.SessionConfig{Ports: ports, Tracer: wire, RTCPInterval: 100e6})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPMux: true, RTCPInterval: 100e6})
	require.Equal(t, b.LocalAddr(), b.LocalRTCPAddr(), "b has no RTCP socket")
	connect(t, a, b, false)
	pa, pb := newDTLSPeer(t), newDTLSPeer(t)
	require.NoError(t, a.PrepareDTLS())
	require.NoError(t, b.PrepareDTLS())
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second) // how long a waits for the RTCP association
	defer cancel()
	errA, errB := handshakeBoth(hctx, a, b,
		srtp.DTLSConfig{Certificate: pa.cert, Remote: pb.fp, Client: true},
		srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp})
	require.NoError(t, errA)
	require.NoError(t, errB)
	st := a.Stats().DTLS
	require.Equal(t, uint64(1), st.RTCPUnanswered)
	require.Equal(t, uint64(1), st.Handshakes)
	require.Zero(t, st.Failures)
	require.True(t, a.SRTPEnabled())

	stopA := playTone(t, ctx, a)
	stopB := playTone(t, ctx, b)
	require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 25), 25, "a to b through DTLS-SRTP")
	require.GreaterOrEqual(t, heardTone(t, ctx, a, 150, 25), 25, "b to a through DTLS-SRTP")
	stopA()
	stopB()
	require.Positive(t, b.Stats().RTCP.Sent, "b reported")
	require.Zero(t, a.Stats().RTCP.Received, "a took no RTCP under the RTP keys")
	for _, p := range wire.snapshot() {
		require.False(t, p.Sent && p.RTCP, "a sent no RTCP")
	}
}

// A second HandshakeDTLS without rtcp-mux (new certificates, roles
// swapped: a re-INVITE that changes them) makes two new associations and
// re-keys SRTP and SRTCP, counted; the tone crosses and reports go on
// opening both ways after it.
func TestSessionDTLSRTCPRekey(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	cfg := rtp.SessionConfig{Ports: ports, RTCPInterval: 100e6}
	a, b := newTestSession(t, cfg), newTestSession(t, cfg)
	connect(t, a, b, false)
	pa, pb := newDTLSPeer(t), newDTLSPeer(t)
	errA, errB := handshakeBoth(ctx, a, b,
		srtp.DTLSConfig{Certificate: pa.cert, Remote: pb.fp, Client: true},
		srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp})
	require.NoError(t, errA)
	require.NoError(t, errB)
	waitFor(ctx, t, a, "SRTCP before the re-key", func() bool { return a.Stats().SRTP.RTCP.Unprotected > 0 })

	qa, qb := newDTLSPeer(t), newDTLSPeer(t)
	errB, errA = handshakeBoth(ctx, b, a,
		srtp.DTLSConfig{Certificate: qb.cert, Remote: qa.fp, Client: true},
		srtp.DTLSConfig{Certificate: qa.cert, Remote: qb.fp})
	require.NoError(t, errA)
	require.NoError(t, errB)
	for _, s := range []*rtp.Session{a, b} {
		st := s.Stats().DTLS
		require.Equal(t, uint64(4), st.Handshakes)
		require.Equal(t, uint64(2), st.RTCPHandshakes)
		require.Zero(t, st.Failures)
	}
	before := [2]uint64{a.Stats().SRTP.RTCP.Unprotected, b.Stats().SRTP.RTCP.Unprotected}
	stopA := playTone(t, ctx, a)
	stopB := playTone(t, ctx, b)
	require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 25), 25, "a to b after the re-key")
	require.GreaterOrEqual(t, heardTone(t, ctx, a, 150, 25), 25, "b to a after the re-key")
	waitFor(ctx, t, a, "SRTCP under the new keys", func() bool { return a.Stats().SRTP.RTCP.Unprotected >= before[0]+2 })
	waitFor(ctx, t, b, "SRTCP under the new keys", func() bool { return b.Stats().SRTP.RTCP.Unprotected >= before[1]+2 })
	stopA()
	stopB()
}

// DTLS records are never taken for RTP or RTCP: with no handshake under
// way, on either socket, they are dropped and counted as DTLS.
func TestSessionDTLSDemux(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	// a sends no silence and no keep-alive: every packet b gets is the test's.
	a := newTestSession(t, rtp.SessionConfig{Ports: ports, SuppressSilence: true, IdleKeepAlive: -1})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports, SuppressSilence: true, IdleKeepAlive: -1})
	connect(t, a, b, false)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, b.LocalAddr().Port())))
	require.NoError(t, err)
	defer conn.Close()
	rtcpConn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, b.LocalRTCPAddr().Port())))
	require.NoError(t, err)
	defer rtcpConn.Close()
	record := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1} // a handshake record header
	for _, first := range []byte{20, 22, 23, 63} {
		record[0] = first
		_, err = conn.Write(record)
		require.NoError(t, err)
		_, err = rtcpConn.Write(record)
		require.NoError(t, err)
	}
	waitFor(ctx, t, b, "DTLS records counted", func() bool { return b.Stats().DTLS.Received == 8 })
	st := b.Stats()
	require.Equal(t, uint64(8), st.DTLS.Dropped)
	require.Zero(t, st.Malformed)
	require.Zero(t, st.PacketsReceived)
	require.Zero(t, st.RTCP.Received, "not taken for RTCP")
}
