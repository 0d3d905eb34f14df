//go:build linux

package transport

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
)

// An unconnected UDP socket ignores ICMP errors unless IP_RECVERR (and
// IPV6_RECVERR) is set (ip(7), ipv6(7)). With it, each ICMP error for a
// datagram we sent is queued on the socket's error queue, with the
// datagram's destination, and the socket's pending error is set: the next
// recvmmsg or sendto on the socket fails once with it (ECONNREFUSED for
// port unreachable) and poll reports POLLERR. Whoever gets that error
// drains the queue: the read loop (mmsg_linux.go) or a sender
// (Layer.writeUDP), which then sends again, since its datagram was not
// sent. Nothing is read from the queue while no error is pending, so the
// normal path costs no system call more.

// maxErrQueueDrain bounds the error-queue entries one drain reads (the
// kernel bounds the queue by the socket's receive buffer).
const maxErrQueueDrain = 64

// errQueue reads a UDP socket's error queue. Drains from the read loop
// and from senders are serialized by mu, which guards the buffers.
type errQueue struct {
	rc syscall.RawConn

	mu   sync.Mutex
	hdr  unix.Msghdr
	name unix.RawSockaddrInet6
	iov  unix.Iovec
	buf  [1]byte   // the datagram's payload is not needed (MSG_TRUNC)
	oob  [128]byte // sock_extended_err and the offender's address
}

// enableRecvErr sets IP_RECVERR, and IPV6_RECVERR on an AF_INET6 socket,
// and returns the socket's error queue; nil when that fails.
func enableRecvErr(uc *net.UDPConn) *errQueue {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	if !setRecvErr(rc, 1) {
		return nil
	}
	q := &errQueue{rc: rc}
	q.iov.Base = &q.buf[0]
	q.iov.SetLen(len(q.buf))
	return q
}

// setRecvErr sets the options to on (1) or off (0).
func setRecvErr(rc syscall.RawConn, on int) bool {
	ok := false
	_ = rc.Control(func(fd uintptr) {
		domain, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			return
		}
		if domain == unix.AF_INET6 {
			ok = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_RECVERR, on) == nil
			// For IPv4-mapped destinations of a dual-stack socket.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_RECVERR, on)
			return
		}
		ok = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_RECVERR, on) == nil
	})
	return ok
}

// disable turns the options off again, for read loops that do not drain
// the queue.
func (q *errQueue) disable() {
	if q != nil {
		setRecvErr(q.rc, 0)
	}
}

// drain empties the queue and returns the destinations that answered
// port unreachable, and whether it read any entry.
func (q *errQueue) drain() (dsts []netip.AddrPort, read bool) {
	if q == nil {
		return nil, false
	}
	_ = q.rc.Control(func(fd uintptr) { dsts, read = q.drainFD(fd, nil) })
	return dsts, read
}

// drainFD is drain on a descriptor the caller holds (inside a RawConn
// callback); it appends to out.
func (q *errQueue) drainFD(fd uintptr, out []netip.AddrPort) ([]netip.AddrPort, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	read := false
	for range maxErrQueueDrain {
		q.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&q.name)), Namelen: unix.SizeofSockaddrInet6, Iov: &q.iov, Control: &q.oob[0]}
		q.hdr.SetIovlen(1)
		q.hdr.SetControllen(len(q.oob))
		// Raw: MSG_DONTWAIT, the call cannot block (rawsend_linux.go).
		_, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&q.hdr)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			break // EAGAIN: empty
		}
		read = true
		if portUnreachable(q.oob[:q.hdr.Controllen]) {
			from := sockaddr.Get(&q.name)
			dst := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			if dst.IsValid() && !slices.Contains(out, dst) {
				out = append(out, dst)
			}
		}
	}
	return out, read
}

// portUnreachable reports whether the control messages of an error-queue
// entry hold an ICMP port unreachable (type 3 code 3) or ICMPv6 port
// unreachable (type 1 code 4).
func portUnreachable(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		ip := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		ip6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if (!ip && !ip6) || len(m.Data) < int(unsafe.Sizeof(unix.SockExtendedErr{})) {
			continue
		}
		// struct sock_extended_err: errno (u32), origin, type, code, pad, …
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		switch {
		case origin == unix.SO_EE_ORIGIN_ICMP && typ == 3 && code == 3:
			return true
		case origin == unix.SO_EE_ORIGIN_ICMP6 && typ == 1 && code == 4:
			return true
		}
	}
	return false
}

// icmpErrno reports errnos the kernel sets from ICMP errors
// (icmp_err_convert, icmpv6_err_convert): on a UDP socket with
// IP_RECVERR they mean an entry waits on the error queue.
func icmpErrno(e syscall.Errno) bool {
	switch e {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN,
		unix.ENONET, unix.EMSGSIZE, unix.EPROTO, unix.EACCES:
		return true
	}
	return false
}

// icmpSendError reports whether a failed send may have returned the
// socket's pending ICMP error rather than its own, and whether it surely
// did (ECONNREFUSED never comes from sendto on an unconnected socket
// otherwise).
func icmpSendError(err error) (maybe, surely bool) {
	var e syscall.Errno
	if !errors.As(err, &e) || !icmpErrno(e) {
		return false, false
	}
	return true, e == unix.ECONNREFUSED
}
