package transport

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// A connection accepted after another ended is read by the goroutine that
// read the first (Layer.reader): one reader for 20 connections in turn,
// each request delivered, and Close ends the idle reader (goleak).
func TestReaderGoroutineReused(t *testing.T) {
	l, rec := newTestLayer(t, Config{})
	ap := listen(t, l, TCP, "127.0.0.1:0")
	for i := range 20 {
		c, _ := rawDial(t, TCP, ap, nil)
		req := options(t, "sip:x@"+ap.String(), 0)
		stampVia(req, TCP, c.LocalAddr().(*net.TCPAddr).AddrPort())
		_, err := c.Write(req.AppendTo(nil))
		require.NoError(t, err)
		in := rec.next(t)
		require.Equal(t, sip.OPTIONS, in.Msg.(*sip.Request).Method)
		require.NoError(t, c.Close())
		rec.nextFlow(t)
		require.Eventually(t, func() bool { return l.readersIdle.Load() == 1 }, recvWait, time.Millisecond,
			"connection %d: the reader did not go idle", i)
	}
	require.EqualValues(t, 1, l.readersStarted.Load())
	require.NoError(t, l.Close())
	require.Zero(t, l.readersIdle.Load())
}

// A reader goroutine frames every stream connection it reads with one
// sip.Reader, reset for each (no new Reader and buffer per connection),
// which holds no reference to a connection once it is done.
func TestReaderStateFramerReused(t *testing.T) {
	l, _ := newTestLayer(t, Config{})
	var rs readerState
	a, b := &conn{l: l}, &conn{l: l}
	first := rs.framer(a, sip.Limits{}, 100)
	rs.done()
	require.Nil(t, rs.cr.c)
	second := rs.framer(b, sip.Limits{}, 100)
	require.Same(t, first, second)
	require.Same(t, b, rs.cr.c)
}
