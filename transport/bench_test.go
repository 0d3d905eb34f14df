package transport

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countHandler counts messages; it keeps nothing.
type countHandler struct{ n atomic.Int64 }

func (h *countHandler) HandleMessage(Incoming)      { h.n.Add(1) }
func (h *countHandler) HandleFlowError(Flow, error) {}

// benchOptions is a 400-byte-class OPTIONS whose Via matches the sender,
// so the layer has nothing to stamp.
func benchOptions(b *testing.B, sentBy string, i int) []byte {
	if b != nil {
		b.Helper()
	}
	msg := "OPTIONS sip:bench@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + sentBy + ";branch=z9hG4bK-bench-" + strings.Repeat("x", 8) + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:bench@127.0.0.1>\r\n" +
		"From: <sip:load@127.0.0.1>;tag=a73kszlfl\r\n" +
		"Call-ID: 1j9FpLxk3uxtm8tn@127.0.0.1\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Contact: <sip:load@" + sentBy + ">\r\n" +
		"Accept: application/sdp\r\n" +
		"User-Agent: dialtone-bench\r\n" +
		"Content-Length: 0\r\n\r\n"
	_ = i
	return []byte(msg)
}

// window bounds the messages in flight so that the sender cannot overrun
// the socket buffers (no loss, so every message is counted).
const window = 512

func waitCount(b *testing.B, h *countHandler, want int64) {
	deadline := time.Now().Add(30 * time.Second)
	for h.n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", h.n.Load(), want)
		}
		runtime.Gosched()
	}
}

func BenchmarkUDPReceive(b *testing.B) {
	h := &countHandler{}
	l := newServedLayer(b, Config{}, h)
	a, err := l.Listen(b.Context(), UDP, "127.0.0.1:0")
	require.NoError(b, err)
	c, err := net.DialUDP("udp", nil, a.(*net.UDPAddr))
	require.NoError(b, err)
	defer c.Close()
	msg := benchOptions(b, c.LocalAddr().String(), 0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for int64(i)-h.n.Load() >= window {
			runtime.Gosched()
		}
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	waitCount(b, h, int64(b.N))
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

func BenchmarkTCPReceive(b *testing.B) {
	h := &countHandler{}
	l := newServedLayer(b, Config{}, h)
	a, err := l.Listen(b.Context(), TCP, "127.0.0.1:0")
	require.NoError(b, err)
	c, err := net.Dial("tcp", a.String())
	require.NoError(b, err)
	defer c.Close()
	one := bytes.ReplaceAll(benchOptions(b, c.LocalAddr().String(), 0), []byte("UDP"), []byte("TCP"))
	const per = 32 // messages per write
	chunk := bytes.Repeat(one, per)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		k := min(per, b.N-sent)
		for int64(sent)-h.n.Load() >= window {
			runtime.Gosched()
		}
		if _, err := c.Write(chunk[:k*len(one)]); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	waitCount(b, h, int64(b.N))
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

// BenchmarkTCPConnPerRequest: a connection per request, as SIPp -t tn and
// phones that connect per transaction make them: dial, one OPTIONS, its
// delivery, close. allocs/op and B/op count both ends (the client's dial
// included) and the reader goroutine's reuse (transport/readers.go).
func BenchmarkTCPConnPerRequest(b *testing.B) {
	h := &countHandler{}
	l := newServedLayer(b, Config{}, h)
	a, err := l.Listen(b.Context(), TCP, "127.0.0.1:0")
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := net.Dial("tcp", a.String())
		if err != nil {
			b.Fatal(err)
		}
		msg := bytes.ReplaceAll(benchOptions(b, c.LocalAddr().String(), 0), []byte("UDP"), []byte("TCP"))
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		waitCount(b, h, int64(i+1))
		_ = c.Close()
	}
}
