package rtpsock_test

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/rtpsock"
	"github.com/dialtone/dialtone/internal/testenv"
)

type datagram struct {
	data     string
	from     netip.AddrPort
	rtcpOnly bool
}

// recorder is a Receiver that keeps what it is handed.
type recorder struct {
	mu   sync.Mutex
	got  []datagram
	errs int
}

func (r *recorder) Datagram(pkt []byte, from netip.AddrPort, _ time.Time, rtcpOnly bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, datagram{string(pkt), from, rtcpOnly})
}

func (r *recorder) ReadError() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs++
}

func (r *recorder) snapshot() []datagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]datagram(nil), r.got...)
}

// TestPairSendReceive: datagrams sent to a pair's RTP and RTCP sockets
// reach its Receiver with their source and the socket they came on,
// whichever way the platform reads them (Receive or the readers Start
// launches); after Close, sending fails with net.ErrClosed and Close again
// is harmless.
func TestPairSendReceive(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	port := int(testenv.FreeUDPPorts(t, lo, 3))
	a, err := rtpsock.Bind(lo, port, false)
	require.NoError(t, err)
	defer a.Close()
	b, err := rtpsock.Bind(lo, port+2, true)
	require.NoError(t, err)
	defer b.Close()
	require.True(t, a.HasRTCP())
	require.False(t, b.HasRTCP())
	require.Equal(t, netip.AddrPortFrom(lo, uint16(port)), a.LocalAddr(false))
	require.Equal(t, netip.AddrPortFrom(lo, uint16(port+1)), a.LocalAddr(true))
	require.Equal(t, b.LocalAddr(false), b.LocalAddr(true), "muxed: RTCP on the RTP socket")

	rx := &recorder{}
	a.Start(func() rtpsock.Receiver { return rx })
	require.NoError(t, b.Send([]byte("rtp"), a.LocalAddr(false), false))
	require.NoError(t, b.Send([]byte("rtcp"), a.LocalAddr(true), true))

	var sc rtpsock.Scratch
	var mu sync.Mutex // Receive is called from Eventually's goroutines, one at a time
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		a.Receive(rx, &sc, time.Now())
		return len(rx.snapshot()) == 2
	}, 5*time.Second, 10*time.Millisecond)
	got := rx.snapshot()
	require.ElementsMatch(t, []datagram{
		{"rtp", b.LocalAddr(false), false},
		{"rtcp", b.LocalAddr(false), true},
	}, got)

	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Send([]byte("late"), a.LocalAddr(false), false), net.ErrClosed)
	require.NoError(t, b.Close(), "Close is idempotent")
}

// TestBindPortTaken: a port another socket holds is refused.
func TestBindPortTaken(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	port := int(testenv.FreeUDPPorts(t, lo, 2))
	a, err := rtpsock.Bind(lo, port, false)
	require.NoError(t, err)
	defer a.Close()
	_, err = rtpsock.Bind(lo, port+1, true)
	require.ErrorIs(t, err, syscall.EADDRINUSE, "RTCP port of a taken")
}
