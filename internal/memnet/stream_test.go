package memnet_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

// streamPair dials a listener on n and returns both ends.
func streamPair(t *testing.T, n *memnet.Network) (client, server *memnet.Conn) {
	t.Helper()
	ctx := context.Background()
	ln, err := n.Listen(ctx, "tcp", "192.0.2.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := n.Host(netip.MustParseAddr("198.51.100.1")).DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(); s.Close() })
	require.Equal(t, c.LocalAddr().String(), s.RemoteAddr().String())
	require.Equal(t, c.RemoteAddr().String(), s.LocalAddr().String())
	return c.(*memnet.Conn), s.(*memnet.Conn)
}

func TestStreamLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lat = 40 * time.Millisecond
		// Loss and the other datagram conditions do not touch streams.
		n := memnet.New(memnet.Config{Latency: lat, Loss: 1, Duplicate: 1, Reorder: 1, Jitter: time.Second, MTU: 10})
		defer n.Close()
		c, s := streamPair(t, n)
		start := time.Now()
		msg := bytes.Repeat([]byte("INVITE sip:bob@example.com SIP/2.0\r\n"), 100)
		_, err := c.Write(msg)
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
		_, err = c.Write([]byte("tail"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())

		got := make([]byte, 0, len(msg)+4)
		buf := make([]byte, 512)
		var times []time.Duration
		for {
			nr, err := s.Read(buf)
			if err == io.EOF {
				times = append(times, time.Since(start))
				break
			}
			require.NoError(t, err)
			got = append(got, buf[:nr]...)
			times = append(times, time.Since(start))
		}
		require.Equal(t, append(msg, "tail"...), got)
		require.Equal(t, lat, times[0])
		require.Equal(t, lat+10*time.Millisecond, times[len(times)-1], "EOF follows the last bytes")

		// The other direction still works after CloseWrite.
		_, err = s.Write([]byte("200 OK"))
		require.NoError(t, err)
		nr, err := c.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "200 OK", string(buf[:nr]))
	})
}

func TestStreamWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 1000
		n := memnet.New(memnet.Config{StreamBuffer: window})
		defer n.Close()
		c, s := streamPair(t, n)
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Second)))
		start := time.Now()
		nw, err := c.Write(make([]byte, 1500))
		requireTimeout(t, err)
		require.Equal(t, window, nw, "a timed-out Write reports what it buffered")
		require.Equal(t, time.Second, time.Since(start))

		// A reader frees the window and unblocks a writer.
		require.NoError(t, c.SetWriteDeadline(time.Time{}))
		done := make(chan error)
		go func() {
			_, err := c.Write(make([]byte, 700))
			done <- err
		}()
		synctest.Wait()
		require.Empty(t, done, "the writer waits for room")
		_, err = io.ReadFull(s, make([]byte, 400))
		require.NoError(t, err)
		synctest.Wait()
		require.Empty(t, done, "400 bytes of room are not enough for 700")
		_, err = io.ReadFull(s, make([]byte, 600))
		require.NoError(t, err)
		require.NoError(t, <-done)
	})
}

func TestStreamWritesDoNotInterleave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{StreamBuffer: 100})
		defer n.Close()
		c, s := streamPair(t, n)
		const size, writes = 1000, 5
		var wg sync.WaitGroup
		for _, b := range []byte("ab") {
			wg.Go(func() {
				for range writes {
					_, err := c.Write(bytes.Repeat([]byte{b}, size))
					require.NoError(t, err)
				}
			})
		}
		go func() { wg.Wait(); c.Close() }()
		all, err := io.ReadAll(s)
		require.NoError(t, err)
		require.Len(t, all, 2*size*writes)
		for i := 0; i < len(all); i += size {
			require.Equal(t, bytes.Repeat(all[i:i+1], size), all[i:i+size], "write at %d interleaved", i)
		}
	})
}

func TestStreamClose(t *testing.T) {
	tests := []struct {
		name  string
		close func(c *memnet.Conn) error
		// what the peer sees
		peerReadsEOF, peerWriteFails bool
		// what this end sees afterwards
		localReadErr, localWriteErr error
	}{
		{"Close", (*memnet.Conn).Close, true, true, net.ErrClosed, net.ErrClosed},
		{"CloseWrite", (*memnet.Conn).CloseWrite, true, false, nil, syscall.EPIPE},
		{"CloseRead", (*memnet.Conn).CloseRead, false, true, io.EOF, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{Latency: 5 * time.Millisecond})
				defer n.Close()
				c, s := streamPair(t, n)
				_, err := c.Write([]byte("last words"))
				require.NoError(t, err)
				_, err = s.Write([]byte("unread"))
				require.NoError(t, err)
				time.Sleep(time.Second)
				require.NoError(t, tt.close(c))

				// The peer reads what was sent before the close.
				buf := make([]byte, 64)
				nr, err := s.Read(buf)
				require.NoError(t, err)
				require.Equal(t, "last words", string(buf[:nr]))
				require.NoError(t, s.SetReadDeadline(time.Now().Add(time.Second)))
				_, err = s.Read(buf)
				if tt.peerReadsEOF {
					require.ErrorIs(t, err, io.EOF)
				} else {
					requireTimeout(t, err)
				}
				_, err = s.Write([]byte("more"))
				if tt.peerWriteFails {
					require.ErrorIs(t, err, syscall.ECONNRESET)
				} else {
					require.NoError(t, err)
				}

				if tt.localReadErr != net.ErrClosed {
					require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
				}
				nr, err = c.Read(buf)
				if tt.localReadErr == nil {
					require.NoError(t, err)
					require.Equal(t, "unread", string(buf[:nr]))
				} else {
					require.ErrorIs(t, err, tt.localReadErr)
				}
				_, err = c.Write([]byte("x"))
				if tt.localWriteErr == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tt.localWriteErr)
				}
			})
		})
	}
}

func TestDialRefused(t *testing.T) {
	ctx := context.Background()
	n := memnet.New(memnet.Config{Backlog: 2})
	defer n.Close()
	_, err := n.DialContext(ctx, "tcp", "127.0.0.1:5060")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	ln, err := n.Listen(ctx, "tcp", "127.0.0.1:5060")
	require.NoError(t, err)
	var dialed []net.Conn
	for range 2 {
		c, err := n.DialContext(ctx, "tcp", "127.0.0.1:5060")
		require.NoError(t, err)
		dialed = append(dialed, c)
	}
	_, err = n.DialContext(ctx, "tcp", "127.0.0.1:5060")
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "backlog full")
	require.Equal(t, uint64(2), n.Stats().Refused)
	require.Equal(t, uint64(2), n.Stats().Dials)

	// Closing the listener closes what it had not accepted.
	require.NoError(t, ln.Close())
	for _, c := range dialed {
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
		c.Close()
	}
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = n.DialContext(ctx, "tcp", "127.0.0.1:5060")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	_, err = n.DialContext(ctx2, "tcp", "127.0.0.1:5060")
	require.ErrorIs(t, err, context.Canceled)
}

func TestListenAddresses(t *testing.T) {
	ctx := context.Background()
	n := memnet.New(memnet.Config{})
	defer n.Close()
	wild, err := n.Listen(ctx, "tcp", ":5060")
	require.NoError(t, err)
	defer wild.Close()
	_, err = n.Listen(ctx, "tcp", "127.0.0.1:5060")
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	udp, err := n.ListenPacket(ctx, "udp", "127.0.0.1:5060")
	require.NoError(t, err, "UDP and TCP ports are separate")
	udp.Close()
	_, err = n.Listen(ctx, "udp", "127.0.0.1:5061")
	require.Error(t, err)

	for _, dst := range []string{"127.0.0.1:5060", "[::1]:5060", "192.0.2.7:5060"} {
		c, err := n.DialContext(ctx, "tcp", dst)
		require.NoError(t, err, dst)
		s, err := wild.Accept()
		require.NoError(t, err)
		require.Equal(t, dst, s.LocalAddr().String(), "the accepted conn has the dialed address")
		_, ok := s.LocalAddr().(*net.TCPAddr)
		require.True(t, ok)
		c.Close()
		s.Close()
	}
}

func TestAcceptUnblockedByNetworkClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		ln, err := n.Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, reader := streamPair(t, n) // nobody writes to reader
		writer, _ := streamPair(t, n) // nobody reads what writer sends
		errs := make(chan error, 3)
		go func() { _, err := ln.Accept(); errs <- err }()
		go func() { _, err := reader.Read(make([]byte, 1)); errs <- err }()
		go func() {
			var err error
			for err == nil {
				_, err = writer.Write(make([]byte, 4096))
			}
			errs <- err
		}()
		synctest.Wait()
		require.Empty(t, errs)
		require.NoError(t, n.Close())
		for range 3 {
			require.ErrorIs(t, <-errs, net.ErrClosed)
		}
		_, err = n.DialContext(context.Background(), "tcp", ln.Addr().String())
		require.ErrorIs(t, err, net.ErrClosed)
	})
}
