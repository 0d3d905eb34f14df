package memnet_test

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
)

// endpoint returns a connection c of the given kind and a function that
// makes its peer send msg to it.
func endpoint(t *testing.T, n *memnet.Network, kind string) (c net.Conn, peerSend func(msg string)) {
	t.Helper()
	ctx := context.Background()
	switch kind {
	case "udp":
		pc := listenUDP(t, n, "192.0.2.1:5060")
		c, err := n.DialContext(ctx, "udp", "192.0.2.1:5060")
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c, func(msg string) { send(t, pc, msg, addrPort(c)) }
	case "tcp":
		ln, err := n.Listen(ctx, "tcp", "192.0.2.1:5060")
		require.NoError(t, err)
		defer ln.Close()
		c, err := n.DialContext(ctx, "tcp", "192.0.2.1:5060")
		require.NoError(t, err)
		peer, err := ln.Accept()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close(); peer.Close() })
		return c, func(msg string) {
			_, err := peer.Write([]byte(msg))
			require.NoError(t, err)
		}
	}
	t.Fatalf("unknown kind %q", kind)
	return nil, nil
}

func TestReadDeadlines(t *testing.T) {
	type result struct {
		msg string
		err error
		at  time.Duration
	}
	tests := []struct {
		name string
		// setup runs before the blocking Read; during runs in a goroutine
		// at the given offsets while it blocks.
		setup  func(c net.Conn)
		during func(c net.Conn, peerSend func(string))
		want   func(t *testing.T, r result)
	}{
		{
			name:  "future deadline times out at the deadline",
			setup: func(c net.Conn) { c.SetReadDeadline(time.Now().Add(2 * time.Second)) },
			want: func(t *testing.T, r result) {
				requireTimeout(t, r.err)
				require.Equal(t, 2*time.Second, r.at)
			},
		},
		{
			name:  "past deadline times out at once",
			setup: func(c net.Conn) { c.SetDeadline(time.Now().Add(-time.Second)) },
			want: func(t *testing.T, r result) {
				requireTimeout(t, r.err)
				require.Zero(t, r.at)
			},
		},
		{
			name:  "data before the deadline",
			setup: func(c net.Conn) { c.SetReadDeadline(time.Now().Add(2 * time.Second)) },
			during: func(_ net.Conn, peerSend func(string)) {
				time.Sleep(time.Second)
				peerSend("BYE")
			},
			want: func(t *testing.T, r result) {
				require.NoError(t, r.err)
				require.Equal(t, "BYE", r.msg)
				require.Equal(t, time.Second, r.at)
			},
		},
		{
			name:  "deadline extended while blocked",
			setup: func(c net.Conn) { c.SetReadDeadline(time.Now().Add(time.Second)) },
			during: func(c net.Conn, _ func(string)) {
				time.Sleep(500 * time.Millisecond)
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
			},
			want: func(t *testing.T, r result) {
				requireTimeout(t, r.err)
				require.Equal(t, 3500*time.Millisecond, r.at)
			},
		},
		{
			name:  "deadline moved into the past while blocked",
			setup: func(c net.Conn) { c.SetReadDeadline(time.Now().Add(time.Hour)) },
			during: func(c net.Conn, _ func(string)) {
				time.Sleep(time.Second)
				c.SetReadDeadline(time.Now().Add(-time.Second))
			},
			want: func(t *testing.T, r result) {
				requireTimeout(t, r.err)
				require.Equal(t, time.Second, r.at)
			},
		},
		{
			name:  "deadline cleared while blocked",
			setup: func(c net.Conn) { c.SetReadDeadline(time.Now().Add(time.Second)) },
			during: func(c net.Conn, peerSend func(string)) {
				time.Sleep(500 * time.Millisecond)
				c.SetReadDeadline(time.Time{})
				time.Sleep(time.Minute)
				peerSend("ACK")
			},
			want: func(t *testing.T, r result) {
				require.NoError(t, r.err)
				require.Equal(t, "ACK", r.msg)
				require.Equal(t, time.Minute+500*time.Millisecond, r.at)
			},
		},
		{
			name:  "close unblocks",
			setup: func(net.Conn) {},
			during: func(c net.Conn, _ func(string)) {
				time.Sleep(time.Second)
				c.Close()
			},
			want: func(t *testing.T, r result) {
				require.ErrorIs(t, r.err, net.ErrClosed)
				require.Equal(t, time.Second, r.at)
			},
		},
	}
	for _, kind := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					n := memnet.New(memnet.Config{})
					defer n.Close()
					c, peerSend := endpoint(t, n, kind)
					tt.setup(c)
					if tt.during != nil {
						go tt.during(c, peerSend)
					}
					start := time.Now()
					buf := make([]byte, 64)
					nr, err := c.Read(buf)
					tt.want(t, result{msg: string(buf[:nr]), err: err, at: time.Since(start)})
					synctest.Wait()
				})
			})
		}
	}
}

func TestPastDeadlineThenRecover(t *testing.T) {
	for _, kind := range []string{"udp", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				c, peerSend := endpoint(t, n, kind)
				require.NoError(t, c.SetDeadline(time.Now().Add(-time.Millisecond)))
				_, err := c.Write([]byte("x"))
				requireTimeout(t, err)
				peerSend("queued")
				_, err = c.Read(make([]byte, 10))
				requireTimeout(t, err, "a passed deadline wins over queued data")

				require.NoError(t, c.SetDeadline(time.Time{}))
				buf := make([]byte, 10)
				nr, err := c.Read(buf)
				require.NoError(t, err)
				require.Equal(t, "queued", string(buf[:nr]))
				_, err = c.Write([]byte("x"))
				require.NoError(t, err)
			})
		})
	}
}
