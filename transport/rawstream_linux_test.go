//go:build linux

package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a real loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-acc
	require.NotNil(t, server)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

func TestRawStreamOnlyForTCPSockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.Nil(t, newRawStream(a), "net.Pipe has no descriptor")
	c, _ := tcpPair(t)
	require.NotNil(t, newRawStream(c))
}

// The raw path must behave as net.Conn does where the connection code
// relies on it: all of a large write arrives (the socket fills and the
// poller waits), the read deadline is os.ErrDeadlineExceeded, the peer's
// close is io.EOF, and a write to a reset peer is an error, not a signal.
func TestRawStreamBehavesAsConn(t *testing.T) {
	c, s := tcpPair(t)
	rc, rs := newRawStream(c), newRawStream(s)
	require.NotNil(t, rc)
	require.NotNil(t, rs)

	// 8 MiB is far more than the loopback socket buffers: Write must wait
	// for the reader (EAGAIN, then the poller) and still send every byte.
	want := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	werr := make(chan error, 1)
	go func() {
		n, err := rc.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		werr <- err
	}()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	for len(got) < len(want) {
		n, err := rs.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
	require.NoError(t, <-werr)
	require.True(t, bytes.Equal(want, got), "the bytes read differ from those written")

	n, err := rs.Read(nil)
	require.NoError(t, err)
	require.Zero(t, n)

	require.NoError(t, s.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = rs.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, s.SetReadDeadline(time.Time{}))

	require.NoError(t, c.Close())
	_, err = rs.Read(buf)
	require.ErrorIs(t, err, io.EOF)

	// The client is gone: the first write may still be taken by the
	// kernel (and answered with RST); the next ones must fail.
	var werr2 error
	require.Eventually(t, func() bool {
		_, werr2 = rs.Write([]byte("x"))
		return werr2 != nil
	}, 5*time.Second, 5*time.Millisecond)
	require.Error(t, werr2)
	require.False(t, errors.Is(werr2, os.ErrDeadlineExceeded))
}
