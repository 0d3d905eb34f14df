package memnet

import (
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Listener is a stream listener on a [Network]. It implements
// [net.Listener]; Addr is a *net.TCPAddr. It is safe for concurrent use.
type Listener struct {
	n    *Network
	net  string
	addr netip.AddrPort

	mu      sync.Mutex
	backlog []*Conn
	closed  bool

	notify chan struct{}
	done   chan struct{}
}

// Accept waits for the next dialed connection and returns it as a *[Conn].
// After Close it returns net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, opErr("accept", l.net, nil, l.Addr(), net.ErrClosed)
		}
		if len(l.backlog) > 0 {
			c := l.backlog[0]
			l.backlog = slices.Delete(l.backlog, 0, 1)
			if len(l.backlog) > 0 {
				signal(l.notify)
			}
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.notify:
		case <-l.done:
		}
	}
}

// Close stops listening, unblocks Accept, and closes connections that were
// dialed but not yet accepted (their dialers read EOF). Closing twice
// returns net.ErrClosed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return opErr("close", l.net, nil, l.Addr(), net.ErrClosed)
	}
	l.closed = true
	close(l.done)
	pending := l.backlog
	l.backlog = nil
	l.mu.Unlock()

	l.n.mu.Lock()
	port := l.addr.Port()
	l.n.listeners[port] = slices.DeleteFunc(l.n.listeners[port], func(x *Listener) bool { return x == l })
	if len(l.n.listeners[port]) == 0 {
		delete(l.n.listeners, port)
	}
	l.n.mu.Unlock()
	for _, c := range pending {
		c.Close()
	}
	return nil
}

// Addr returns the bound address as a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return tcpAddr(l.addr) }

// offer queues a dialed connection. n.mu is held.
func (l *Listener) offer(c *Conn, backlog int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.backlog) >= backlog {
		return false
	}
	l.backlog = append(l.backlog, c)
	signal(l.notify)
	return true
}

// lookupListener returns the listener for dst. n.mu is held.
func (n *Network) lookupListener(dst netip.AddrPort) *Listener {
	var wild *Listener
	for _, l := range n.listeners[dst.Port()] {
		if l.addr.Addr() == dst.Addr() {
			return l
		}
		if covers(l.addr.Addr(), dst.Addr()) && (wild == nil || wild.addr.Addr().Is6()) {
			wild = l
		}
	}
	return wild
}

// dialStream connects src (ephemeral port) to a listener at dst.
func (n *Network) dialStream(network string, src netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, opErr("dial", network, nil, tcpAddr(dst), net.ErrClosed)
	}
	refused := func() error {
		n.stats.Refused++
		return opErr("dial", network, nil, tcpAddr(dst), errno("connect", syscall.ECONNREFUSED))
	}
	var l *Listener
	if n.natByPublic(dst.Addr()) == nil {
		l = n.lookupListener(dst)
	}
	if l == nil {
		return nil, refused()
	}
	port, err := n.ephemeral(protoTCP, src)
	if err != nil {
		return nil, opErr("dial", network, nil, tcpAddr(dst), err)
	}
	local := netip.AddrPortFrom(src, port)
	var refs []natRef
	wireSrc, ok := n.natOutbound(protoTCP, local, dst, time.Now(), &refs)
	if !ok {
		releaseNAT(refs)
		return nil, opErr("dial", network, nil, tcpAddr(dst), ErrNoPorts)
	}
	up := newPipe(n.cfg.StreamBuffer)   // dialer → listener
	down := newPipe(n.cfg.StreamBuffer) // listener → dialer
	client := newConn(n, network, local, dst, down, up)
	server := newConn(n, l.net, dst, wireSrc, up, down)
	if !l.offer(server, n.cfg.Backlog) {
		releaseNAT(refs)
		return nil, refused()
	}
	n.tcpLocal[local]++
	client.release = func() {
		if n.tcpLocal[local]--; n.tcpLocal[local] <= 0 {
			delete(n.tcpLocal, local)
		}
		releaseNAT(refs)
	}
	n.conns[client] = struct{}{}
	n.conns[server] = struct{}{}
	n.stats.Dials++
	return client, nil
}

// pipe is one direction of a stream connection: bytes with the time they
// become readable, bounded by a window.
type pipe struct {
	mu      sync.Mutex
	chunks  []chunk
	pending int // bytes written and not yet read, in flight or queued
	window  int
	lastAt  time.Time // arrival time of the last chunk; arrivals never go back
	fin     bool      // the writer sends no more
	finAt   time.Time // when the reader sees EOF
	rclosed bool      // the reader is gone: data is dropped, writes fail
	// reset: the reader's side has answered with a reset, as TCP does when
	// it closes with data unread or gets data after its close; until then
	// one Write after the close succeeds (its bytes are dropped).
	reset bool

	readable chan struct{} // one slot: data, EOF or reader shutdown
	writable chan struct{} // one slot: window space or reader gone
}

type chunk struct {
	b  []byte
	at time.Time
}

func newPipe(window int) *pipe {
	return &pipe{window: window, readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

// Conn is one end of a stream connection on a [Network]: a buffered,
// full-duplex byte stream like TCP. It implements [net.Conn] and has
// CloseRead and CloseWrite like *net.TCPConn; addresses are *net.TCPAddr.
// Bytes arrive Latency after they are written; Loss and the other datagram
// conditions do not apply. A Write returns once its bytes are buffered,
// blocking while the peer has StreamBuffer bytes unread. Concurrent Writes
// do not interleave. It is safe for concurrent use.
type Conn struct {
	n            *Network
	net          string
	laddr, raddr netip.AddrPort
	rx, tx       *pipe

	wsem chan struct{} // one slot: serializes Write
	mu   sync.Mutex
	done chan struct{} // closed by Close
	rd   *deadline
	wd   *deadline

	release func() // frees the dialer's port and NAT mappings; n.mu held
}

func newConn(n *Network, network string, laddr, raddr netip.AddrPort, rx, tx *pipe) *Conn {
	return &Conn{
		n:     n,
		net:   network,
		laddr: laddr,
		raddr: raddr,
		rx:    rx,
		tx:    tx,
		wsem:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		rd:    newDeadline(),
		wd:    newDeadline(),
	}
}

func (c *Conn) opErr(op string, err error) error {
	return opErr(op, c.net, c.LocalAddr(), c.RemoteAddr(), err)
}

// LocalAddr returns the local address as a *net.TCPAddr.
func (c *Conn) LocalAddr() net.Addr { return tcpAddr(c.laddr) }

// RemoteAddr returns the peer's address as a *net.TCPAddr; behind a NAT it is
// the NAT's public address and port.
func (c *Conn) RemoteAddr() net.Addr { return tcpAddr(c.raddr) }

// latency returns the one-way latency of bytes this end writes.
func (c *Conn) latency() time.Duration { return c.n.latency(c.laddr.Addr(), c.raddr.Addr()) }

// shut reports whether this end or the whole network is closed: then
// reads and writes fail with net.ErrClosed rather than with what the
// peer's close would give (EOF, ECONNRESET), whichever end Network.Close
// reached first.
func (c *Conn) shut() bool { return isClosed(c.done) || c.n.down.Load() }

// Read reads available bytes. It returns io.EOF once the peer has closed or
// called CloseWrite and everything before that was read, and after this
// end's CloseRead; net.ErrClosed once this end or the whole network is
// closed.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		if c.shut() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if c.rd.passed() {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		now := time.Now()
		p := c.rx
		p.mu.Lock()
		if p.rclosed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		n := 0
		for n < len(b) && len(p.chunks) > 0 && !p.chunks[0].at.After(now) {
			k := copy(b[n:], p.chunks[0].b)
			n += k
			if k == len(p.chunks[0].b) {
				p.chunks[0] = chunk{}
				p.chunks = p.chunks[1:]
			} else {
				p.chunks[0].b = p.chunks[0].b[k:]
			}
		}
		if n > 0 {
			p.pending -= n
			signal(p.writable)
			if len(p.chunks) > 0 && !p.chunks[0].at.After(now) {
				signal(p.readable) // more for another reader
			}
			p.mu.Unlock()
			return n, nil
		}
		var wake time.Time
		switch {
		case len(p.chunks) > 0:
			wake = p.chunks[0].at
		case p.fin && !p.finAt.After(now):
			p.mu.Unlock()
			return 0, io.EOF
		case p.fin:
			wake = p.finAt
		}
		p.mu.Unlock()

		var timer *time.Timer
		var tc <-chan time.Time
		if !wake.IsZero() {
			timer = time.NewTimer(wake.Sub(now))
			tc = timer.C
		}
		select {
		case <-p.readable:
		case <-c.done:
		case <-c.rd.wait():
		case <-tc:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Write writes b, blocking while the peer's window is full. On a deadline it
// returns the bytes written so far with os.ErrDeadlineExceeded. It fails
// with syscall.EPIPE after CloseWrite and syscall.ECONNRESET once the peer
// has closed or called CloseRead: at once when the peer left data unread,
// else from the second Write on (the first one's bytes are dropped, as a
// TCP peer's reset answers them).
func (c *Conn) Write(b []byte) (int, error) {
	if c.shut() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	if c.wd.passed() {
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	select {
	case c.wsem <- struct{}{}:
	case <-c.done:
		return 0, c.opErr("write", net.ErrClosed)
	case <-c.wd.wait():
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	defer func() { <-c.wsem }()
	lat := c.latency()
	written := 0
	for {
		if c.shut() {
			return written, c.opErr("write", net.ErrClosed)
		}
		if c.wd.passed() {
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		p := c.tx
		p.mu.Lock()
		switch {
		case p.fin:
			p.mu.Unlock()
			return written, c.opErr("write", errno("write", syscall.EPIPE))
		case p.rclosed && !p.reset:
			// As over TCP: the first write after the peer's orderly close
			// succeeds, and the reset it provokes fails the next one.
			p.reset = true
			p.mu.Unlock()
			return written + len(b), nil
		case p.rclosed:
			p.mu.Unlock()
			return written, c.opErr("write", errno("write", syscall.ECONNRESET))
		case len(b) == 0:
			p.mu.Unlock()
			return written, nil
		}
		if avail := p.window - p.pending; avail > 0 {
			k := min(avail, len(b))
			at := time.Now().Add(lat)
			if at.Before(p.lastAt) {
				at = p.lastAt
			}
			p.lastAt = at
			p.chunks = append(p.chunks, chunk{b: append([]byte(nil), b[:k]...), at: at})
			p.pending += k
			written += k
			b = b[k:]
			signal(p.readable)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		select {
		case <-p.writable:
		case <-c.done:
		case <-c.wd.wait():
		}
	}
}

// finish marks the write direction finished: the peer reads EOF after the
// bytes already written.
func (c *Conn) finish() {
	lat := c.latency()
	p := c.tx
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fin {
		return
	}
	p.fin = true
	p.finAt = time.Now().Add(lat)
	if p.finAt.Before(p.lastAt) {
		p.finAt = p.lastAt
	}
	signal(p.readable)
}

// stopReading drops unread bytes; the peer's writes fail from now on.
func (c *Conn) stopReading() {
	p := c.rx
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rclosed = true
	p.reset = p.pending > 0 // unread data: TCP resets at once
	p.chunks = nil
	p.pending = 0
	signal(p.writable)
	signal(p.readable)
}

// CloseWrite shuts down the write side: the peer reads EOF after the bytes
// already written, and later Writes fail with syscall.EPIPE.
func (c *Conn) CloseWrite() error {
	if isClosed(c.done) {
		return c.opErr("close", net.ErrClosed)
	}
	c.finish()
	return nil
}

// CloseRead shuts down the read side: Read returns io.EOF, unread bytes are
// dropped, and the peer's Writes fail with syscall.ECONNRESET.
func (c *Conn) CloseRead() error {
	if isClosed(c.done) {
		return c.opErr("close", net.ErrClosed)
	}
	c.stopReading()
	return nil
}

// Close closes the connection: pending Reads and Writes return
// net.ErrClosed, the peer reads the bytes already written and then io.EOF,
// and the peer's further Writes fail with syscall.ECONNRESET. Closing twice
// returns net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if isClosed(c.done) {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	close(c.done)
	c.mu.Unlock()
	c.rd.stop()
	c.wd.stop()
	c.finish()
	c.stopReading()
	c.n.mu.Lock()
	delete(c.n.conns, c)
	if c.release != nil {
		c.release()
		c.release = nil
	}
	c.n.mu.Unlock()
	return nil
}

// SetDeadline sets the read and write deadlines; the zero time clears them.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for pending and future Reads.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if isClosed(c.done) {
		return c.opErr("set", net.ErrClosed)
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for pending and future Writes.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if isClosed(c.done) {
		return c.opErr("set", net.ErrClosed)
	}
	c.wd.set(t)
	return nil
}
