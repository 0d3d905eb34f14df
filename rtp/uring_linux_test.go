//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// needURing returns a ring of size entries, or skips the test (fails it
// under CI=true) where the kernel offers no io_uring.
func needURing(t *testing.T, size uint32) *uring {
	t.Helper()
	r, err := newURing(size)
	testenv.Need(t, "io_uring (Linux 5.6 or later, not blocked by seccomp)", err)
	return r
}

// TestURingSendAll: one batch sends datagrams from several sockets, IPv4,
// IPv6 and both mixed, and more of them than the ring holds; each arrives
// intact from its own socket, and a send on a closed descriptor fails
// alone. The IPv4 case runs whether or not the machine has ::1.
func TestURingSendAll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
	}{
		{"IPv4", []string{"127.0.0.1"}},
		{"IPv6", []string{"[::1]"}},
		{"mixed", []string{"127.0.0.1", "[::1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(tc.hosts, "[::1]") {
				testenv.NeedIPv6Loopback(t)
			}
			uringSendAll(t, tc.hosts)
		})
	}
}

func uringSendAll(t *testing.T, hosts []string) {
	r := needURing(t, 8)
	defer r.close()

	type peer struct {
		from *net.UDPConn // the sending socket, whose fd goes in the ring
		to   *net.UDPConn
	}
	var peers []peer
	for _, host := range hosts {
		for range 3 {
			to, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
			require.NoError(t, err)
			defer to.Close()
			from, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(host+":0")))
			require.NoError(t, err)
			defer from.Close()
			peers = append(peers, peer{from, to})
		}
	}
	fdOf := func(c *net.UDPConn) int {
		raw, err := c.SyscallConn()
		require.NoError(t, err)
		var fd int
		require.NoError(t, raw.Control(func(f uintptr) { fd = int(f) }))
		return fd
	}

	const rounds = 4 // 3 or 6 sockets × 4 = 12 or 24 datagrams through a ring of 8
	var items []uringSend
	for round := range rounds {
		for i, p := range peers {
			k := &sockets{rtp: &rawSocket{fd: fdOf(p.from), local: p.from.LocalAddr().(*net.UDPAddr).AddrPort()}}
			it := uringSend{b: fmt.Appendf(nil, "round %d peer %d", round, i)}
			var err error
			it.fd, it.sal, err = k.dest(p.to.LocalAddr().(*net.UDPAddr).AddrPort(), false, &it.sa)
			require.NoError(t, err)
			items = append(items, it)
		}
	}
	closed := len(items)
	items = append(items, uringSend{fd: 1 << 20, b: []byte("nowhere"), sa: items[0].sa, sal: items[0].sal})

	require.NoError(t, r.sendAll(items))
	for i, it := range items[:closed] {
		require.Equal(t, int32(len(it.b)), it.res, "item %d", i)
	}
	require.Equal(t, -int32(syscall.EBADF), items[closed].res)

	buf := make([]byte, 100)
	for round := range rounds {
		for i, p := range peers {
			require.NoError(t, p.to.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, from, err := p.to.ReadFromUDPAddrPort(buf)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("round %d peer %d", round, i), string(buf[:n]))
			require.Equal(t, p.from.LocalAddr().(*net.UDPAddr).AddrPort().Port(), from.Port())
		}
	}
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

// TestURingBroken: when the ring itself fails, sendAll says so and every
// datagram it did not send, in the failed batch or after it, carries an
// error, so that none is counted as sent.
func TestURingBroken(t *testing.T) {
	r := needURing(t, 8)
	defer r.close()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	defer conn.Close()
	items := make([]uringSend, 20) // three batches of a ring of 8
	for i := range items {
		items[i] = uringSend{fd: 0, b: []byte("x"), sal: syscall.SizeofSockaddrInet4}
	}
	// The mappings stay; only the descriptor io_uring_enter needs goes.
	require.NoError(t, syscall.Close(r.fd))
	r.fd = -1

	require.ErrorIs(t, r.sendAll(items), syscall.EBADF)
	for i, it := range items {
		require.Equal(t, -int32(syscall.EIO), it.res, "item %d", i)
	}
}

// A session the worker runs twice before the batch goes out (its next
// frame fell due within the same wake-up) sends each packet once: the
// second add takes only the packets queued since the first.
func TestSendBatchSessionTwice(t *testing.T) {
	needURing(t, 8).close()
	b := newSendBatch()
	require.NotNil(t, b, "io_uring works but no send batch")
	defer b.close()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	defer peer.Close()
	s := testSession(t, peer.LocalAddr().(*net.UDPAddr).AddrPort())
	s.cfg.FillSilence = true
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
