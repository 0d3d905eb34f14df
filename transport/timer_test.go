package transport

import (
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
)

// timedSetup starts a server layer on memnet inside a bubble.
func timedSetup(t *testing.T, cfg Config) (*memnet.Network, *Layer, *recorder, string) {
	mn := memnet.New(memnet.Config{})
	t.Cleanup(func() { _ = mn.Close() })
	rec := newRecorder()
	cfg.Net = mn
	l := newServedLayer(t, cfg, rec)
	a, err := l.Listen(t.Context(), TCP, "10.0.0.1:5060")
	require.NoError(t, err)
	return mn, l, rec, a.String()
}

// readClosed reports whether the peer side sees the connection closed now.
func readClosed(t *testing.T, c net.Conn) bool {
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	_, err := c.Read(make([]byte, 16))
	return errors.Is(err, io.EOF)
}

func TestSlowlorisCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ht = 5 * time.Second
		mn, l, rec, addr := timedSetup(t, Config{HeaderTimeout: ht})
		c, err := mn.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		// One byte a second, forever.
		msg := "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.9;branch=z9hG4bK1\r\n"
		for i := 0; i < len(msg); i++ {
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				break
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if i < int(ht/time.Second)-1 {
				require.Zero(t, l.Stats().MessageTimeouts, "cut off too early at %d s", i+1)
			}
		}
		require.EqualValues(t, 1, l.Stats().MessageTimeouts)
		fe := <-rec.flows
		require.ErrorIs(t, fe.err, ErrMessageTimeout)
		require.True(t, readClosed(t, c))
	})
}

func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		mn, l, rec, addr := timedSetup(t, Config{IdleTimeout: idle})
		c, err := mn.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		// Traffic (a ping) keeps it open.
		time.Sleep(idle - time.Second)
		_, err = c.Write([]byte("\r\n\r\n"))
		require.NoError(t, err)
		synctest.Wait()
		time.Sleep(idle - time.Second)
		synctest.Wait()
		require.Zero(t, l.Stats().IdleCloses)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.EqualValues(t, 1, l.Stats().IdleCloses)
		fe := <-rec.flows
		require.ErrorIs(t, fe.err, ErrIdle)
	})
}

func TestPingPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn, l, _, addr := timedSetup(t, Config{})
		c, err := mn.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("\r\n\r\n"))
		require.NoError(t, err)
		synctest.Wait()
		buf := make([]byte, 8)
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "\r\n", string(buf[:n]), "RFC 5626 §4.4.1: one CRLF answers a double CRLF")
		require.EqualValues(t, 1, l.Stats().PingsAnswered)
	})
}

func TestKeepaliveAndDeadFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every, dead = 30 * time.Second, 10 * time.Second
		mn, l, rec, addr := timedSetup(t, Config{KeepaliveInterval: every, DeadFlowTimeout: dead, IdleTimeout: time.Hour})
		c, err := mn.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte(options(t, addr, 0).String()))
		require.NoError(t, err)
		synctest.Wait()
		in, ok := rec.tryNext()
		require.True(t, ok)
		require.NoError(t, l.KeepAlive(in.Flow, true))
		buf := make([]byte, 16)
		for round := range 3 {
			time.Sleep(every - time.Millisecond)
			synctest.Wait()
			require.EqualValues(t, round, l.Stats().PingsSent, "no ping before the interval")
			time.Sleep(time.Millisecond)
			synctest.Wait()
			n, err := io.ReadFull(c, buf[:4])
			require.NoError(t, err)
			require.Equal(t, "\r\n\r\n", string(buf[:n]))
			_, err = c.Write([]byte("\r\n")) // pong
			require.NoError(t, err)
		}
		// Now stop answering: the flow dies DeadFlowTimeout after the ping.
		time.Sleep(every)
		synctest.Wait()
		_, err = io.ReadFull(c, buf[:4])
		require.NoError(t, err)
		time.Sleep(dead - time.Millisecond)
		synctest.Wait()
		require.Zero(t, l.Stats().DeadFlows)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		require.EqualValues(t, 1, l.Stats().DeadFlows)
		fe := <-rec.flows
		require.ErrorIs(t, fe.err, ErrDeadFlow)
		require.Equal(t, in.Flow.Conn, fe.f.Conn)
	})
}

// TestOutgoingIdlePool: a dialed connection is pooled, reused, and closed
// after IdleTimeout.
func TestOutgoingIdlePool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 2 * time.Minute
		mn, _, srvRec, addr := timedSetup(t, Config{IdleTimeout: time.Hour})
		cli, err := New(Config{Net: mn, IdleTimeout: idle})
		require.NoError(t, err)
		defer cli.Close()
		tgt := Target{Network: TCP, Addr: addrPortOf(&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5060})}
		f1, err := cli.SendRequest(t.Context(), options(t, addr, 0), tgt)
		require.NoError(t, err)
		time.Sleep(idle / 2)
		f2, err := cli.SendRequest(t.Context(), options(t, addr, 0), tgt)
		require.NoError(t, err)
		require.Equal(t, f1.Conn, f2.Conn)
		time.Sleep(idle + time.Second)
		synctest.Wait()
		require.EqualValues(t, 1, cli.Stats().IdleCloses)
		f3, err := cli.SendRequest(t.Context(), options(t, addr, 0), tgt)
		require.NoError(t, err)
		require.NotEqual(t, f1.Conn, f3.Conn)
		synctest.Wait()
		for range 3 {
			_, ok := srvRec.tryNext()
			require.True(t, ok)
		}
		_ = sip.OPTIONS
	})
}
