package testenv

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreeUDPPorts(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.1")
	for _, n := range []int{1, 2, 8, 100} {
		lo := FreeUDPPorts(t, lo4, n)
		require.Zero(t, lo%2, "first port even")
		require.GreaterOrEqual(t, int(lo), PortSearchMin)
		require.LessOrEqual(t, int(lo)+n, PortSearchMax)
		// Every port of the range can be bound now.
		for p := int(lo); p < int(lo)+n; p++ {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, uint16(p))))
			require.NoError(t, err, "port %d", p)
			require.NoError(t, c.Close())
		}
	}
	_, err := freeUDPPorts(lo4, 0)
	require.ErrorIs(t, err, ErrNoFreePorts)
}

// A range with a port held by someone else is not free.
func TestTryRangeTaken(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.1")
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, 0)))
	require.NoError(t, err)
	defer c.Close()
	held := c.LocalAddr().(*net.UDPAddr).Port
	require.False(t, tryRange(lo4, held, 1))
	if held > 1 {
		require.False(t, tryRange(lo4, held-1, 2))
	}
}

// Need passes when nothing is missing, whatever CI says.
func TestNeedNothingMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv(CIVar, ci)
			Need(t, "nothing", nil)
			require.Equal(t, ci == "true", CI())
		})
	}
}

// Need skips outside CI and fails under CI; the skip reason starts with
// SkipPrefix. Run on a recording testing.TB.
func TestNeedMissing(t *testing.T) {
	for _, tc := range []struct {
		ci             string
		skipped, fatal bool
	}{
		{"", true, false},
		{"false", true, false},
		{"true", false, true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv(CIVar, tc.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() { // Skipf and Fatalf end the goroutine that calls them
				defer close(done)
				Need(r, "a thing", ErrNotRoot)
			}()
			<-done
			require.Equal(t, tc.skipped, r.skipped)
			require.Equal(t, tc.fatal, r.fatal)
			require.Contains(t, r.msg, SkipPrefix+"a thing: "+ErrNotRoot.Error())
		})
	}
}

type recorder struct {
	testing.TB
	skipped, fatal bool
	msg            string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
