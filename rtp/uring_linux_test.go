//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/internal/uring"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// needURing returns a ring of size entries, or skips the test (fails it
// under CI=true) where the kernel offers no io_uring.
func needURing(t *testing.T, size uint32) *uring.Ring {
	t.Helper()
	r, err := uring.New(size)
	testenv.Need(t, "io_uring (Linux 5.6 or later, not blocked by seccomp)", err)
	return r
}

// TestEngineNoRing: with EngineConfig.NoRing the workers send one packet
// per system call, and calls carry audio the same.
func TestEngineNoRing(t *testing.T) {
	for _, noRing := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoRing=%v", noRing), func(t *testing.T) {
			e, err := NewEngine(EngineConfig{NoRing: noRing})
			require.NoError(t, err)
			lo := testenv.FreeUDPPorts(t, netip.MustParseAddr("127.0.0.1"), 8)
			ports, err := NewPortAllocator(PortAllocatorConfig{Min: lo, Max: lo + 7})
			require.NoError(t, err)
			ctx := t.Context()
			a, err := NewSession(ctx, SessionConfig{LocalAddr: netip.MustParseAddr("127.0.0.1"), Ports: ports, RTCPMux: true, Engine: e})
			require.NoError(t, err)
			defer a.Close()
			b, err := NewSession(ctx, SessionConfig{LocalAddr: netip.MustParseAddr("127.0.0.1"), Ports: ports, RTCPMux: true, Engine: e})
			require.NoError(t, err)
			defer b.Close()
			mp := func(to *Session) sdp.MediaParams {
				return sdp.MediaParams{RemoteRTP: to.LocalAddr(), RemoteRTCP: to.LocalAddr(), RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}
			}
			require.NoError(t, a.SetRemote(mp(b)))
			require.NoError(t, b.SetRemote(mp(a)))
			frame := make([]int16, 160)
			for i := range frame {
				frame[i] = int16(1000 * (i%8 - 4))
			}
			for range 10 {
				require.NoError(t, a.WriteFrame(ctx, frame))
			}
			require.Eventually(t, func() bool { return b.Stats().PacketsReceived >= 10 }, 5*time.Second, 10*time.Millisecond)
			require.Zero(t, a.Stats().SendErrors)
		})
	}
}

// A session the worker runs twice before the batch goes out (its next
// frame fell due within the same wake-up) sends each packet once: the
// second add takes only the packets queued since the first.
func TestSendBatchSessionTwice(t *testing.T) {
	needURing(t, 8).Close()
	b := newSendBatch()
	require.NotNil(t, b, "io_uring works but no send batch")
	defer b.close()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	defer peer.Close()
	s := testSession(t, peer.LocalAddr().(*net.UDPAddr).AddrPort())
	ports, err := NewPortAllocator(PortAllocatorConfig{})
	require.NoError(t, err)
	s.socks, err = openSockets(context.Background(), ports, netip.MustParseAddr("127.0.0.1"), true)
	require.NoError(t, err)
	defer s.socks.close()

	t0 := time.Unix(1000, 0)
	p := &pacer{start: t0, period: audio.FrameDuration}
	s.wake(t0, p, b)
	s.wake(t0.Add(audio.FrameDuration), p, b)
	b.flush()
	require.Equal(t, uint64(2), s.tx.packets)
	require.Empty(t, s.tx.out, "sent")

	var seqs []uint16
	buf := make([]byte, maxDatagram)
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
	for {
		n, err := peer.Read(buf)
		if err != nil {
			break // the deadline: nothing more came
		}
		require.GreaterOrEqual(t, n, 12)
		seqs = append(seqs, uint16(buf[2])<<8|uint16(buf[3]))
	}
	require.Equal(t, []uint16{seqs[0], seqs[0] + 1}, seqs, "each packet once")
}

// rtpTo sends n PCMU packets from peer to s's RTP socket.
func rtpTo(t *testing.T, peer *net.UDPConn, s *Session, n int) {
	t.Helper()
	frame := make([]int16, audio.FrameSamples)
	for i := range n {
		pkt, err := g711.AppendPacket(nil, &pionrtp.Header{
			Version: 2, PayloadType: audio.PayloadTypePCMU, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(160 * i), SSRC: 0x1234,
		}, g711.ULaw, frame)
		require.NoError(t, err)
		_, err = peer.WriteToUDPAddrPort(pkt, s.socks.LocalAddr(false))
		require.NoError(t, err)
	}
}

// TestSendBatchReceive: the worker's batch reads the sockets of the due
// sessions through its ring and hands each its packets (a job without
// sockets is passed over); once the ring is gone it says so, and the
// sessions read their own sockets in their ticks, the fallback.
func TestSendBatchReceive(t *testing.T) {
	needURing(t, 8).Close()
	require.False(t, (*sendBatch)(nil).receive(nil, &recvScratch{}, time.Now()), "no batch: the sessions read")
	b := newSendBatch()
	require.NotNil(t, b, "io_uring works but no batch")
	defer b.close()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	defer peer.Close()
	ports, err := NewPortAllocator(PortAllocatorConfig{})
	require.NoError(t, err)
	var sess []*Session
	for range 2 {
		s := testSession(t, peer.LocalAddr().(*net.UDPAddr).AddrPort())
		s.socks, err = openSockets(context.Background(), ports, netip.MustParseAddr("127.0.0.1"), true)
		require.NoError(t, err)
		defer s.socks.close()
		sess = append(sess, s)
	}
	noSockets := testSession(t, peer.LocalAddr().(*net.UDPAddr).AddrPort())
	rtpTo(t, peer, sess[0], 3)
	rtpTo(t, peer, sess[1], 1)

	var sc recvScratch
	require.True(t, b.receive([]engineJob{sess[0], noSockets, sess[1]}, &sc, time.Now()))
	require.Equal(t, uint64(3), sess[0].Stats().PacketsReceived)
	require.Equal(t, uint64(1), sess[1].Stats().PacketsReceived)
	require.Zero(t, sess[0].readErrors.Load()+sess[1].readErrors.Load())
	require.Nil(t, sc.rx.s, "the scratch keeps no session")

	b.ring.Close()
	rtpTo(t, peer, sess[1], 2)
	require.False(t, b.receive([]engineJob{sess[1]}, &sc, time.Now()), "ring gone: the sessions read")
	require.Zero(t, sess[1].readErrors.Load())
	sess[1].socks.receive(sess[1], &sc, time.Now())
	require.Equal(t, uint64(3), sess[1].Stats().PacketsReceived)
	require.False(t, b.receive([]engineJob{sess[1]}, &sc, time.Now()), "and from then on")
}

// TestEngineRingCloseUnderTraffic: sessions closed while a flood keeps
// their worker reading them through its ring leave no read of the ring
// holding their sockets: each port can be bound again at once.
func TestEngineRingCloseUnderTraffic(t *testing.T) {
	needURing(t, 8).Close()
	e, err := NewEngine(EngineConfig{Workers: 1})
	require.NoError(t, err)
	lo := netip.MustParseAddr("127.0.0.1")
	const n = 8
	base := testenv.FreeUDPPorts(t, lo, 4*n) // even ports for RTP
	ports, err := NewPortAllocator(PortAllocatorConfig{Min: base, Max: base + 4*n - 1})
	require.NoError(t, err)
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	defer peer.Close()
	ctx := t.Context()
	var sess []*Session
	for range n {
		s, err := NewSession(ctx, SessionConfig{LocalAddr: lo, Ports: ports, RTCPMux: true, Engine: e})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.SetRemote(sdp.MediaParams{RemoteRTP: peer.LocalAddr().(*net.UDPAddr).AddrPort(), RTCPMux: true, Codec: audio.PCMU(), Direction: sdp.SendRecv}))
		sess = append(sess, s)
	}
	// The flood: every session gets packets until the test ends.
	pkt, err := g711.AppendPacket(nil, &pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU, SSRC: 1}, g711.ULaw, make([]int16, audio.FrameSamples))
	require.NoError(t, err)
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			pkt[2], pkt[3] = byte(seq>>8), byte(seq)
			for _, s := range sess {
				_, _ = peer.WriteToUDPAddrPort(pkt, s.LocalAddr())
			}
		}
	}()
	defer func() {
		close(stop)
		<-flooded
	}()
	for _, s := range sess {
		require.Eventually(t, func() bool { return s.Stats().PacketsReceived > 0 }, 5*time.Second, 5*time.Millisecond)
	}
	for _, s := range sess {
		addr := s.LocalAddr()
		require.NoError(t, s.Close())
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		require.NoError(t, err, "port %d still held after Close", addr.Port())
		require.NoError(t, c.Close())
	}
}
