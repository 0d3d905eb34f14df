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
