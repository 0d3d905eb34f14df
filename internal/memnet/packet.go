package memnet

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// PacketConn is a datagram socket on a [Network]. It implements
// [net.PacketConn] and [net.Conn] (like *net.UDPConn); addresses are
// *net.UDPAddr. It is safe for concurrent use.
//
// A datagram handed to WriteTo is copied; each datagram read is copied into
// the caller's buffer and silently truncated if it does not fit, as with a
// real UDP socket.
type PacketConn struct {
	n     *Network
	net   string
	laddr netip.AddrPort
	raddr netip.AddrPort // valid when connected by DialContext
	max   int

	mu     sync.Mutex
	queue  []datagram
	head   int
	closed bool

	notify chan struct{} // one slot: a datagram was queued
	done   chan struct{} // closed by Close
	rd, wd *deadline
}

type datagram struct {
	b   []byte // never modified after send; duplicates share it
	src netip.AddrPort
}

type enqueueResult uint8

const (
	enqueued enqueueResult = iota
	queueFull
	rejected // closed, or connected to another peer
)

// enqueue is called by the network with n.mu held.
func (c *PacketConn) enqueue(d datagram) enqueueResult {
	if c.raddr.IsValid() && d.src != c.raddr {
		return rejected
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return rejected
	}
	if len(c.queue)-c.head >= c.max {
		return queueFull
	}
	c.queue = append(c.queue, d)
	signal(c.notify)
	return enqueued
}

// LocalAddr returns the bound address as a *net.UDPAddr.
func (c *PacketConn) LocalAddr() net.Addr { return udpAddr(c.laddr) }

// RemoteAddr returns the peer of a connected socket as a *net.UDPAddr, and
// nil for a socket made by ListenPacket.
func (c *PacketConn) RemoteAddr() net.Addr { return netAddr(protoUDP, c.raddr) }

func (c *PacketConn) opErr(op string, addr netip.AddrPort, err error) error {
	if !addr.IsValid() {
		addr = c.raddr
	}
	return opErr(op, c.net, c.LocalAddr(), netAddr(protoUDP, addr), err)
}

// ReadFromUDPAddrPort reads one datagram into b and returns its size and
// source. It blocks until a datagram arrives, the read deadline passes
// (os.ErrDeadlineExceeded) or the socket is closed (net.ErrClosed).
func (c *PacketConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		if isClosed(c.done) {
			return 0, netip.AddrPort{}, c.opErr("read", netip.AddrPort{}, net.ErrClosed)
		}
		if c.rd.passed() {
			return 0, netip.AddrPort{}, c.opErr("read", netip.AddrPort{}, os.ErrDeadlineExceeded)
		}
		c.mu.Lock()
		if c.head < len(c.queue) {
			d := c.queue[c.head]
			c.queue[c.head] = datagram{}
			c.head++
			if c.head == len(c.queue) {
				c.queue, c.head = c.queue[:0], 0
			} else if c.head > 64 && c.head*2 > len(c.queue) {
				c.queue = c.queue[:copy(c.queue, c.queue[c.head:])]
				c.head = 0
			}
			if c.head < len(c.queue) {
				signal(c.notify) // wake the next reader
			}
			c.mu.Unlock()
			return copy(b, d.b), d.src, nil
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.done:
		case <-c.rd.wait():
		}
	}
}

// ReadFrom implements [net.PacketConn]; the address is a *net.UDPAddr.
func (c *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, src, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, udpAddr(src), nil
}

// Read implements [net.Conn]: it reads the next datagram.
func (c *PacketConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, err
}

// WriteToUDPAddrPort sends b to dst. Like UDP it does not block and does not
// report loss: a datagram the network drops still counts as written. It
// fails on a closed socket, after the write deadline, on a connected socket
// (net.ErrWriteToConnected), and when dst's family differs from the
// socket's.
func (c *PacketConn) WriteToUDPAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	if c.raddr.IsValid() {
		return 0, c.opErr("write", dst, net.ErrWriteToConnected)
	}
	return c.write(b, normalize(dst))
}

func (c *PacketConn) write(b []byte, dst netip.AddrPort) (int, error) {
	if isClosed(c.done) {
		return 0, c.opErr("write", dst, net.ErrClosed)
	}
	if c.wd.passed() {
		return 0, c.opErr("write", dst, os.ErrDeadlineExceeded)
	}
	c.n.mu.Lock()
	err := c.n.sendDatagram(c, dst, b)
	c.n.mu.Unlock()
	if err != nil {
		return 0, c.opErr("write", dst, err)
	}
	return len(b), nil
}

// WriteTo implements [net.PacketConn]. addr is normally a *net.UDPAddr;
// any net.Addr whose String is "ip:port" is accepted.
func (c *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	dst, err := addrPortOf(addr)
	if err != nil {
		return 0, c.opErr("write", netip.AddrPort{}, err)
	}
	return c.WriteToUDPAddrPort(b, dst)
}

// Write implements [net.Conn]: it sends b to the connected peer, and fails
// with syscall.EDESTADDRREQ on a socket that is not connected.
func (c *PacketConn) Write(b []byte) (int, error) {
	if !c.raddr.IsValid() {
		return 0, c.opErr("write", netip.AddrPort{}, errno("write", syscall.EDESTADDRREQ))
	}
	return c.write(b, c.raddr)
}

// Close closes the socket, unblocks readers with net.ErrClosed, drops queued
// datagrams and frees the address. Closing twice returns net.ErrClosed.
func (c *PacketConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", netip.AddrPort{}, net.ErrClosed)
	}
	c.closed = true
	c.queue, c.head = nil, 0
	close(c.done)
	c.mu.Unlock()
	c.rd.stop()
	c.wd.stop()
	c.n.mu.Lock()
	c.n.unbindUDP(c)
	c.n.mu.Unlock()
	return nil
}

// SetDeadline sets the read and write deadlines; the zero time clears them.
func (c *PacketConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for pending and future reads; the zero
// time clears it.
func (c *PacketConn) SetReadDeadline(t time.Time) error {
	if isClosed(c.done) {
		return c.opErr("set", netip.AddrPort{}, net.ErrClosed)
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for future writes; the zero time clears
// it. Datagram writes never block, so only a deadline already passed has an
// effect.
func (c *PacketConn) SetWriteDeadline(t time.Time) error {
	if isClosed(c.done) {
		return c.opErr("set", netip.AddrPort{}, net.ErrClosed)
	}
	c.wd.set(t)
	return nil
}
