package rtp_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp"
)

func TestPortAllocatorConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    rtp.PortAllocatorConfig
		lo, hi uint16
		err    error
	}{
		{name: "defaults", lo: rtp.DefaultPortMin, hi: rtp.DefaultPortMax - 2},
		{name: "odd bounds", cfg: rtp.PortAllocatorConfig{Min: 20001, Max: 20010}, lo: 20002, hi: 20008},
		{name: "one pair", cfg: rtp.PortAllocatorConfig{Min: 20000, Max: 20001}, lo: 20000, hi: 20000},
		{name: "no pair", cfg: rtp.PortAllocatorConfig{Min: 20001, Max: 20002}, err: rtp.ErrPortRange},
		{name: "inverted", cfg: rtp.PortAllocatorConfig{Min: 20000, Max: 10000}, err: rtp.ErrPortRange},
		{name: "zero min", cfg: rtp.PortAllocatorConfig{Max: 10000}, err: rtp.ErrPortRange},
		{name: "attempts", cfg: rtp.PortAllocatorConfig{MaxAttempts: -1}, err: rtp.ErrPortRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := rtp.NewPortAllocator(tt.cfg)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			lo, hi := a.Range()
			require.Equal(t, tt.lo, lo)
			require.Equal(t, tt.hi, hi)
		})
	}
}

// A small range: every pair is handed out once, even RTP ports with RTCP
// above, then ErrNoPorts; a closed pair is handed out again.
func TestPortAllocatorExhaustion(t *testing.T) {
	ctx := context.Background()
	for _, mux := range []bool{false, true} {
		lo := testenv.FreeUDPPorts(t, loopback, 8)
		a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 7})
		require.NoError(t, err)
		seen := map[uint16]bool{}
		var all []*rtp.UDPPorts
		for range 4 {
			p, err := a.Allocate(ctx, loopback, mux)
			require.NoError(t, err)
			all = append(all, p)
			port := p.Port()
			require.Zero(t, port%2)
			require.False(t, seen[port])
			seen[port] = true
			require.Equal(t, port, p.RTP.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			if mux {
				require.Nil(t, p.RTCP)
			} else {
				require.Equal(t, port+1, p.RTCP.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			}
		}
		require.Equal(t, 4, a.InUse())
		_, err = a.Allocate(ctx, loopback, mux)
		require.ErrorIs(t, err, rtp.ErrNoPorts)

		require.NoError(t, all[1].Close())
		require.NoError(t, all[1].Close(), "idempotent")
		require.Equal(t, 3, a.InUse())
		p, err := a.Allocate(ctx, loopback, mux)
		require.NoError(t, err)
		require.Equal(t, all[1].Port(), p.Port())
		all[1] = p
		for _, p := range all {
			require.NoError(t, p.Close())
		}
		require.Zero(t, a.InUse())
	}
}

// Ports another program holds (RTP or RTCP) are skipped.
func TestPortAllocatorTakenElsewhere(t *testing.T) {
	lo := testenv.FreeUDPPorts(t, loopback, 6)
	var held []*net.UDPConn
	for _, port := range []uint16{lo, lo + 3} { // the RTP port of pair 0, the RTCP port of pair 1
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
		require.NoError(t, err)
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 5})
	require.NoError(t, err)
	p, err := a.Allocate(context.Background(), loopback, false)
	require.NoError(t, err)
	require.Equal(t, uint16(lo+4), p.Port())
	require.NoError(t, p.Close())

	// With fewer attempts than taken pairs the search gives up.
	a, err = rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 3, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = a.Allocate(context.Background(), loopback, false)
	require.ErrorIs(t, err, rtp.ErrNoPorts)
}

// A block of ports another program holds (its own allocator's run) is
// left at once: after a taken pair the search goes on from a random pair,
// so a few attempts find a free one even when most of the range is one
// taken block.
func TestPortAllocatorTakenBlock(t *testing.T) {
	const pairs, taken, attempts = 250, 150, 40
	lo := testenv.FreeUDPPorts(t, loopback, 2*pairs)
	for i := range taken {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, lo+uint16(2*i))))
		require.NoError(t, err)
		defer c.Close()
	}
	for range 20 {
		// A new allocator each time: a new random start, in the block
		// more often than not.
		a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 2*pairs - 1, MaxAttempts: attempts})
		require.NoError(t, err)
		p, err := a.Allocate(context.Background(), loopback, false)
		require.NoError(t, err, "a free pair within %d attempts", attempts)
		require.GreaterOrEqual(t, p.Port(), lo+2*taken)
		require.NoError(t, p.Close())
	}
}

func TestPortAllocatorContext(t *testing.T) {
	lo := testenv.FreeUDPPorts(t, loopback, 10)
	a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 9})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.Allocate(ctx, loopback, false)
	require.ErrorIs(t, err, context.Canceled)
}

// Many goroutines allocating and releasing from one small range never get
// the same port at once.
func TestPortAllocatorConcurrent(t *testing.T) {
	lo := testenv.FreeUDPPorts(t, loopback, 40)
	a, err := rtp.NewPortAllocator(rtp.PortAllocatorConfig{Min: lo, Max: lo + 39})
	require.NoError(t, err)
	var mu sync.Mutex
	held := map[uint16]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				p, err := a.Allocate(context.Background(), loopback, false)
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				dup := held[p.Port()]
				held[p.Port()] = true
				mu.Unlock()
				if dup {
					t.Errorf("port %d handed out twice", p.Port())
				}
				mu.Lock()
				delete(held, p.Port())
				mu.Unlock()
				_ = p.Close()
			}
		})
	}
	wg.Wait()
	require.Zero(t, a.InUse())
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}
