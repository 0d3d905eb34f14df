package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// wsHandshake is a valid RFC 7118 upgrade request.
const wsHandshake = "GET / HTTP/1.1\r\n" +
	"Host: 127.0.0.1\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: sip\r\n\r\n"

// wsFrame builds one client frame (masked when mask is non-zero).
func wsFrame(fin bool, opcode byte, payload []byte, mask uint32) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	m := byte(0)
	if mask != 0 {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if mask != 0 {
		var k [4]byte
		binary.BigEndian.PutUint32(k[:], mask)
		out = append(out, k[:]...)
		for i := range p {
			p[i] ^= k[i%4]
		}
	}
	return append(out, p...)
}

// wsFuzzWait bounds how long the layer may take to close a connection
// after the peer's end of input.
const wsFuzzWait = 10 * time.Second

// FuzzWebSocket writes arbitrary bytes to a SIP-over-WebSocket listener
// (issue 21 §3): after a valid upgrade request (frames), or as the upgrade
// request itself (handshake). The layer never panics, and once the peer
// has finished writing it closes the connection: nothing is left waiting
// on bytes that will not come.
func FuzzWebSocket(f *testing.F) {
	opts := "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n" +
		"Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:a@x.invalid>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	seeds := [][]byte{
		wsFrame(true, 1, []byte(opts), 0x01020304),
		wsFrame(true, 1, []byte(opts), 0),                // unmasked: a protocol error
		wsFrame(false, 1, []byte(opts[:20]), 0x0a0b0c0d), // a fragment, never finished
		wsFrame(true, 9, []byte("ping"), 0x11111111),     // ping
		wsFrame(true, 8, []byte{3, 232}, 0x22222222),     // close 1000
		wsFrame(true, 2, []byte("\r\n\r\n"), 0x33333333), // keepalive
		wsFrame(true, 1, []byte("garbage\r\n\r\n"), 0x44444444),
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // 2^63 length
	}
	for _, s := range seeds {
		f.Add(s, false)
	}
	f.Add([]byte(wsHandshake), true)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true)
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"), true)

	l, err := New(Config{})
	require.NoError(f, err)
	require.NoError(f, l.Serve(newRecorder()))
	defer l.Close()
	a, err := l.Listen(f.Context(), WS, "127.0.0.1:0")
	require.NoError(f, err)
	addr := a.String()

	f.Fuzz(func(t *testing.T, data []byte, handshake bool) {
		c, err := net.DialTimeout("tcp", addr, wsFuzzWait)
		require.NoError(t, err)
		defer c.Close()
		in := data
		if !handshake {
			in = append([]byte(wsHandshake), data...)
		}
		require.NoError(t, c.SetDeadline(time.Now().Add(wsFuzzWait)))
		// The layer may close before reading everything: a write error
		// then is its answer, not a failure.
		_, _ = c.Write(in)
		_ = c.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the layer kept the connection open %s after the peer's last byte", wsFuzzWait)
		}
	})
}
