//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/dialtone/dialtone/rtp/dtmf"

	pionrtp "github.com/pion/rtp"
	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
)

// Receive settings of the Linux sockets.
const (
	// recvBatch is how many datagrams one recvmmsg call reads.
	recvBatch = 8
	// recvMaxBatches bounds the recvmmsg calls per socket and tick, so that
	// a flood aimed at one session cannot hold up the others: what is left
	// waits for the next tick (or is dropped by the kernel when the socket
	// buffer fills).
	recvMaxBatches = 4
	// rtcpPollInterval is how often a separate RTCP socket is read; RTCP
	// comes every few seconds and carries its arrival time with it.
	rtcpPollInterval = 100 * time.Millisecond
	// maxArrivalAge bounds the age of a kernel receive timestamp; an older
	// or future one (the wall clock stepped) is replaced by the read time.
	maxArrivalAge = time.Second
)

// rawSocket is a UDP socket outside the Go runtime's network poller: it is
// blocking, never waited on, and read and written with MSG_DONTWAIT by the
// engine worker that owns its session, so a datagram's arrival wakes
// nobody. The kernel stamps each datagram with its arrival time
// (SO_TIMESTAMPNS), which the jitter estimate and RTCP round-trip times use.
type rawSocket struct {
	fd    int
	local netip.AddrPort
}

// sockets are the sockets of one session: RTP, and RTCP unless muxed.
type sockets struct {
	rtp, rtcp *rawSocket
	port      int
	alloc     *PortAllocator
	closed    bool
	nextRTCP  time.Time // next read of the RTCP socket; owned by the worker
}

// openSockets binds the sockets of a session from alloc.
func openSockets(ctx context.Context, alloc *PortAllocator, addr netip.Addr, mux bool) (*sockets, error) {
	k, port, err := allocatePorts(ctx, alloc, addr, mux, bindRawPorts)
	if err != nil {
		return nil, err
	}
	k.port, k.alloc = port, alloc
	return k, nil
}

func bindRawPorts(addr netip.Addr, port int, mux bool) (*sockets, error) {
	r, err := bindRaw(addr, port)
	if err != nil {
		return nil, err
	}
	k := &sockets{rtp: r}
	if !mux {
		if k.rtcp, err = bindRaw(addr, port+1); err != nil {
			_ = syscall.Close(r.fd)
			return nil, err
		}
	}
	return k, nil
}

func bindRaw(addr netip.Addr, port int) (*rawSocket, error) {
	var family int
	var sa syscall.Sockaddr
	if addr.Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		sa6 := &syscall.SockaddrInet6{Port: port, Addr: addr.As16()}
		if z := addr.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		family, sa = syscall.AF_INET6, sa6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (*rawSocket, error) {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError(call, err)
	}
	if family == syscall.AF_INET6 {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	return &rawSocket{fd: fd, local: netip.AddrPortFrom(addr, uint16(port))}, nil
}

func (k *sockets) localAddr(rtcp bool) netip.AddrPort {
	if rtcp && k.rtcp != nil {
		return k.rtcp.local
	}
	return k.rtp.local
}

func (k *sockets) hasRTCP() bool { return k.rtcp != nil }

// start does nothing: the engine worker reads the sockets at each tick.
func (k *sockets) start(*Session) {}

// send writes one datagram to to, from the RTCP socket when rtcp is set
// and there is one. Only the session's worker, and Close once the session
// left it, send.
func (k *sockets) send(b []byte, to netip.AddrPort, rtcp bool) error {
	var sa unix.RawSockaddrInet6
	fd, salen, err := k.dest(to, rtcp, &sa)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	// RawSyscall: the call does not wait (MSG_DONTWAIT), so the scheduler
	// need not know about it, and the worker keeps its P rather than have
	// the runtime hand it to another thread mid-batch.
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(salen))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// dest picks the socket that sends a datagram to to (the RTCP socket when
// rtcp is set and there is one) and writes to into sa as that socket's
// family needs it. It returns the socket, the address's length, and
// net.ErrClosed once the sockets are closed.
func (k *sockets) dest(to netip.AddrPort, rtcp bool, sa *unix.RawSockaddrInet6) (fd int, salen uint32, err error) {
	r := k.rtp
	if rtcp && k.rtcp != nil {
		r = k.rtcp
	}
	if k.closed {
		return -1, 0, net.ErrClosed
	}
	return r.fd, sockaddr.Put(sa, to, r.local.Addr().Is6()), nil
}

// close closes the sockets and releases the ports. The session has left
// its worker, so nothing reads them any more.
func (k *sockets) close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	err := syscall.Close(k.rtp.fd)
	if k.rtcp != nil {
		if e := syscall.Close(k.rtcp.fd); err == nil {
			err = e
		}
	}
	k.alloc.release(k.port)
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
}

// recvScratch is a worker's receive memory, shared by the sessions it
// drives: one recvmmsg batch and the parsing scratch.
type recvScratch struct {
	hdrs   [recvBatch]mmsghdr
	iovs   [recvBatch]syscall.Iovec
	names  [recvBatch]unix.RawSockaddrInet6
	oob    [recvBatch][8]uint64 // control messages, 8-byte aligned
	bufs   [recvBatch][maxDatagram]byte
	h      pionrtp.Header
	digits []dtmf.Digit
}

// read reads up to recvBatch datagrams from fd without waiting.
func (sc *recvScratch) read(fd int) (int, syscall.Errno) {
	for i := range sc.hdrs {
		m := &sc.hdrs[i]
		sc.iovs[i].Base = &sc.bufs[i][0]
		sc.iovs[i].SetLen(maxDatagram)
		m.hdr = syscall.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&sc.names[i])),
			Namelen: unix.SizeofSockaddrInet6,
			Iov:     &sc.iovs[i],
			Control: (*byte)(unsafe.Pointer(&sc.oob[i][0])),
		}
		m.hdr.Iovlen = 1
		m.hdr.SetControllen(len(sc.oob[i]) * 8)
		m.n = 0
	}
	for { // RawSyscall: it does not wait either (see send)
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&sc.hdrs[0])),
			recvBatch, syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), 0
	}
}

// from returns the source address of datagram i.
func (sc *recvScratch) from(i int) netip.AddrPort { return sockaddr.Get(&sc.names[i]) }

// stamp returns the kernel's receive time of datagram i in Unix
// nanoseconds (SCM_TIMESTAMPNS), or false.
func (sc *recvScratch) stamp(i int) (int64, bool) {
	n := int(sc.hdrs[i].hdr.Controllen)
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&sc.oob[i][0])), len(sc.oob[i])*8)[:min(n, len(sc.oob[i])*8)]
	hdrLen := syscall.CmsgLen(0)
	for len(oob) >= hdrLen {
		c := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(c.Len)
		if l < hdrLen || l > len(oob) {
			return 0, false
		}
		if c.Level == syscall.SOL_SOCKET && c.Type == syscall.SCM_TIMESTAMPNS && l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hdrLen]))
			return ts.Nano(), true
		}
		oob = oob[min(syscall.CmsgSpace(l-hdrLen), len(oob)):]
	}
	return 0, false
}

// receive handles what arrived on the session's sockets since its last
// tick; the worker calls it at each tick, before the tick itself.
func (k *sockets) receive(s *Session, sc *recvScratch, now time.Time) {
	k.drain(s, sc, k.rtp, false, now)
	if k.rtcp != nil && !now.Before(k.nextRTCP) {
		k.nextRTCP = now.Add(rtcpPollInterval)
		k.drain(s, sc, k.rtcp, true, now)
	}
}

func (k *sockets) drain(s *Session, sc *recvScratch, r *rawSocket, rtcpOnly bool, now time.Time) {
	wall := now.UnixNano()
	for range recvMaxBatches {
		n, e := sc.read(r.fd)
		if e != 0 {
			if e != syscall.EAGAIN {
				s.readErrors.Add(1)
			}
			return
		}
		for i := range n {
			arrival := now
			if ts, ok := sc.stamp(i); ok {
				if age := time.Duration(wall - ts); age >= 0 && age <= maxArrivalAge {
					arrival = now.Add(-age)
				}
			}
			pkt := sc.bufs[i][:min(int(sc.hdrs[i].n), maxDatagram)]
			from := sc.from(i)
			s.traceIn(arrival, rtcpOnly, from, pkt)
			if rtcpOnly || isRTCP(pkt) {
				s.handleRTCP(pkt, from, arrival)
				continue
			}
			sc.digits = s.handleRTP(&sc.h, pkt, from, arrival, sc.digits[:0])
			s.deliverDTMF(sc.digits)
		}
		if n < recvBatch {
			return
		}
	}
}
