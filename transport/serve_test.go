package transport

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeBindsOnce: the handler is bound once, before anything can be
// read; every misuse is refused with its own error and changes nothing.
func TestServeBindsOnce(t *testing.T) {
	t.Run("twice", func(t *testing.T) {
		l, _ := newTestLayer(t, Config{})
		require.ErrorIs(t, l.Serve(newRecorder()), ErrAlreadyServing)
	})
	t.Run("nil", func(t *testing.T) {
		l, err := New(Config{})
		require.NoError(t, err)
		defer l.Close()
		require.ErrorIs(t, l.Serve(nil), ErrNilHandler)
	})
	t.Run("after listen", func(t *testing.T) {
		l, err := New(Config{})
		require.NoError(t, err)
		defer l.Close()
		_, err = l.Listen(t.Context(), UDP, "127.0.0.1:0")
		require.NoError(t, err)
		require.ErrorIs(t, l.Serve(newRecorder()), ErrServeTooLate)
	})
	t.Run("closed", func(t *testing.T) {
		l, err := New(Config{})
		require.NoError(t, err)
		require.NoError(t, l.Close())
		require.ErrorIs(t, l.Serve(newRecorder()), ErrClosed)
	})
}

// TestServeDelivers: the bound handler gets what the listener reads.
func TestServeDelivers(t *testing.T) {
	l, rec := newTestLayer(t, Config{})
	addr := listen(t, l, UDP, "127.0.0.1:0")
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(options(t, c.LocalAddr().String(), 0).AppendTo(nil))
	require.NoError(t, err)
	require.Equal(t, addr, rec.next(t).Flow.Local, "the bound handler got it")
}
