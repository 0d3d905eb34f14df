//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtpsock

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

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

// Pair is the sockets of one session: RTP, and RTCP unless muxed.
type Pair struct {
	rtp, rtcp *rawSocket
	closed    bool
	nextRTCP  time.Time // next read of the RTCP socket; owned by the reader
}

// Bind binds the RTP socket to addr:port and, without mux, the RTCP
// socket to port+1. A port another program holds gives an error wrapping
// syscall.EADDRINUSE.
func Bind(addr netip.Addr, port int, mux bool) (*Pair, error) {
	r, err := bindRaw(addr, port)
	if err != nil {
		return nil, err
	}
	k := &Pair{rtp: r}
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

// LocalAddr is the RTP socket's address, or the RTCP one's when rtcp is
// set and there is one.
func (k *Pair) LocalAddr(rtcp bool) netip.AddrPort {
	if rtcp && k.rtcp != nil {
		return k.rtcp.local
	}
	return k.rtp.local
}

// HasRTCP reports whether RTCP has a socket of its own.
func (k *Pair) HasRTCP() bool { return k.rtcp != nil }

// Start does nothing: the owner reads the sockets with Receive.
func (k *Pair) Start(func() Receiver) {}

// Send writes one datagram to to, from the RTCP socket when rtcp is set
// and there is one, without waiting. The caller serializes Send, Dest,
// Receive and Close.
func (k *Pair) Send(b []byte, to netip.AddrPort, rtcp bool) error {
	var sa unix.RawSockaddrInet6
	fd, salen, err := k.Dest(to, rtcp, &sa)
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

// Dest picks the socket that sends a datagram to to (the RTCP socket when
// rtcp is set and there is one) and writes to into sa as that socket's
// family needs it. It returns the socket, the address's length, and
// net.ErrClosed once the sockets are closed.
func (k *Pair) Dest(to netip.AddrPort, rtcp bool, sa *unix.RawSockaddrInet6) (fd int, salen uint32, err error) {
	r := k.rtp
	if rtcp && k.rtcp != nil {
		r = k.rtcp
	}
	if k.closed {
		return -1, 0, net.ErrClosed
	}
	return r.fd, sockaddr.Put(sa, to, r.local.Addr().Is6()), nil
}

// Close closes the sockets; nothing may read them any more. It is
// idempotent.
func (k *Pair) Close() error {
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

// Scratch is a reader's receive memory, shared by the sockets it reads:
// one recvmmsg batch. Its zero value is ready.
type Scratch struct {
	hdrs  [recvBatch]mmsghdr
	iovs  [recvBatch]syscall.Iovec
	names [recvBatch]unix.RawSockaddrInet6
	oob   [recvBatch][8]uint64 // control messages, 8-byte aligned
	bufs  [recvBatch][maxDatagram]byte
}

// read reads up to recvBatch datagrams from fd without waiting.
func (sc *Scratch) read(fd int) (int, syscall.Errno) {
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
func (sc *Scratch) from(i int) netip.AddrPort { return sockaddr.Get(&sc.names[i]) }

// stamp returns the kernel's receive time of datagram i in Unix
// nanoseconds (SCM_TIMESTAMPNS), or false.
func (sc *Scratch) stamp(i int) (int64, bool) {
	n := int(sc.hdrs[i].hdr.Controllen)
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&sc.oob[i][0])), len(sc.oob[i])*8)
	return stampOf(oob[:min(n, len(oob))])
}

// stampOf finds the kernel's receive time in Unix nanoseconds
// (SCM_TIMESTAMPNS) among the control messages oob, or returns false.
func stampOf(oob []byte) (int64, bool) {
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

// arrival is the arrival time of a datagram read at now (wall: now in Unix
// nanoseconds) that the kernel stamped ts (ok: it did): now, less the
// stamp's age when that is plausible.
func arrival(now time.Time, wall, ts int64, ok bool) time.Time {
	if ok {
		if age := time.Duration(wall - ts); age >= 0 && age <= maxArrivalAge {
			return now.Add(-age)
		}
	}
	return now
}

// Receive hands r what arrived on the sockets since the last call, up to
// recvMaxBatches reads of recvBatch datagrams per socket; the RTCP socket
// is read every rtcpPollInterval. now is the read time, the arrival time
// of a datagram without a usable kernel timestamp.
func (k *Pair) Receive(r Receiver, sc *Scratch, now time.Time) {
	if k.closed {
		return
	}
	k.drain(r, sc, k.rtp, false, now)
	if k.rtcp != nil && !now.Before(k.nextRTCP) {
		k.nextRTCP = now.Add(rtcpPollInterval)
		k.drain(r, sc, k.rtcp, true, now)
	}
}

func (k *Pair) drain(rx Receiver, sc *Scratch, r *rawSocket, rtcpOnly bool, now time.Time) {
	wall := now.UnixNano()
	for range recvMaxBatches {
		n, e := sc.read(r.fd)
		if e != 0 {
			if e != syscall.EAGAIN {
				rx.ReadError()
			}
			return
		}
		for i := range n {
			ts, ok := sc.stamp(i)
			pkt := sc.bufs[i][:min(int(sc.hdrs[i].n), maxDatagram)]
			rx.Datagram(pkt, sc.from(i), arrival(now, wall, ts, ok), rtcpOnly)
		}
		if n < recvBatch {
			return
		}
	}
}
