package sip_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

const streamOptions = "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK1\r\n" +
	"To: <sip:bob@biloxi.example.com>\r\n" +
	"From: <sip:alice@atlanta.example.com>;tag=1\r\n" +
	"Call-ID: c1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n"

func TestReaderFraming(t *testing.T) {
	stream := "\r\n" + basicInvite + streamOptions + "\r\n\r\n" + strings.Replace(basicInvite, "Content-Length: 4", "l : 4", 1) + "\r\n"
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			r := sip.NewReader(wrap(strings.NewReader(stream)), sip.Limits{})
			var got []string
			var kas []sip.Keepalive
			for {
				m, ka, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if ka != sip.KeepaliveNone {
					kas = append(kas, ka)
					continue
				}
				got = append(got, sip.Short(m)+"|"+string(m.Body()))
			}
			require.Equal(t, []string{
				"INVITE sip:bob@biloxi.example.com|v=0\n",
				"OPTIONS sip:bob@biloxi.example.com|",
				"INVITE sip:bob@biloxi.example.com|v=0\n",
			}, got)
			// The CRLFs before the first message and after the last are
			// pongs; the double CRLF between messages 2 and 3 is a ping
			// when it arrives in one read, two pongs when split.
			require.Contains(t, kas, sip.KeepalivePong)
			if name == "whole" {
				require.Equal(t, []sip.Keepalive{sip.KeepalivePong, sip.KeepalivePing, sip.KeepalivePong}, kas)
			}
		})
	}
}

func TestReaderKeepalives(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sip.Keepalive
	}{
		{"ping", "\r\n\r\n", []sip.Keepalive{sip.KeepalivePing}},
		{"pong", "\r\n", []sip.Keepalive{sip.KeepalivePong}},
		{"two pings", "\r\n\r\n\r\n\r\n", []sip.Keepalive{sip.KeepalivePing, sip.KeepalivePing}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sip.NewReader(strings.NewReader(tc.in), sip.Limits{})
			var got []sip.Keepalive
			for {
				_, ka, err := r.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				got = append(got, ka)
			}
			require.Equal(t, tc.want, got)
		})
	}
	// Two pongs arriving one after the other stay pongs (the answers to
	// two of our pings), never a ping.
	pr, pw := io.Pipe()
	r := sip.NewReader(pr, sip.Limits{})
	go func() {
		_, _ = pw.Write([]byte("\r\n"))
		_, _ = pw.Write([]byte("\r\n"))
		_ = pw.Close()
	}()
	for range 2 {
		_, ka, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, sip.KeepalivePong, ka)
	}
}

// countingReader counts what the Reader pulled from the source.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReaderLimits(t *testing.T) {
	// A 10 MB Content-Length fails at once, without reading the body.
	big := strings.Replace(streamOptions, "Content-Length: 0", "Content-Length: 10000000", 1)
	src := &countingReader{r: io.MultiReader(strings.NewReader(big), zeroes{})}
	r := sip.NewReader(src, sip.Limits{})
	_, err := r.ReadMessage()
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	require.Less(t, src.n, 64<<10)
	_, err = r.ReadMessage()
	require.ErrorIs(t, err, sip.ErrMessageTooLarge, "errors are final")

	// An endless header block stops at MaxHeadBytes.
	src = &countingReader{r: io.MultiReader(strings.NewReader("OPTIONS sip:a@b SIP/2.0\r\nX: "), zeroes{})}
	r = sip.NewReader(src, sip.Limits{MaxHeadBytes: 8 << 10})
	_, err = r.ReadMessage()
	require.ErrorIs(t, err, sip.ErrMessageTooLarge)
	require.Less(t, src.n, 64<<10)

	// Bad framing.
	for _, in := range []string{
		strings.Replace(streamOptions, "Content-Length: 0", "Content-Length: -1", 1),
		strings.Replace(streamOptions, "Content-Length: 0", "Content-Length: 1\r\nl: 2", 1),
		"\rX",
	} {
		_, err := sip.NewReader(strings.NewReader(in), sip.Limits{}).ReadMessage()
		require.ErrorIs(t, err, sip.ErrMalformed, in)
	}
	// A message cut short is an unexpected EOF.
	_, err = sip.NewReader(strings.NewReader(basicInvite[:len(basicInvite)-2]), sip.Limits{}).ReadMessage()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = sip.NewReader(strings.NewReader(streamOptions[:20]), sip.Limits{}).ReadMessage()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	// Without Content-Length a stream message has no body.
	noCL := strings.Replace(streamOptions, "Content-Length: 0\r\n", "", 1)
	m, err := sip.NewReader(strings.NewReader(noCL+"tail"), sip.Limits{}).ReadMessage()
	require.NoError(t, err)
	require.Empty(t, m.Body())
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestReaderLargeMessages(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 300<<10)
	req := parseRequest(t, streamOptions)
	req.SetBody(body, "text/plain")
	wire := req.AppendTo(nil)
	stream := bytes.Repeat(wire, 3)
	r := sip.NewReader(iotest.HalfReader(bytes.NewReader(stream)), sip.Limits{})
	for range 3 {
		m, err := r.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, body, m.Body())
	}
	_, err := r.ReadMessage()
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, r.Buffered())
}

// loopReader replays msg for ever.
type loopReader struct {
	msg []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.msg[l.off:])
		n += c
		l.off = (l.off + c) % len(l.msg)
	}
	return n, nil
}

// TestReaderAllocations: a message read from a stream costs its own bytes
// and its parse, two allocations; framing it (finding Content-Length)
// allocates nothing.
func TestReaderAllocations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(benchCorpus, "invite.sip"))
	require.NoError(t, err)
	r := sip.NewReader(&loopReader{msg: data}, sip.Limits{})
	_, err = r.ReadMessage()
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(200, func() {
		m, err := r.ReadMessage()
		if err != nil || len(m.Body()) != 254 {
			t.Fatalf("%v %d", err, len(m.Body()))
		}
	})
	require.LessOrEqual(t, allocs, 2.0)
}

// TestReaderReset: a Reset Reader frames a new stream from its start,
// whatever the last one left (a partial message, an error, a grown
// buffer), and framing the next stream allocates no buffer (the two
// allocations of TestReaderAllocations, the message's, and no more).
func TestReaderReset(t *testing.T) {
	one := []byte(streamOptions)
	tests := []struct {
		name string
		prev []byte // the stream read before Reset
	}{
		{"after EOF", one},
		{"mid message", one[:40]},
		{"after an error", []byte("\rX")},
		{"after a large message", append(append([]byte{}, one[:len(one)-len("Content-Length: 0\r\n\r\n")]...),
			append([]byte("Content-Length: 200000\r\n\r\n"), bytes.Repeat([]byte("x"), 200000)...)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sip.NewReader(bytes.NewReader(tt.prev), sip.Limits{MaxBodyBytes: 1 << 20})
			for {
				if _, err := r.ReadMessage(); err != nil {
					break
				}
			}
			r.Reset(bytes.NewReader(bytes.Repeat(one, 2)))
			for range 2 {
				m, err := r.ReadMessage()
				require.NoError(t, err)
				require.Equal(t, "c1", m.CallID())
			}
			_, err := r.ReadMessage()
			require.ErrorIs(t, err, io.EOF)
		})
	}
	data, err := os.ReadFile(filepath.Join(benchCorpus, "invite.sip"))
	require.NoError(t, err)
	r := sip.NewReader(bytes.NewReader(nil), sip.Limits{})
	src := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(data)
		r.Reset(src)
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 2.0)
}
