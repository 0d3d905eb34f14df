package rtp_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
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

// Two sessions key SRTP with a DTLS-SRTP handshake on their RTP sockets
// (for each profile use_srtp can choose) and the tone crosses both ways;
// nothing plain went out, and the handshake's time is recorded.
func TestSessionDTLS(t *testing.T) {
	for _, suite := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AEAD_AES_128_GCM} {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			wire := &packetLog{}
			a := newTestSession(t, rtp.SessionConfig{Ports: ports, Tracer: wire, RTCPInterval: 100e6})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPInterval: 100e6})
			connect(t, a, b, false)
			pa, pb := newDTLSPeer(t), newDTLSPeer(t)
			require.NoError(t, a.PrepareDTLS())
			require.NoError(t, b.PrepareDTLS())

			errA, errB := handshakeBoth(ctx, a, b,
				srtp.DTLSConfig{Certificate: pa.cert, Remote: pb.fp, Client: true, Suites: []srtp.Suite{suite}},
				srtp.DTLSConfig{Certificate: pb.cert, Remote: pa.fp, Suites: srtp.DefaultDTLSSuites()})
			require.NoError(t, errA)
			require.NoError(t, errB)
			require.True(t, a.SRTPEnabled())
			require.True(t, b.SRTPEnabled())
			require.Equal(t, suite, a.SRTPSuite(), "the suite both offered")
			require.Equal(t, suite, b.SRTPSuite())
			st := a.Stats().DTLS
			require.Equal(t, uint64(1), st.Handshakes)
			require.Positive(t, st.LastHandshake)
			t.Logf("DTLS-SRTP handshake on loopback (%s): client %v, server %v", suite, st.LastHandshake, b.Stats().DTLS.LastHandshake)

			stopA := playTone(t, ctx, a)
			stopB := playTone(t, ctx, b)
			require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 25), 25, "a to b through DTLS-SRTP")
			require.GreaterOrEqual(t, heardTone(t, ctx, a, 150, 25), 25, "b to a through DTLS-SRTP")
			stopA()
			stopB()
			require.Positive(t, b.Stats().SRTP.RTP.Unprotected)
			require.Zero(t, b.Stats().SRTP.RTP.AuthFailed)
			for _, p := range wire.snapshot() {
				if p.Sent && !p.RTCP {
					require.Contains(t, []int{10, 16}, len(p.Data)-12-160, "every RTP packet sent carries an SRTP tag")
				}
			}
		})
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

// DTLS records are never taken for RTP or RTCP: on the RTCP socket, or
// with no handshake under way, they are dropped and counted as DTLS.
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
