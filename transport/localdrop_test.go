package transport

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

// TestDatagramRefusedByThisHost: a UDP send that this host refuses (EPERM
// from a firewall rule in OUTPUT, ENOBUFS) is ErrDatagramDropped, loss to
// the layers above, counted, and not an unreachable peer.
func TestDatagramRefusedByThisHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := memnet.New(memnet.Config{Refuse: 1})
		defer mn.Close()
		l := newServedLayer(t, Config{Net: mn}, newRecorder())
		_, err := l.Listen(context.Background(), UDP, "192.0.2.1:5060")
		require.NoError(t, err)
		dst := netip.MustParseAddrPort("192.0.2.2:5060")
		f, err := l.SendRequest(context.Background(), options(t, dst.String(), 0), Target{Network: UDP, Addr: dst})
		require.ErrorIs(t, err, ErrDatagramDropped)
		require.ErrorIs(t, err, syscall.EPERM, "the system's reason is kept")
		require.False(t, errors.Is(err, ErrUnreachable), "not the peer's fault")
		require.Equal(t, Flow{Network: UDP, Local: netip.MustParseAddrPort("192.0.2.1:5060"), Remote: dst}, f, "the flow is known for the retransmissions")
		st := l.Stats()
		require.Equal(t, uint64(1), st.DatagramsDropped)
		require.Equal(t, uint64(1), st.WriteErrors)
		require.Zero(t, st.MessagesOut)
	})
}

func TestLocalDrop(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{syscall.EPERM, true},
		{syscall.ENOBUFS, true},
		{&wrapErr{syscall.EPERM}, true},
		{syscall.ECONNREFUSED, false},
		{syscall.EHOSTUNREACH, false},
		{errors.New("other"), false},
	} {
		require.Equal(t, tc.want, localDrop(tc.err), "%v", tc.err)
	}
}

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "sendto: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }
