package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/internal/interop/sipflood/mutate"
	"github.com/dialtone/dialtone/sip"
)

// Summary is what sipflood prints: the counts of one run.
type Summary struct {
	// UDPSent counts datagrams sent; UDPMalformed those of them that do not
	// parse (the server must count each as malformed: dropped, answered
	// 400 when it can); UDPKeepalive those that are only CRLF (ignored);
	// UDPSendErrors failed sends; UDP400 the 400 responses received.
	UDPSent       uint64 `json:"udp_sent"`
	UDPMalformed  uint64 `json:"udp_malformed"`
	UDPKeepalive  uint64 `json:"udp_keepalive"`
	UDPSendErrors uint64 `json:"udp_send_errors"`
	UDP400        uint64 `json:"udp_400"`
	// TCPConns counts connections opened, TCPDialErrors refused ones,
	// TCPSent mutants written, TCPClosedByServer connections the server
	// closed (read EOF or reset), TCP400 the 400 responses read, TCPBehind
	// the mutants skipped because every connection was busy.
	TCPConns          uint64 `json:"tcp_conns"`
	TCPDialErrors     uint64 `json:"tcp_dial_errors"`
	TCPSent           uint64 `json:"tcp_sent"`
	TCPClosedByServer uint64 `json:"tcp_closed_by_server"`
	TCP400            uint64 `json:"tcp_400"`
	TCPBehind         uint64 `json:"tcp_behind"`
	// Slowloris counts slowloris connections, SlowlorisClosed those the
	// server cut off before the flood ended, SlowlorisBytes the bytes they
	// sent in all.
	Slowloris       uint64 `json:"slowloris"`
	SlowlorisClosed uint64 `json:"slowloris_closed"`
	SlowlorisBytes  uint64 `json:"slowloris_bytes"`
	// BigBodyBytes is how much of the announced 100 MB body was written
	// before the server closed the connection (BigBodyClosed) or the flood
	// ended; BigBody400 whether the server answered 400.
	BigBodyBytes  uint64 `json:"big_body_bytes"`
	BigBodyClosed bool   `json:"big_body_closed"`
	BigBody400    bool   `json:"big_body_400"`
	// ByKind counts the mutants sent (UDP and TCP) by mutation.
	ByKind  map[string]uint64 `json:"by_kind"`
	Elapsed string            `json:"elapsed"`

	mu sync.Mutex
}

func (s *Summary) addKinds(k map[mutate.Kind]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for kind, n := range k {
		s.ByKind[kind.String()] += n
	}
}

// pace calls f rate times a second, in bursts every millisecond, until ctx
// ends.
func pace(ctx context.Context, rate int, f func()) {
	const tick = time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	var done int64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds() * float64(rate))
			for ; done < due; done++ {
				if ctx.Err() != nil {
					return
				}
				f()
			}
		}
	}
}

// is400 counts the 400 responses in b (a read, or a datagram).
func count400(b []byte) uint64 {
	return uint64(bytes.Count(b, []byte("SIP/2.0 400 ")))
}

// isCRLFOnly reports a keepalive, which a server ignores on UDP.
func isCRLFOnly(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return len(b) > 0
}

type udpFlood struct {
	conn *net.UDPConn
	gen  *mutate.Generator
	rate int
	sum  *Summary
}

func newUDPFlood(cfg config, seeds [][]byte, sum *Summary) (*udpFlood, error) {
	raddr, err := net.ResolveUDPAddr("udp", cfg.target)
	if err != nil {
		return nil, fmt.Errorf("-target: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	gen, err := mutate.New(cfg.seed, seeds)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &udpFlood{conn: conn, gen: gen, rate: cfg.udpRate, sum: sum}, nil
}

// run sends until ctx ends, reads answers until settle later, and closes
// the socket.
func (u *udpFlood) run(ctx context.Context, settle time.Duration) error {
	var readers sync.WaitGroup
	readers.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, err := u.conn.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue // ICMP port unreachable and the like
			}
			atomic.AddUint64(&u.sum.UDP400, count400(buf[:n]))
		}
	})
	kinds := map[mutate.Kind]uint64{}
	pace(ctx, u.rate, func() {
		m, k := u.gen.Next()
		kinds[k]++
		if _, err := u.conn.Write(m); err != nil {
			atomic.AddUint64(&u.sum.UDPSendErrors, 1)
			return
		}
		atomic.AddUint64(&u.sum.UDPSent, 1)
		switch {
		case isCRLFOnly(m):
			atomic.AddUint64(&u.sum.UDPKeepalive, 1)
		default:
			if _, err := sip.Parse(m); err != nil {
				atomic.AddUint64(&u.sum.UDPMalformed, 1)
			}
		}
	})
	u.sum.addKinds(kinds)
	time.Sleep(settle)
	u.conn.Close()
	readers.Wait()
	return nil
}

// tcpFlood keeps cfg.conns connections open, each writing a mutant for
// every token the pacer hands out; a connection the server closes is
// opened again.
func tcpFlood(ctx context.Context, cfg config, seeds [][]byte, sum *Summary) error {
	tokens := make(chan struct{}, cfg.conns)
	var wg sync.WaitGroup
	for i := range cfg.conns {
		gen, err := mutate.New(cfg.seed+1+uint64(i), seeds)
		if err != nil {
			return err
		}
		wg.Go(func() { tcpConn(ctx, cfg, gen, tokens, sum) })
	}
	pace(ctx, cfg.tcpRate, func() {
		select {
		case tokens <- struct{}{}:
		default:
			atomic.AddUint64(&sum.TCPBehind, 1)
		}
	})
	wg.Wait()
	time.Sleep(cfg.settle)
	return nil
}

// tcpConn is one flooding connection, reopened whenever the server closes
// it, until ctx ends.
func tcpConn(ctx context.Context, cfg config, gen *mutate.Generator, tokens <-chan struct{}, sum *Summary) {
	kinds := map[mutate.Kind]uint64{}
	defer sum.addKinds(kinds)
	d := net.Dialer{Timeout: cfg.dialTimout}
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", cfg.target)
		if err != nil {
			if ctx.Err() == nil {
				atomic.AddUint64(&sum.TCPDialErrors, 1)
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		atomic.AddUint64(&sum.TCPConns, 1)
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			buf := make([]byte, 16384)
			for {
				n, err := conn.Read(buf)
				atomic.AddUint64(&sum.TCP400, count400(buf[:n]))
				if err != nil {
					return
				}
			}
		}()
		byServer := false
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-closed:
				byServer = true
				break loop
			case <-tokens:
				m, k := gen.Next()
				kinds[k]++
				_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write(m); err != nil {
					<-closed // the reader sees the end too
					byServer = true
					break loop
				}
				atomic.AddUint64(&sum.TCPSent, 1)
			}
		}
		if byServer {
			atomic.AddUint64(&sum.TCPClosedByServer, 1)
		}
		conn.Close()
		<-closed
	}
}

// slowRequest is what a slowloris connection sends, one byte at a time.
const slowRequest = "OPTIONS sip:flood@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slowloris\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: <sip:flood@127.0.0.1>\r\n" +
	"From: <sip:slow@127.0.0.1>;tag=slow\r\n" +
	"Call-ID: slowloris@127.0.0.1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"X-Padding: " + "slowslowslowslowslowslowslowslowslowslowslowslowslowslowslowslow" +
	"slowslowslowslowslowslowslowslowslowslowslowslowslowslowslowslowslowslow\r\n"

// slowloris opens cfg.slowloris connections that each send one byte every
// cfg.slowEvery (never the end of the header) until ctx ends or the
// server closes them.
func slowloris(ctx context.Context, cfg config, sum *Summary) error {
	var wg sync.WaitGroup
	for range cfg.slowloris {
		wg.Go(func() {
			d := net.Dialer{Timeout: cfg.dialTimout}
			conn, err := d.DialContext(ctx, "tcp", cfg.target)
			if err != nil {
				atomic.AddUint64(&sum.TCPDialErrors, 1)
				return
			}
			defer conn.Close()
			atomic.AddUint64(&sum.Slowloris, 1)
			t := time.NewTicker(cfg.slowEvery)
			defer t.Stop()
			for i := 0; ; i = (i + 1) % len(slowRequest) {
				_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write([]byte{slowRequest[i]}); err != nil {
					atomic.AddUint64(&sum.SlowlorisClosed, 1)
					return
				}
				atomic.AddUint64(&sum.SlowlorisBytes, 1)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// bigBody announces a 100 MB body on one TCP connection and sends it as
// fast as the server reads, until the server closes the connection or ctx
// ends.
func bigBody(ctx context.Context, cfg config, sum *Summary) error {
	d := net.Dialer{Timeout: cfg.dialTimout}
	conn, err := d.DialContext(ctx, "tcp", cfg.target)
	if err != nil {
		return fmt.Errorf("big body: %w", err)
	}
	defer conn.Close()
	head := "MESSAGE sip:flood@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-bigbody\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:flood@127.0.0.1>\r\n" +
		"From: <sip:big@127.0.0.1>;tag=big\r\n" +
		"Call-ID: bigbody@127.0.0.1\r\n" +
		"CSeq: 1 MESSAGE\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Length: " + strconv.Itoa(mutate.HugeBody) + "\r\n\r\n"
	type end struct{ got400, closed bool }
	ended := make(chan end, 1)
	go func() {
		buf := make([]byte, 4096)
		var all []byte
		for {
			n, err := conn.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				var ne net.Error
				ended <- end{got400: count400(all) > 0, closed: !errors.As(err, &ne) || !ne.Timeout()}
				return
			}
		}
	}()
	finish := func() error {
		e := <-ended
		sum.BigBody400, sum.BigBodyClosed = e.got400, e.closed
		return nil
	}
	if _, err := conn.Write([]byte(head)); err != nil {
		return finish()
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for sent := 0; sent < mutate.HugeBody && ctx.Err() == nil; {
		_ = conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := conn.Write(chunk[:min(len(chunk), mutate.HugeBody-sent)])
		sent += n
		atomic.AddUint64(&sum.BigBodyBytes, uint64(n))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // the server is not reading: still open
			}
			break // closed by the server
		}
	}
	// The reader ends with the server's close, or after settle.
	_ = conn.SetReadDeadline(time.Now().Add(cfg.settle))
	return finish()
}
