package transport

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnreachableErrorText: each error names the destination and the
// transport, matches ErrUnreachable and unwraps to its cause.
func TestUnreachableErrorText(t *testing.T) {
	dst := netip.MustParseAddrPort("127.0.0.1:5099")
	for _, tc := range []struct {
		name  string
		err   error
		text  string
		cause error
	}{
		{"port unreachable", &UnreachableError{Network: UDP, Addr: dst, Err: ErrPortUnreachable},
			"nothing listens on 127.0.0.1:5099 over UDP (ICMP port unreachable)", ErrPortUnreachable},
		{"system error", &UnreachableError{Network: TCP, Addr: dst, Err: syscall.ECONNREFUSED},
			"cannot reach 127.0.0.1:5099 over TCP: " + syscall.ECONNREFUSED.Error(), syscall.ECONNREFUSED},
		{"no cause", &UnreachableError{Network: UDP, Addr: dst}, "cannot reach 127.0.0.1:5099 over UDP", nil},
		{"loopback source", &SourceError{Network: UDP, Local: netip.MustParseAddrPort("127.0.0.1:5060"),
			Addr: netip.MustParseAddrPort("192.0.2.1:5060"), Err: syscall.EINVAL},
			"cannot reach 192.0.2.1:5060 from a socket bound to 127.0.0.1", ErrLoopbackSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.EqualError(t, tc.err, tc.text)
			require.ErrorIs(t, tc.err, ErrUnreachable)
			if tc.cause != nil {
				require.ErrorIs(t, tc.err, tc.cause)
			}
			require.NotErrorIs(t, tc.err, ErrClosed)
		})
	}
}

// TestSendError: a failed send from a loopback socket to an address
// outside the host is a *SourceError; other failures name the target.
func TestSendError(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:5060")
	wild := netip.MustParseAddrPort("[::]:5060")
	out := netip.MustParseAddrPort("192.0.2.1:5060")
	var se *SourceError
	require.ErrorAs(t, sendError(UDP, lo, out, syscall.EINVAL), &se)
	require.Equal(t, out, se.Addr)
	require.ErrorIs(t, sendError(UDP, lo, out, syscall.EINVAL), syscall.EINVAL)
	require.ErrorIs(t, sendError(UDP, lo, netip.MustParseAddrPort("[::ffff:127.0.0.2]:5060"), syscall.EINVAL), ErrUnreachable)
	require.NotErrorIs(t, sendError(UDP, lo, netip.MustParseAddrPort("127.0.0.2:5060"), syscall.EINVAL), ErrLoopbackSource)
	var ue *UnreachableError
	require.ErrorAs(t, sendError(UDP, wild, out, syscall.ENETUNREACH), &ue)
	require.Equal(t, out, ue.Addr)
}

// TestLoopbackSource: an agent listening on 127.0.0.1 only, asked to send
// to an address outside the host, is told why it cannot. The kernel
// refuses the datagram, so nothing leaves the machine.
func TestLoopbackSource(t *testing.T) {
	l, _ := newTestLayer(t, Config{})
	local := listen(t, l, UDP, "127.0.0.1:0")
	dst := netip.MustParseAddrPort("192.0.2.1:5060")
	_, err := l.SendRequest(context.Background(), options(t, dst.String(), 0), Target{Network: UDP, Addr: dst})
	require.EqualError(t, err, "cannot reach 192.0.2.1:5060 from a socket bound to 127.0.0.1")
	require.ErrorIs(t, err, ErrLoopbackSource)
	require.ErrorIs(t, err, ErrUnreachable)
	var se *SourceError
	require.True(t, errors.As(err, &se))
	require.Equal(t, local, se.Local)
	require.Equal(t, dst, se.Addr)
	require.Equal(t, UDP, se.Network)
}
